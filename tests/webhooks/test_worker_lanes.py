"""The worker's lanes against real receivers: leases, give-backs, and hosts sharing lanes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support import harness
from tests.support import store as stores
from tests.webhooks.receiver import Reply, running_receiver
from tests.webhooks.support import T0, Step, seed_calls
from voxgate.api.services import Services
from voxgate.clock import FakeClock
from voxgate.store import webhooks as hooks_repo
from voxgate.webhooks.sender import Sender, Timeouts
from voxgate.webhooks.worker import DeliveryWorker, WorkerConfig

COMPLETED = [Step("call.completed", T0 + 9.0, row={"hangup_side": "callee"})]


async def drain(
    store: stores.TestStore, data: Path, targets: Sequence[tuple[str, int]], config: WorkerConfig
) -> list[dict[str, object]]:
    """Seed ``calls`` deliveries per URL, run a worker with ``config`` until none is pending."""
    s = Services.build(harness.test_settings(store, data), schema=store.schema)
    worker = DeliveryWorker(db=s.db, box=s.box, config=config)
    try:
        for i, (url, calls) in enumerate(targets):
            await seed_calls(s, f"lanes-{i}", url, calls, COMPLETED)
        await worker.start()
        deadline = time.monotonic() + 30
        while True:
            async with s.db.connect() as conn:
                counts = await hooks_repo.count_by_status(conn)
            if not counts.get("pending"):
                break
            assert time.monotonic() < deadline, counts
            await asyncio.sleep(0.05)
        await worker.stop()
        async with s.db.connect() as conn:
            rows = await hooks_repo.list_deliveries(conn, limit=1000)
            logs = await hooks_repo.attempts_of(conn, [str(r["id"]) for r in rows])
        for r in rows:
            r["attempts_log"] = logs[str(r["id"])]
        return rows
    finally:
        await s.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_delivery_its_lease_no_longer_covers_is_given_back_untried(
    kind: str, tmp_path: Path
) -> None:
    # One lane, attempts of 0.4 s, a lease of 1.3 s for a 1 s deadline: the second delivery
    # claimed with the first would start with 0.9 s of lease left. It must not be sent then,
    # and its attempt must not be counted (no gap in its log once it is delivered).
    with stores.fresh_store(kind, tmp_path) as store, running_receiver() as rx:
        rx.script("/lease/a", *[Reply(200, b"ok", delay=0.4)] * 4)
        config = WorkerConfig(
            concurrency=1,
            per_host=1,
            lease_seconds=1.3,
            attempt_deadline=1.0,
            read_timeout=1.0,
            poll_seconds=0.05,
        )
        rows = asyncio.run(drain(store, tmp_path / "data", [(f"{rx.base_url}/lease/a", 4)], config))
    assert [r["status"] for r in rows] == ["delivered"] * 4
    for r in rows:
        assert r["attempts"] == 1, r
        assert [a["attempt"] for a in r["attempts_log"]] == [1]  # type: ignore[attr-defined]
    assert rx.max_active["/lease/a"] == 1
    assert len(rx.received("/lease/")) == 4


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_host_waiting_for_any_free_lane_gets_one(kind: str, tmp_path: Path) -> None:
    # A single lane in all, two hosts (two receivers): when one host's lane ends, the other
    # host's claimed deliveries must get the lane, not wait for a claim that never comes.
    with (
        stores.fresh_store(kind, tmp_path) as store,
        running_receiver() as rx1,
        running_receiver() as rx2,
    ):
        config = WorkerConfig(concurrency=1, per_host=1, poll_seconds=0.05)
        targets = [(f"{rx1.base_url}/one/x", 6), (f"{rx2.base_url}/two/x", 6)]
        rows = asyncio.run(drain(store, tmp_path / "data", targets, config))
    assert [r["status"] for r in rows] == ["delivered"] * 12
    assert len(rx1.received("/one/")) == 6 and len(rx2.received("/two/")) == 6
    assert rx1.max_active["/one/x"] == 1 and rx2.max_active["/two/x"] == 1


def test_a_claim_waiting_for_the_sqlite_writer_sees_what_that_writer_committed(
    tmp_path: Path,
) -> None:
    # The pump's transaction may wait for another writer (SQLite has one at a time). Its claim
    # must be as of when it got in: a delivery that writer just committed is due, not left for
    # the next turn.
    async def main(store: stores.TestStore, url: str) -> None:
        s = Services.build(harness.test_settings(store, tmp_path / "data"), schema=store.schema)
        clock = FakeClock(wall=time.time() - 100)  # the delivery below is not due yet
        timeouts = Timeouts(1.0, 1.0, 1.0)
        sender = Sender.pooled(connections=2, timeouts=timeouts, response_cap=1024)
        worker = DeliveryWorker(
            db=s.db, box=s.box, config=WorkerConfig(), clock=clock, sender=sender
        )
        try:
            await seed_calls(s, "writer", url, 1, COMPLETED)
            async with s.db.begin():  # another writer holds the lock...
                pump = asyncio.create_task(worker.pump())
                await asyncio.sleep(0.05)
                clock.wall += 200  # ...until after the delivery's time
            await pump
            await worker.stop()  # (after the attempts it started)
        finally:
            await sender.aclose()
            await s.close()

    with stores.fresh_store("sqlite", tmp_path) as store, running_receiver() as rx:
        asyncio.run(main(store, f"{rx.base_url}/writer/x"))
        assert len(rx.received("/writer/")) == 1
