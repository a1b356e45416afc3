"""createVoiceNotification accepted per second versus a bare endpoint of the same server.

Runs ``voxgate serve --workers 2`` on SQLite and on PostgreSQL, drives it with wrk (Debian
package ``wrk``; installed when missing), and prints, per store:

* the bare ``POST /hello`` rate (the baseline, measured in the same run),
* the createVoiceNotification rate (token auth + validation + durable insert of the call, its
  job and its first event), counted from the rows in the store, and its ratio to the baseline,
* p50/p99 latency at full load, and at about half of that load.

Usage: .venv/bin/python bench/api.py [--seconds 10] [--stores sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
VOXGATE = str(ROOT / ".venv" / "bin" / "voxgate")
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PG_BENCH = "postgresql+asyncpg://postgres@127.0.0.1:5432/voxgate_bench"
RUNS = itertools.count(1)
NOTIFY = "/apiaccess/rest/voiceNotification/v1/createVoiceNotification"

LUA = r"""
local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)  -- a global of that thread's own Lua state
  next_tid = next_tid + 1
end
function init(args)
  n = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-APP-Key"] = os.getenv("BENCH_APP_KEY")
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
  pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
  mode = os.getenv("BENCH_MODE")
  run = os.getenv("BENCH_RUN") or "0"  -- each run dials numbers of its own
end
function delay()
  return pause
end
function response(status, headers, body)
  if mode == "notify" and not string.find(body, '"retCode":"0"', 1, true) then
    refused = (refused or 0) + 1
    if refused <= 2 then io.write("REFUSED " .. body .. "\n") end
  end
end
function request()
  n = n + 1
  local body
  if mode == "notify" then
    body = string.format('{"voiceContent":"$Your code is 4827$","called":"9%s%d%09d"}',
      run, tid, n)
  else
    body = '{"voiceContent":"$Your code is 4827$","called":"900000000000"}'
  end
  return wrk.format(nil, nil, nil, body)
end
function done(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.3f, ' ..
    '"p99_ms": %.3f, "non2xx": %d, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _sql(url: str, *statements: str) -> list[Any]:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    out = []
    try:
        async with engine.connect() as conn:
            for st in statements:
                result = await conn.execute(text(st))
                out.append(result.scalar() if result.returns_rows else None)
    finally:
        await engine.dispose()
    return out


def count_calls(url: str) -> int:
    return int(asyncio.run(_sql(url, "SELECT count(*) FROM calls"))[0])


def wrk_run(
    wrk: str,
    url: str,
    script: Path,
    env: dict[str, str],
    *,
    seconds: int,
    connections: int,
    delay_ms: float = 0,
) -> dict[str, Any]:
    run_env = {**os.environ, **env, "BENCH_DELAY_MS": str(delay_ms), "BENCH_RUN": str(next(RUNS))}
    out = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        env=run_env,
        check=True,
    ).stdout
    for refused in (x for x in out.splitlines() if x.startswith("REFUSED ")):
        print(refused, file=sys.stderr)
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    result["rate"] = result["requests"] / result["seconds"]
    return result


