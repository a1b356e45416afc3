"""Bench: webhook deliveries per second against a bare httpx loop, and hangup → first attempt.

A receiver (uvicorn, separate process) answers every POST with ``success <its clock>``. Per
store (SQLite file, PostgreSQL schema):

1. ``--n`` native calls each record a ``call.completed`` event (outbox rows). The delivery
   worker then drains them; deliveries/s = n / time until the last is recorded delivered.
2. A bare loop posts the same bodies with one ``httpx.AsyncClient`` at the same concurrency
   the worker may use against one host (``webhook_per_host``). Ratio = worker / bare.
3. ``--latency`` hangups, one every 20 ms, with the worker idle and running in the same
   process: time from just before the hangup's transaction (call row update + event + outbox
   rows) to the receiver's clock at arrival of the first attempt (read back from the attempt
   log's response head). p50 / p90, and p50 from the moment that transaction committed.

``--analyze`` runs PostgreSQL's ANALYZE on the delivery table once the rows are enqueued, as
autovacuum does within a minute or so on a table in use. Without it the bench's fresh table has
no statistics and PostgreSQL plans the claim's ``NOT EXISTS`` as a nested loop over every
pending row, each claim costing O(pending²) (about 0.8 s with 3000 pending).

Usage: .venv/bin/python bench/webhooks.py [--n 3000] [--latency 200] [--stores sqlite,postgres]
       [--analyze]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from voxgate.api.services import Services
from voxgate.calls.accept import NewCall
from voxgate.calls.events import CallEvent, record_event
from voxgate.calls.script import CallScript, Dial
from voxgate.settings import Settings
from voxgate.store import calls as calls_repo
from voxgate.store import webhooks as hooks_repo
from voxgate.store.migrate import upgrade
from voxgate.store.schema import calls, webhook_attempts, webhook_deliveries

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

RECEIVER = r"""
import sys, time, uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        msg = await receive()
        more = msg.get("more_body", False)
    body = f"success {time.time():.6f}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, lifespan="off")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_receiver() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.post(url + "/ping", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("receiver did not start")


async def make_store(kind: str, tmp: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        return url, None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_async_engine(PG)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await engine.dispose()
    await asyncio.to_thread(upgrade, PG, schema=schema)
    return PG, schema


async def drop_schema(schema: str | None) -> None:
    if schema:
        engine = create_async_engine(PG)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


async def new_calls(s: Services, tenant_id: str, n: int) -> list[str]:
    accepted = await s.calls.accept(
        tenant_id=tenant_id,
        app_id=None,
        dialect="native",
        kind="script",
        new_calls=[
            NewCall(callee=f"+4930{i:07d}", caller=None, script=CallScript(steps=[Dial(to="1")]))
            for i in range(n)
        ],
    )
    return [c.id for c in accepted.calls]


async def hang_up(s: Services, tenant_id: str, call_id: str) -> None:
    now = time.time()
    async with s.db.begin() as conn:
        await conn.execute(
            update(calls)
            .where(calls.c.id == call_id)
            .values(status="completed", answered_at=now - 5, ended_at=now, hangup_side="callee")
        )
        call = await calls_repo.get_call(conn, tenant_id, call_id)
        assert call is not None
        await record_event(conn, call, CallEvent("call.completed", now), sink=s.outbox)


async def wait_delivered(s: Services, total: int, within: float = 600) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with s.db.connect() as conn:
            counts = await hooks_repo.count_by_status(conn)
        if counts.get("delivered", 0) >= total:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"not delivered in time: {counts}")


async def bare_loop(bodies: list[tuple[str, str]], concurrency: int) -> float:
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(http2=True, limits=limits, timeout=10) as client:

        async def run() -> None:
            while not queue.empty():
                url, body = queue.get_nowait()
                r = await client.post(
                    url, content=body.encode(), headers={"Content-Type": "application/json"}
                )
                await r.aread()

        started = time.perf_counter()
        await asyncio.gather(*(run() for _ in range(concurrency)))
        return time.perf_counter() - started


