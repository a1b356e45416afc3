"""Query plans on PostgreSQL with statistics taken before a burst of rows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Select, Table, insert, text

from tests.support.harness import test_settings as settings_for
from tests.support.store import fresh_store
from voxgate.api.services import Services

Rows = Callable[[str, int, int], Sequence[dict[str, Any]]]


def plan_after_a_burst(
    tmp_path: Path, table: Table, quiet: Rows, burst: Rows, query: Select[Any] | Sequence[str]
) -> str:
    """EXPLAIN of ``query`` after ``quiet(tenant, 0, 20)`` rows were analyzed and
    ``burst(tenant, 20, 3000)`` rows came in since (a fresh table, or a burst after a quiet
    spell, before autovacuum analyzes it again).

    ``query`` is a statement, or SQL run in order on one connection whose last statement
    is the EXPLAIN (e.g. of a prepared statement)."""
    with fresh_store("postgres", tmp_path) as store:

        async def main() -> str:
            services = Services.build(settings_for(store, tmp_path), schema=store.schema)
            try:
                tenant = (await services.tenants.create("acme")).tenant_id
                async with services.db.begin() as conn:
                    await conn.execute(insert(table), list(quiet(tenant, 0, 20)))
                async with services.db.begin() as conn:
                    await conn.execute(text(f"ANALYZE {table.name}"))
                async with services.db.begin() as conn:
                    await conn.execute(insert(table), list(burst(tenant, 20, 3000)))
                if isinstance(query, Select):
                    compiled = query.compile(
                        dialect=conn.dialect, compile_kwargs={"literal_binds": True}
                    )
                    statements: Sequence[str] = [f"EXPLAIN {compiled}"]
                else:
                    statements = query
                async with services.db.connect() as conn:
                    for statement in statements:
                        result = await conn.execute(text(statement))
                    return "\n".join(row[0] for row in result)
            finally:
                await services.close()

        return asyncio.run(main())
