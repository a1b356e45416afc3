"""Settings: env over file over defaults, failing fast, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxgate.errors import ConfigurationError
from voxgate.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("VOXGATE_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    s = load_settings()
    assert (s.http_host, s.http_port) == ("127.0.0.1", 8080)
    assert (s.sip_host, s.sip_port) == ("127.0.0.1", 5060)
    assert s.effective_database_url == "sqlite+aiosqlite:///var/voxgate.db"


def test_env_beats_file_beats_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "voxgate.toml").write_text("http_port = 9001\nsip_port = 5070\n")
    monkeypatch.setenv("VOXGATE_HTTP_PORT", "9002")
    s = load_settings()
    assert s.http_port == 9002
    assert s.sip_port == 5070
    other = tmp_path / "other.toml"
    other.write_text('sip_host = "127.0.0.2"\n')
    assert load_settings(other).sip_host == "127.0.0.2"


def test_bad_values_fail_with_the_setting_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXGATE_HTTP_PORT", "eighty")
    with pytest.raises(ConfigurationError, match="VOXGATE_HTTP_PORT"):
        load_settings()
    monkeypatch.delenv("VOXGATE_HTTP_PORT")
    monkeypatch.setenv("VOXGATE_DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigurationError, match="VOXGATE_DATABASE_URL"):
        load_settings()
    monkeypatch.delenv("VOXGATE_DATABASE_URL")
    monkeypatch.setenv("VOXGATE_NO_SUCH_THING", "1")
    load_settings()  # unknown environment variables are ignored …
    with pytest.raises(ConfigurationError, match="NO_SUCH"):
        load_settings(no_such_thing=1)  # … but unknown explicit settings are not


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("http_port = = 3")
    with pytest.raises(ConfigurationError, match="TOML"):
        load_settings(bad)
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXGATE_ADMIN_TOKEN", "very-secret-admin")
    monkeypatch.setenv("VOXGATE_SECRET_KEY", "very-secret-key-123")
    s = load_settings()
    assert "very-secret" not in repr(s)
    assert "very-secret" not in str(s.model_dump())
    assert s.admin_token is not None
    assert s.admin_token.get_secret_value() == "very-secret-admin"