def bench_store(store: str, wrk: str, seconds: int, workdir: Path) -> dict[str, Any]:
    data_dir = workdir / store
    data_dir.mkdir()
    if store == "postgres":
        asyncio.run(
            _sql(
                PG_ADMIN,
                "DROP DATABASE IF EXISTS voxgate_bench WITH (FORCE)",
                "CREATE DATABASE voxgate_bench",
            )
        )
        db_url = PG_BENCH
    else:
        db_url = f"sqlite+aiosqlite:///{data_dir / 'voxgate.db'}"
    env = {
        **os.environ,
        "VOXGATE_DATA_DIR": str(data_dir),
        "VOXGATE_DATABASE_URL": db_url,
        "VOXGATE_LOG_LEVEL": "WARNING",
        # the API alone: no dialling, rendering or callbacks competing for the two cores
        "VOXGATE_DISPATCHER_ENABLED": "false",
        "VOXGATE_PREPARE_ENABLED": "false",
        "VOXGATE_WEBHOOKS_ENABLED": "false",
        "VOXGATE_TTS_PREWARM": "false",
    }
    creds = json.loads(
        subprocess.run(
            [VOXGATE, "tenant", "create", "bench", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    subprocess.run(
        [VOXGATE, "access-code", "add", "bench", "640003"], env=env, check=True, capture_output=True
    )
    port = free_port()
    log = (data_dir / "server.log").open("wb")
    server = subprocess.Popen(
        [VOXGATE, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"server did not start, see {data_dir / 'server.log'}")
            time.sleep(0.2)
        token = httpx.post(
            base + "/apigovernance/api/oauth/tokenByAkSk",
            json=creds["huawei"],
            headers={"X-Token-Expire": "3600"},
        ).json()
        script = workdir / "bench.lua"
        script.write_text(LUA)
        wenv = {"BENCH_APP_KEY": creds["huawei"]["app_key"], "BENCH_TOKEN": token["AccessToken"]}
        # warm-up, then the baseline and the measured endpoint
        wrk_run(
            wrk, base + "/hello", script, {**wenv, "BENCH_MODE": "hello"}, seconds=2, connections=16
        )
        hello = wrk_run(
            wrk,
            base + "/hello",
            script,
            {**wenv, "BENCH_MODE": "hello"},
            seconds=seconds,
            connections=32,
        )
        before = count_calls(db_url)
        notify = wrk_run(
            wrk,
            base + NOTIFY,
            script,
            {**wenv, "BENCH_MODE": "notify"},
            seconds=seconds,
            connections=32,
        )
        accepted = count_calls(db_url) - before
        notify["accepted_rate"] = accepted / notify["seconds"]
        notify["accepted"] = accepted
        # about half the load: 8 connections, each pausing so the total is ~half the peak
        half = notify["accepted_rate"] / 2
        conns = 8
        delay = max(0.0, conns * 1000 / half - notify["p50_ms"])
        half_run = wrk_run(
            wrk,
            base + NOTIFY,
            script,
            {**wenv, "BENCH_MODE": "notify"},
            seconds=seconds,
            connections=conns,
            delay_ms=delay,
        )
        return {"store": store, "hello": hello, "notify": notify, "half": half_run}
    finally:
        server.send_signal(signal.SIGTERM)  # the supervisor stops its workers
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"note: {store} server did not stop within 30 s; killed", file=sys.stderr)
        os.killpg(server.pid, signal.SIGKILL) if server.poll() is None else None
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    wrk = ensure_wrk()
    tmp = Path(tempfile.mkdtemp(prefix="voxgate-bench-"))
    try:
        results = [bench_store(s, wrk, args.seconds, tmp) for s in args.stores.split(",")]
    finally:
        if os.environ.get("BENCH_KEEP"):  # server logs and stores, for a closer look
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nbench/api.py — {args.seconds}s per run, voxgate serve --workers 2, wrk -t2 -c32")
    print(
        f"{'store':9} {'hello/s':>9} {'accepted/s':>11} {'ratio':>6} {'p50 ms':>7} "
        f"{'p99 ms':>7} | {'half-load/s':>11} {'p50 ms':>7} {'p99 ms':>7}"
    )
    for r in results:
        h, n, q = r["hello"], r["notify"], r["half"]
        print(
            f"{r['store']:9} {h['rate']:9.0f} {n['accepted_rate']:11.0f} "
            f"{n['accepted_rate'] / h['rate']:6.2f} {n['p50_ms']:7.1f} {n['p99_ms']:7.1f} | "
            f"{q['rate']:11.0f} {q['p50_ms']:7.1f} {q['p99_ms']:7.1f}"
        )
        if n["non2xx"] or n["errors"] or n["accepted"] < n["requests"]:
            print(
                f"  note: {n['non2xx']} non-2xx, {n['errors']} socket errors, "
                f"{n['requests'] - n['accepted']} requests not accepted",
                file=sys.stderr,
            )
    print("JSON " + json.dumps(results))


if __name__ == "__main__":
    main()
