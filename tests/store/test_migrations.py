"""The migrations produce exactly the declared schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.store import fresh_store
from voxgate.store.schema import metadata


def _diff(url: str, schema: str | None) -> tuple[list[Any], set[str]]:
    async def main() -> tuple[list[Any], set[str]]:
        connect_args = {"server_settings": {"search_path": schema}} if schema else {}
        engine = create_async_engine(url, connect_args=connect_args)
        try:
            async with engine.connect() as conn:

                def compare(sync_conn: Any) -> tuple[list[Any], set[str]]:
                    ctx = MigrationContext.configure(
                        sync_conn, opts={"compare_type": True, "compare_server_default": False}
                    )
                    tables = set(inspect(sync_conn).get_table_names())
                    return compare_metadata(ctx, metadata), tables

                return await conn.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_migrations_match_declared_schema(kind: str, tmp_path: Path) -> None:
    with fresh_store(kind, tmp_path) as store:
        diffs, tables = _diff(store.url, store.schema)
    assert diffs == []
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables
