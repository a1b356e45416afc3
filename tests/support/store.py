"""Test stores: a fresh SQLite file, or a private schema in the local PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from voxgate.store.migrate import upgrade

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class TestStore:
    kind: str
    url: str
    schema: str | None


async def _pg(sql: str) -> None:
    engine = create_async_engine(POSTGRES_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@contextmanager
def fresh_store(kind: str, tmp: Path) -> Iterator[TestStore]:
    """A migrated, empty store. PostgreSQL must be running: a test never skips for it."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'voxgate.db'}"
        upgrade(url)
        yield TestStore(kind, url, None)
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg(f'CREATE SCHEMA "{schema}"'))
    try:
        upgrade(POSTGRES_URL, schema=schema)
        yield TestStore(kind, POSTGRES_URL, schema)
    finally:
        asyncio.run(_pg(f'DROP SCHEMA "{schema}" CASCADE'))
