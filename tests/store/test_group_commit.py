"""Concurrent accepts share transactions, and each request still gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.harness import test_settings as settings_for
from tests.support.store import fresh_store
from voxgate.api.services import Services
from voxgate.calls.accept import (
    Accepted,
    DailyLimit,
    DailyLimitReached,
    Duplicate,
    DuplicateCall,
    NewCall,
)
from voxgate.calls.script import CallScript, Dial, Hangup, Say
from voxgate.store.schema import call_events, call_jobs, calls

KINDS = ["sqlite", "postgres"]


def _call(number: str) -> NewCall:
    steps: list[Any] = [Dial(to=number), Say(text="hello"), Hangup()]
    return NewCall(callee=number, caller=None, script=CallScript(steps=steps))


async def _accept(s: Services, tenant: str, number: str, **options: Any) -> Accepted:
    """One call to ``number``; ``options`` are the acceptor's (kind, duplicate, ...)."""
    return await s.calls.accept(
        tenant_id=tenant,
        app_id=None,
        dialect="huawei",
        kind=options.pop("kind", "notification"),
        new_calls=[_call(number)],
        **options,
    )


async def _count(services: Services, table: Any) -> int:
    async with services.db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def _run(kind: str, tmp_path: Path, job: Any) -> Any:
    with fresh_store(kind, tmp_path) as store:

        async def main() -> Any:
            services = Services.build(settings_for(store, tmp_path), schema=store.schema)
            try:
                creds = await services.tenants.create("acme")
                return await job(services, creds.tenant_id)
            finally:
                await services.close()

        return asyncio.run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_concurrent_duplicates_accept_exactly_one(kind: str, tmp_path: Path) -> None:
    async def job(s: Services, tenant: str) -> tuple[list[Any], int, int, int, int]:
        async def one(number: str) -> Accepted | BaseException:
            try:
                return await _accept(s, tenant, number, duplicate=Duplicate(f"key-{number}"))
            except DuplicateCall as exc:
                return exc

        # 40 requests at once: 20 numbers, each sent twice
        numbers = [f"1380000{i % 20:04d}" for i in range(40)]
        results = await asyncio.gather(*(one(n) for n in numbers))
        return (
            results,
            s.calls.commits,
            await _count(s, calls),
            await _count(s, call_jobs),
            await _count(s, call_events),
        )

    results, commits, n_calls, n_jobs, n_events = _run(kind, tmp_path, job)
    assert commits < 40  # requests shared transactions
    accepted = [r for r in results if isinstance(r, Accepted)]
    refused = [r for r in results if isinstance(r, DuplicateCall)]
    assert len(accepted) == 20 and len(refused) == 20
    assert n_calls == n_jobs == n_events == 20
    assert len({a.calls[0].serial_no for a in accepted}) == 20


@pytest.mark.parametrize("kind", KINDS)
def test_daily_limit_counts_calls_of_the_same_batch(kind: str, tmp_path: Path) -> None:
    async def job(s: Services, tenant: str) -> tuple[int, int, int]:
        async def one(i: int) -> bool:
            try:
                await _accept(
                    s,
                    tenant,
                    f"1390000{i:04d}",
                    kind="bidirectional",
                    daily_limit=DailyLimit("bidirectional", 10),
                )
                return True
            except DailyLimitReached:
                return False

        outcomes = await asyncio.gather(*(one(i) for i in range(25)))
        return outcomes.count(True), outcomes.count(False), await _count(s, calls)

    assert _run(kind, tmp_path, job) == (10, 15, 10)


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_is_a_duplicate_within_its_own_tenant_only(kind: str, tmp_path: Path) -> None:
    async def job(s: Services, tenant: str) -> list[str]:
        other = (await s.tenants.create("globex")).tenant_id

        async def one(who: str) -> str:
            try:
                await _accept(s, who, "13500000001", duplicate=Duplicate("same-key"))
                return "ok"
            except DuplicateCall:
                return "duplicate"

        # one batch: the key twice for the first tenant, once for the second
        return list(await asyncio.gather(one(tenant), one(tenant), one(other)))

    outcomes = _run(kind, tmp_path, job)
    assert sorted(outcomes[:2]) == ["duplicate", "ok"]
    assert outcomes[2] == "ok"


@pytest.mark.parametrize("kind", KINDS)
def test_unfinished_and_windowed_duplicates_read_the_same_stored_call(
    kind: str, tmp_path: Path
) -> None:
    """A finished call blocks no "unfinished" duplicate, but still counts within a window."""

    async def job(s: Services, tenant: str) -> list[str]:
        async def one(duplicate: Duplicate) -> str:
            try:
                await _accept(s, tenant, "13500000002", duplicate=duplicate)
                return "ok"
            except DuplicateCall:
                return "duplicate"

        first = await one(Duplicate("k", window=300))
        async with s.db.begin() as conn:
            await conn.execute(calls.update().values(status="completed"))
        return [
            first,
            await one(Duplicate("k", window=300)),  # created a moment ago: within 5 minutes
            await one(Duplicate("k")),  # no unfinished call holds the key
            await one(Duplicate("k")),  # now the call just accepted does
            await one(Duplicate("k", window=0.0001)),  # unfinished, but older than the window
        ]

    assert _run(kind, tmp_path, job) == ["ok", "duplicate", "ok", "duplicate", "ok"]


class Boom(Exception):
    pass


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_request_fails_alone(kind: str, tmp_path: Path) -> None:
    """One request's in-transaction work fails: its calls are rolled back, the rest commit."""

    async def job(s: Services, tenant: str) -> tuple[list[str], int]:
        async def explode(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
            raise Boom()

        async def one(i: int) -> str:
            try:
                await _accept(
                    s, tenant, f"1370000{i:04d}", in_transaction=explode if i == 7 else None
                )
                return "ok"
            except Boom:
                return "boom"

        outcomes = await asyncio.gather(*(one(i) for i in range(30)))
        return outcomes, await _count(s, calls)

    outcomes, stored = _run(kind, tmp_path, job)
    assert outcomes[7] == "boom"
    assert outcomes.count("ok") == 29
    assert stored == 29


def test_sqlite_accept_waits_for_another_writer(tmp_path: Path) -> None:
    """Another process's write lock is waited out (retried), not reported as an error."""
    import sqlite3
    import threading
    import time

    async def job(s: Services, tenant: str) -> tuple[float, int]:
        other = sqlite3.connect(s.db.url.split("///", 1)[1], check_same_thread=False)
        other.isolation_level = None
        other.execute("BEGIN IMMEDIATE")  # holds the write lock, as another worker would
        release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
        release.start()
        started = time.monotonic()
        await _accept(s, tenant, "13600000001")
        waited = time.monotonic() - started
        release.join()
        other.close()
        return waited, await _count(s, calls)

    waited, stored = _run("sqlite", tmp_path, job)
    assert stored == 1
    assert waited >= 0.25  # it did wait for the other writer
