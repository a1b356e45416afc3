"""Two API workers accepting at once still refuse duplicates and keep daily limits.

Each worker has its own acceptor and its own connections; their batches overlap in time,
so what one writes is not yet committed when the other looks. Each test below failed on
PostgreSQL before batches locked their keys and daily slots.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.store.test_group_commit import KINDS, _accept
from tests.support.harness import test_settings as settings_for
from tests.support.store import fresh_store
from voxgate.api.services import Services
from voxgate.calls.accept import Accepted, DailyLimit, DailyLimitReached, Duplicate, DuplicateCall


def _two_workers(kind: str, tmp_path: Path, job: Any) -> Any:
    with fresh_store(kind, tmp_path) as store:

        async def main() -> Any:
            settings = settings_for(store, tmp_path)
            first = Services.build(settings, schema=store.schema)
            second = Services.build(settings, schema=store.schema)
            try:
                creds = await first.tenants.create("acme")
                return await job(first, second, creds.tenant_id)
            finally:
                await first.close()
                await second.close()

        return asyncio.run(main())


async def _outcome(call: Awaitable[Accepted]) -> Accepted | BaseException:
    try:
        return await call
    except (DuplicateCall, DailyLimitReached) as exc:
        return exc


async def _nothing(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Work of a request's own in the accepting transaction (an idempotency record, say)."""


@pytest.mark.parametrize("own_work", [None, _nothing], ids=["plain", "own-work"])
@pytest.mark.parametrize("kind", KINDS)
def test_the_same_key_sent_to_both_workers_is_accepted_once(
    kind: str, own_work: Any, tmp_path: Path
) -> None:
    async def job(a: Services, b: Services, tenant: str) -> list[list[Any]]:
        rounds = []
        for i in range(10):  # ten rounds: a race must not win even once
            number = f"13900000{i:03d}"
            key = Duplicate(f"key-{number}")
            rounds.append(
                await asyncio.gather(
                    *(
                        _outcome(_accept(s, tenant, number, duplicate=key, in_transaction=own_work))
                        for s in (a, b, a, b)
                    )
                )
            )
        return rounds

    for outcomes in _two_workers(kind, tmp_path, job):
        assert sum(isinstance(o, Accepted) for o in outcomes) == 1, outcomes
        assert sum(isinstance(o, DuplicateCall) for o in outcomes) == 3, outcomes


@pytest.mark.parametrize("kind", KINDS)
def test_a_daily_limit_holds_across_workers(kind: str, tmp_path: Path) -> None:
    limit = DailyLimit("bidirectional", 10)

    async def job(a: Services, b: Services, tenant: str) -> list[Any]:
        return await asyncio.gather(
            *(
                _outcome(
                    _accept(s, tenant, f"1370000{i:04d}", kind="bidirectional", daily_limit=limit)
                )
                for i in range(16)
                for s in (a, b)
            )
        )

    outcomes = _two_workers(kind, tmp_path, job)
    assert sum(isinstance(o, Accepted) for o in outcomes) == 10, outcomes
    assert sum(isinstance(o, DailyLimitReached) for o in outcomes) == 22, outcomes
