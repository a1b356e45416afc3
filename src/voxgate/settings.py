"""One typed Settings object, loaded once at the edge.

Precedence: environment (``VOXGATE_*``) > ``voxgate.toml`` > defaults. A bad value stops
start-up with a message naming the setting. Secrets are ``SecretStr`` and mask themselves.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from voxgate.errors import ConfigurationError

DEFAULT_CONFIG_FILE = "voxgate.toml"


class Settings(BaseSettings):
    """voxgate's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="VOXGATE_",
        extra="forbid",
        frozen=True,
        toml_file=DEFAULT_CONFIG_FILE,
    )

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    http_workers: int = Field(default=1, ge=1, le=64)
    sip_host: str = "127.0.0.1"
    sip_port: int = Field(default=5060, ge=0, le=65535)
    data_dir: Path = Path("./var")
    database_url: str | None = None
    admin_token: SecretStr | None = None
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that encrypts stored secrets; generated into data_dir when unset.",
    )
    log_level: str = "INFO"
    public_url: str = "http://127.0.0.1:8080"
    token_cache_seconds: float = Field(default=5.0, ge=0)
    dispatcher_enabled: bool = True

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return upper

    @field_validator("database_url")
    @classmethod
    def _supported_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                f"(got {value.split('://')[0]}://)"
            )
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'voxgate.db').as_posix()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings once; raise ConfigurationError with a readable message on bad input."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        if config_file is not None:
            if not config_file.exists():
                raise ConfigurationError(f"config file {config_file} does not exist")

            class _FileSettings(Settings):
                model_config = SettingsConfigDict(toml_file=str(config_file))

            return _FileSettings(**clean)
        return Settings(**clean)
    except ValidationError as exc:
        problems = "; ".join(
            f"VOXGATE_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file is not valid TOML: {exc}") from None
