"""Claiming call jobs for preparation (store/jobs.py) on SQLite and PostgreSQL: two workers
never hold the same job, the most urgent goes first, and an abandoned job is taken over."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.support.harness import Platform
from voxgate.api.services import Services
from voxgate.store import jobs


def place(platform: Platform, count: int, priority: int = 9) -> list[str]:
    creds = platform.tenant()
    ids = []
    for n in range(count):
        script = {"steps": [{"op": "dial", "to": f"8888{n:04d}"}, {"op": "hangup"}]}
        r = platform.http.post(
            "/v1/calls",
            json={"script": script, "priority": priority},
            auth=httpx.BasicAuth(creds.app_key, creds.app_secret),
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


async def claim(s: Services, worker: str, limit: int, *, stale_before: float = 0) -> list[str]:
    async with s.db.begin() as conn:
        claimed = await jobs.claim_queued(
            conn,
            worker=worker,
            now=time.time(),
            stale_before=stale_before,
            limit=limit,
            skip_locked=not s.db.is_sqlite,
        )
        await asyncio.sleep(0.05)  # hold the claim open while the other worker tries
    return [j.call_id for j in claimed]


def test_concurrent_claims_never_overlap_and_urgent_goes_first(platform: Platform) -> None:
    async def drain(s: Services) -> None:  # other tests' jobs out of the way
        while await claim(s, "drain", 100):
            pass

    platform.run(drain)
    ids = set(place(platform, 8))
    [urgent] = place(platform, 1, priority=1)

    async def race(s: Services) -> tuple[list[str], list[str], list[str]]:
        a, b = await asyncio.gather(claim(s, "a", 5), claim(s, "b", 5))
        return a, b, await claim(s, "c", 5)

    a, b, c = platform.run(race)
    assert not set(a) & set(b)
    assert set(a) | set(b) == ids | {urgent}
    assert urgent in (a[0], b[0])
    assert c == []


def test_an_abandoned_job_is_taken_over_and_the_old_worker_cannot_finish_it(
    platform: Platform,
) -> None:
    [call_id] = place(platform, 1, priority=1)

    async def scenario(s: Services) -> None:
        async with s.db.begin() as conn:
            [job] = [
                j
                for j in await jobs.claim_queued(
                    conn, worker="old", now=time.time(), stale_before=0, limit=50, skip_locked=False
                )
                if j.call_id == call_id
            ]
        assert job.attempts == 1
        # within the lease nobody else takes it; after it, the next claim does
        assert call_id not in await claim(s, "new", 50, stale_before=time.time() - 60)
        assert call_id in await claim(s, "new", 50, stale_before=time.time() + 1)
        async with s.db.begin() as conn:
            assert not await jobs.finish(conn, job.id, worker="old", status=jobs.READY, now=0)
            assert await jobs.finish(conn, job.id, worker="new", status=jobs.READY, now=0)
            assert await jobs.job_status(conn, call_id) == jobs.READY

    platform.run(scenario)