async def bench_store(
    kind: str, n: int, latency_n: int, receiver: str, analyze: bool = False
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url, schema = await make_store(kind, Path(tmp))
        settings = Settings(
            database_url=url,
            data_dir=Path(tmp) / "data",
            secret_key="bench-secret-key-0123456789",
            dispatcher_enabled=False,
        )
        s = Services.build(settings, schema=schema)
        try:
            creds = await s.tenants.create("bench", webhook_url=f"{receiver}/hook")
            await s.tenants.trust_callback_host("bench", "127.0.0.1")
            tenant = creds.tenant_id

            # 1. throughput: enqueue n, then drain with the worker.
            ids = await new_calls(s, tenant, n)
            for cid in ids:
                await hang_up(s, tenant, cid)
            async with s.db.connect() as conn:
                d = webhook_deliveries
                rows = await conn.execute(select(d.c.url, d.c.body))
                bodies = [(r[0], r[1]) for r in rows]
            if analyze and kind == "postgres":
                async with s.db.begin() as conn:
                    await conn.execute(text("ANALYZE webhook_deliveries"))
            started = time.perf_counter()
            await s.webhooks.start()
            await wait_delivered(s, n)
            worker_s = time.perf_counter() - started
            worker_rate = n / worker_s

            # 2. the bare loop, same payloads, same concurrency against one host.
            conc = min(settings.webhook_concurrency, settings.webhook_per_host)
            bare_s = await bare_loop(bodies, conc)
            bare_rate = n / bare_s

            # 3. hangup -> first attempt, worker idle.
            lat_ids = await new_calls(s, tenant, latency_n)
            starts: dict[str, float] = {}
            commits: dict[str, float] = {}
            for cid in lat_ids:
                starts[cid] = time.time()
                await hang_up(s, tenant, cid)
                commits[cid] = time.time()
                await asyncio.sleep(0.02)
            await wait_delivered(s, n + latency_n)
            async with s.db.connect() as conn:
                a = webhook_attempts
                rows = await conn.execute(
                    select(d.c.call_id, a.c.response_head)
                    .join(a, a.c.delivery_id == d.c.id)
                    .where(d.c.call_id.in_(lat_ids))
                    .where(a.c.attempt == 1)
                )
                arrivals = [(r[0], float(r[1].split()[1])) for r in rows if r[1]]
            lat = sorted((at - starts[cid]) * 1000 for cid, at in arrivals)
            after_commit = sorted((at - commits[cid]) * 1000 for cid, at in arrivals)
            await s.webhooks.stop()
        finally:
            await s.close()
            await drop_schema(schema)
    return {
        "store": kind,
        "n": n,
        "worker_per_s": worker_rate,
        "bare_per_s": bare_rate,
        "ratio": worker_rate / bare_rate,
        "concurrency": conc,
        "latency_p50_ms": statistics.median(lat),
        "latency_p90_ms": lat[int(len(lat) * 0.9)],
        "after_commit_p50_ms": statistics.median(after_commit),
        "latency_n": len(lat),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--analyze", action="store_true", help="ANALYZE before draining (PG)")
    args = parser.parse_args()
    proc, receiver = start_receiver()
    try:
        for kind in args.stores.split(","):
            r = asyncio.run(bench_store(kind, args.n, args.latency, receiver, args.analyze))
            label = kind + ("+analyze" if args.analyze and kind == "postgres" else "")
            print(
                f"{label:8} worker {r['worker_per_s']:7.0f}/s  bare httpx "
                f"{r['bare_per_s']:7.0f}/s  ratio {r['ratio']:.2f}  (concurrency "
                f"{r['concurrency']}, n={r['n']})  hangup->first attempt p50 "
                f"{r['latency_p50_ms']:.1f} ms p90 {r['latency_p90_ms']:.1f} ms "
                f"(n={r['latency_n']}; from commit p50 {r['after_commit_p50_ms']:.1f} ms)",
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
