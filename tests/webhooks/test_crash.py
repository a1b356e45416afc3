"""SIGKILL a worker process with 500 deliveries pending: after a restart every one arrives."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.support import harness
from tests.support import store as stores
from tests.webhooks.receiver import Reply, running_receiver
from tests.webhooks.support import T0, Step, seed_calls
from voxgate.api.services import Services
from voxgate.store import webhooks as hooks_repo

CALLS, EVENTS = 125, 4  # 500 deliveries
STEPS = [
    Step("call.ringing", T0 + 1.0),
    Step("call.answered", T0 + 2.0),
    Step("call.dtmf", T0 + 3.0, {"digits": "1"}),
    Step("call.completed", T0 + 9.0, row={"hangup_side": "callee"}),
]


async def seed(store: stores.TestStore, data: Path, url: str) -> None:
    services = Services.build(harness.test_settings(store, data), schema=store.schema)
    try:
        await seed_calls(services, "crash", url, CALLS, STEPS)
    finally:
        await services.close()


async def statuses(store: stores.TestStore, data: Path) -> dict[str, int]:
    services = Services.build(harness.test_settings(store, data), schema=store.schema)
    try:
        async with services.db.connect() as conn:
            return await hooks_repo.count_by_status(conn)
    finally:
        await services.close()


def start_worker(store: stores.TestStore, data: Path, cwd: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VOXGATE_DATABASE_URL": store.url,
        "VOXGATE_DATA_DIR": str(data),
        "VOXGATE_SECRET_KEY": "test-secret-key-0123456789",
        "VOXGATE_WEBHOOK_LEASE_SECONDS": "2",
        "VOXGATE_WEBHOOK_ATTEMPT_DEADLINE": "1",
        "VOXGATE_WEBHOOK_POLL_SECONDS": "0.05",
        "VOXGATE_WEBHOOK_BACKOFF_BASE": "0.05",
        "VOXGATE_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "voxgate.webhooks"]
    if store.schema:
        cmd += ["--schema", store.schema]
    return subprocess.Popen(cmd, env=env, cwd=cwd)


def wait_until(check: object, timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_sigkill_loses_nothing(kind: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with stores.fresh_store(kind, tmp_path) as store, running_receiver() as rx:
        path = "/crash/events"
        rx.script(path, *[Reply(200, b"ok", delay=0.02)] * 2000)
        started = time.monotonic()
        asyncio.run(seed(store, data, f"{rx.base_url}{path}"))
        print(f"seeded in {time.monotonic() - started:.1f}s")
        assert asyncio.run(statuses(store, data)) == {"pending": CALLS * EVENTS}

        worker = start_worker(store, data, tmp_path)
        try:
            wait_until(lambda: len(rx.received(path)) >= 100, 30, "the first 100 deliveries", 0.005)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
        before = asyncio.run(statuses(store, data))
        assert before.get("pending", 0) > 0, before

        started = time.monotonic()
        worker = start_worker(store, data, tmp_path)
        try:
            wait_until(
                lambda: (
                    len({json.loads(r.body)["id"] for r in rx.received(path)}) == CALLS * EVENTS
                ),
                60,
                "every event",
            )
            wait_until(
                lambda: asyncio.run(statuses(store, data)) == {"delivered": CALLS * EVENTS},
                30,
                "every delivery recorded",
            )
            print(f"restart to all delivered: {time.monotonic() - started:.1f}s")
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=20) == 0

    by_event: dict[str, list[bytes]] = defaultdict(list)
    first_seen: dict[str, list[int]] = defaultdict(list)
    for r in rx.received(path):
        event = json.loads(r.body)
        assert r.headers["idempotency-key"] == event["id"]
        if not by_event[event["id"]]:
            first_seen[event["call_id"]].append(event["seq"])
        by_event[event["id"]].append(r.body)
    assert len(by_event) == CALLS * EVENTS
    for bodies in by_event.values():  # a duplicate is the same event, byte for byte
        assert len(set(bodies)) == 1
    for seqs in first_seen.values():  # and the crash did not reorder any call's events
        assert seqs == sorted(seqs)
    duplicates = sum(len(b) - 1 for b in by_event.values())
    print(f"{kind}: {before} at the kill, {duplicates} duplicate deliveries after restart")
