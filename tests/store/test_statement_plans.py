"""The duplicate lookup keeps using its index while a new calls table grows.

asyncpg prepares each statement once per connection; after five runs PostgreSQL may
keep a generic plan made for the table as it was then. On a new, nearly empty table that
plan is a sequential scan, which gets slower with every call accepted. Statements are
prepared again every ``STATEMENT_LIFETIME`` seconds, so the plan follows the table. The
plan is read with ``auto_explain`` from the very connection that accepts, not timed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from tests.store.test_duplicate_plan import _rows
from tests.store.test_group_commit import _call
from tests.support.harness import test_settings as settings_for
from tests.support.store import fresh_store
from voxgate.api.services import Services
from voxgate.calls.accept import CallAcceptor, Duplicate
from voxgate.store.db import STATEMENT_LIFETIME, Database
from voxgate.store.pg_accept import KEY_HOLDERS_SQL
from voxgate.store.schema import calls


async def _accept(acceptor: CallAcceptor, tenant: str, number: str) -> None:
    await acceptor.accept(
        tenant_id=tenant,
        app_id=None,
        dialect="huawei",
        kind="notification",
        new_calls=[_call(number)],
        duplicate=Duplicate(f"key-{number}"),
    )


def _lookup_plan(tmp_path: Path, lifetime: float) -> str:
    with fresh_store("postgres", tmp_path) as store:

        async def main() -> str:
            settings = settings_for(store, tmp_path)
            services = Services.build(settings, schema=store.schema)
            try:
                tenant = (await services.tenants.create("acme")).tenant_id
            finally:
                await services.close()
            # one connection, so every accept runs on the one whose plans are read
            db = Database(
                settings.effective_database_url,
                schema=store.schema,
                pool_size=1,
                statement_lifetime=lifetime,
            )
            try:
                acceptor = CallAcceptor(db=db)
                for i in range(8):  # the table is nearly empty: a generic plan is made
                    await _accept(acceptor, tenant, f"1380000{i:04d}")
                async with db.begin() as conn:  # then it grows
                    await conn.execute(insert(calls), list(_rows(tenant, 100, 20000)))
                await asyncio.sleep(lifetime + 0.5)
                plans: list[str] = []

                async def explain(conn: Any) -> None:
                    await conn.execute(
                        "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; "
                        "SET client_min_messages = log"
                    )
                    conn.add_log_listener(lambda _c, message: plans.append(message.message))

                await db.run_driver_write(explain)
                await _accept(acceptor, tenant, "13900000001")
                return next(p for p in plans if KEY_HOLDERS_SQL[:40] in p)
            finally:
                await db.dispose()

        return asyncio.run(main())


def test_the_duplicate_lookup_plan_follows_a_growing_table(tmp_path: Path) -> None:
    plan = _lookup_plan(tmp_path, STATEMENT_LIFETIME)
    assert "ix_calls_dedupe" in plan and "Seq Scan" not in plan, plan


@pytest.mark.parametrize("lifetime", [0])
def test_without_a_lifetime_the_plan_stays_what_the_empty_table_made_it(
    tmp_path: Path, lifetime: float
) -> None:
    """The failure the lifetime prevents, shown (0: statements cached for good)."""
    started = time.monotonic()
    plan = _lookup_plan(tmp_path, lifetime)
    assert "Seq Scan on calls" in plan, (plan, time.monotonic() - started)
