"""One typed Settings object, loaded once at the edge.

Precedence: environment (``VOXGATE_*``) > ``voxgate.toml`` > defaults. A bad value stops
start-up with a message naming the setting. Secrets are ``SecretStr`` and mask themselves.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
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
    media_workers: int | None = Field(
        default=None,
        ge=0,
        le=256,
        description="Engine processes sharing the SIP port; unset: one per core; 0: none.",
    )
    rtp_port_low: int = Field(default=16384, ge=1024, le=65535)
    rtp_port_high: int = Field(default=32767, ge=1024, le=65535)
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
    # webhooks (docs/webhooks.md)
    webhooks_enabled: bool = True
    webhook_max_attempts: int = Field(default=10, ge=1, le=100)
    webhook_backoff_base: float = Field(default=42.0, ge=0)
    webhook_backoff_factor: float = Field(default=2.0, ge=1)
    webhook_backoff_cap: float = Field(default=10800.0, ge=0)
    webhook_backoff_jitter: float = Field(default=0.2, ge=0, lt=1)
    webhook_connect_timeout: float = Field(default=5.0, gt=0)
    webhook_read_timeout: float = Field(default=10.0, gt=0)
    webhook_attempt_deadline: float = Field(default=30.0, gt=0)
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    webhook_concurrency: int = Field(default=64, ge=1, le=4096)
    webhook_per_host: int = Field(default=8, ge=1, le=4096)
    webhook_poll_seconds: float = Field(default=0.5, gt=0)
    webhook_response_cap: int = Field(default=4096, ge=64, le=1_048_576)
    webhook_timezone: str = "UTC"
    # call media, prepared before dialling (docs/media.md, "In the platform")
    prepare_enabled: bool | None = Field(
        default=None, description="Run the media preparer; unset follows dispatcher_enabled."
    )
    prepare_concurrency: int = Field(default=2, ge=1, le=64)
    prepare_poll_seconds: float = Field(default=0.25, gt=0)
    prepare_lease_seconds: float = Field(default=300.0, gt=0)
    prepare_max_attempts: int = Field(default=3, ge=1, le=20)
    prepare_codecs: tuple[Literal["pcmu", "pcma"], ...] = Field(
        default=("pcmu", "pcma"), min_length=1
    )
    tts_prewarm: bool = True
    tts_cache_bytes: int = Field(default=256 * 1024 * 1024, ge=1024 * 1024)
    fetch_allow: tuple[str, ...] = Field(
        default=(),
        description="Networks or host names audio URLs may reach although not public.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return upper

    @field_validator("webhook_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

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

    @field_validator("fetch_allow")
    @classmethod
    def _allow_entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if not entry.strip() or any(c.isspace() for c in entry.strip()):
                raise ValueError(f"{entry!r} is not a network or host name")
        return tuple(e.strip() for e in value)

    @model_validator(mode="after")
    def _rtp_range(self) -> Settings:
        if self.rtp_port_high - self.rtp_port_low < 2 * max(1, self.engine_processes):
            raise ValueError(
                f"rtp_port_low..rtp_port_high ({self.rtp_port_low}..{self.rtp_port_high}) "
                "must hold at least two ports per media worker"
            )
        return self

    @property
    def engine_processes(self) -> int:
        """How many engine processes ``serve`` runs (``media_workers``, else one per core)."""
        if self.media_workers is not None:
            return self.media_workers
        return os.cpu_count() or 1

    @property
    def prepare_on(self) -> bool:
        """Whether this process prepares call media (``prepare_enabled``, else the dispatcher's)."""
        return self.dispatcher_enabled if self.prepare_enabled is None else self.prepare_enabled

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
