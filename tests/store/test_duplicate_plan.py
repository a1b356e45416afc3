"""The duplicate check finds stored calls by key, whatever the statistics.

With statistics taken while a tenant had a few calls, PostgreSQL preferred the tenant's
time index and read every call of the tenant for each batch of accepts (4 ms a batch at
4,000 calls, growing with the table). The plan is checked, not the time.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import insert, text

from tests.support.harness import test_settings as settings_for
from tests.support.store import fresh_store
from voxgate.api.services import Services
from voxgate.calls.accept import dedupe_key
from voxgate.store.calls import key_holders_query
from voxgate.store.schema import calls


def _rows(tenant: str, start: int, count: int) -> list[dict[str, object]]:
    now = time.time()
    return [
        {
            "id": f"c{i:031d}",
            "tenant_id": tenant,
            "dialect": "huawei",
            "kind": "notification",
            "serial_no": str(10**15 + i),
            "request_ref": f"r{i}",
            "status": "queued",
            "callee": f"138{i:08d}",
            "script": {},
            "dialect_data": {},
            "priority": 9,
            "dedupe_key": dedupe_key("vn", i),
            "created_at": now,
            "updated_at": now,
        }
        for i in range(start, start + count)
    ]


def test_duplicate_keys_are_looked_up_by_key_with_stale_statistics(tmp_path: Path) -> None:
    with fresh_store("postgres", tmp_path) as store:

        async def main() -> str:
            services = Services.build(settings_for(store, tmp_path), schema=store.schema)
            try:
                tenant = (await services.tenants.create("acme")).tenant_id
                async with services.db.begin() as conn:
                    await conn.execute(insert(calls), _rows(tenant, 0, 20))
                async with services.db.begin() as conn:
                    await conn.execute(text("ANALYZE calls"))
                async with services.db.begin() as conn:  # a burst after the statistics
                    await conn.execute(insert(calls), _rows(tenant, 20, 3000))
                keys = [dedupe_key("vn", i) for i in range(100, 108)]
                query = key_holders_query(keys, since=time.time() - 300)
                compiled = query.compile(
                    dialect=conn.dialect, compile_kwargs={"literal_binds": True}
                )
                async with services.db.connect() as conn:
                    plan = await conn.execute(text(f"EXPLAIN {compiled}"))
                    return "\n".join(row[0] for row in plan)
            finally:
                await services.close()

        plan = asyncio.run(main())
    assert "ix_calls_dedupe" in plan, plan
    assert "ix_calls_tenant_created" not in plan, plan
