"""The duplicate check finds stored calls by key, whatever the statistics.

With statistics taken while a tenant had a few calls, PostgreSQL preferred the tenant's
time index and read every call of the tenant for each batch of accepts (4 ms a batch at
4,000 calls, growing with the table). The plan is checked, not the time.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.plans import plan_after_a_burst
from voxgate.calls.accept import dedupe_key
from voxgate.store.calls import UNFINISHED, key_holders_query
from voxgate.store.pg_accept import KEY_HOLDERS_SQL
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
    keys = [dedupe_key("vn", i) for i in range(100, 108)]
    query = key_holders_query(keys, since=time.time() - 300)
    plan = plan_after_a_burst(tmp_path, calls, _rows, _rows, query)
    assert "ix_calls_dedupe" in plan, plan
    assert "ix_calls_tenant_created" not in plan, plan


@pytest.mark.parametrize("plan_mode", ["force_custom_plan", "force_generic_plan"])
def test_the_postgresql_accept_statement_looks_keys_up_by_key(
    tmp_path: Path, plan_mode: str
) -> None:
    """The fixed statement accepting runs on PostgreSQL, prepared as asyncpg prepares it:
    planned for its parameters, and the generic plan PostgreSQL may switch to after a
    few runs."""
    keys = ", ".join(f"'{dedupe_key('vn', i)}'" for i in range(100, 108))
    statuses = ", ".join(f"'{s}'" for s in UNFINISHED)
    statements = [
        f"SET plan_cache_mode = {plan_mode}",
        f"PREPARE holders AS {KEY_HOLDERS_SQL}",
        f"EXPLAIN EXECUTE holders(ARRAY[{keys}], ARRAY[{statuses}], {time.time() - 300})",
    ]
    plan = plan_after_a_burst(tmp_path, calls, _rows, _rows, statements)
    assert "ix_calls_dedupe" in plan, plan
    assert "ix_calls_tenant_created" not in plan, plan
