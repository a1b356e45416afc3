"""Run Alembic migrations from code (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(url: str, revision: str = "head", *, schema: str | None = None) -> None:
    """Bring the database at ``url`` to ``revision`` (blocking; call before serving).

    ``schema`` (PostgreSQL only) sets the search path, so tests can use a private schema.
    """
    cfg = alembic_config(url)
    if schema:
        cfg.attributes["schema"] = schema
    command.upgrade(cfg, revision)


def upgrade_connection(connection: Connection, url: str, revision: str = "head") -> None:
    cfg = alembic_config(url)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)
