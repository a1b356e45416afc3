"""The call engine: media pacing, call set-up rate, message cost, memory per call.

Each figure is printed next to a baseline measured in the same run:

(a) concurrent calls playing audio in this process: p99 lateness of the media clock's
    wakeups (every packet goes out at a wakeup) against a bare tick sender (one timer per
    1 ms slot, each sending a 172-byte datagram to its share of the same receivers, every
    20 ms), run first while the calls are up; an answering engine in a second process
    receives (it sends nothing back).
(b) call set-ups and tear-downs per second: SIPp's built-in ``uac`` against an answering
    voxgate engine in a second process, against SIPp's ``uac`` calling SIPp's ``uas``.
(c) parsing and serializing an INVITE, against the standard library parsing the same
    header block (``email.parser`` via ``http.client.parse_headers``).
(d) memory per established idle call (both ends in this process, per call), against a
    bare asyncio UDP endpoint (the least a call with media needs).
(e) overload: SIPp offers twice the peak (the mean of the peaks so far; a peak is SIPp
    keeping calls going against an engine without overload control, at the concurrency
    of 50, 100 or 200 that did best in a calibration), open loop, with a scenario that
    takes a 503 as an answer; completed calls per second against the peak. Peaks and
    floods alternate (``--flood-rounds``), each flood taken against the peaks on either
    side of it, each one run, and each peak runs about as long as a flood; one flood
    goes to an engine that does not shed.

Usage: .venv/bin/python bench/engine.py [--calls 250,500,1000] [--setups 5000] [--seconds 5]
       [--flood-seconds 5] [--flood-rounds 5] [--only a,b,c,d,e]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import gc
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from voxgate.engine import AtCapacity, Engine, EngineConfig, InboundLeg, PortRange, Trunk
from voxgate.engine.call import LegError
from voxgate.engine.testing import engine_pair
from voxgate.media import g711, tones
from voxgate.media.render import TelephoneAudio
from voxgate.sip.message import parse_message

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

INVITE = (
    b"INVITE sip:4155550100@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'To: "Customer" <sip:4155550100@127.0.0.1>\r\n'
    b'From: "Voxgate" <sip:4155550000@127.0.0.1>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@127.0.0.1\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:voxgate@127.0.0.1:5070>\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE\r\n"
    b"User-Agent: voxgate\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 211\r\n"
    b"\r\n"
    b"v=0\r\no=voxgate 123456 1 IN IP4 127.0.0.1\r\ns=voxgate\r\nc=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\nm=audio 20000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\na=ptime:20\r\n"
)


# -- the answering side, run in its own process ----------------------------------------------
async def _answer_forever(port: int, *, send_media: bool, shed_delay: float) -> None:
    config = EngineConfig(
        shed_delay=shed_delay,
        sip_port=port,
        transports=("udp",),
        accept_any_source=True,
        silence_fill=send_media,
        inband_dtmf=False,
        rtp_timeout=0,
        max_calls=100_000,
        max_pending_incoming=100_000,
        rtp_ports=PortRange(20000, 60999),
    )

    async def serve(leg: InboundLeg) -> None:
        with contextlib.suppress(LegError):  # cancelled by the caller before we answered
            await leg.answer()
            await leg.wait_ended()

    async with Engine(config) as engine:
        gc.collect()
        gc.freeze()  # as an engine worker process does once started
        print("ready", flush=True)
        await engine.serve_incoming(serve)


def start_answerer(
    port: int, *, send_media: bool, shed_delay: float = 0.0
) -> subprocess.Popen[str]:
    """An answering engine in its own process (overload shedding off unless asked for)."""
    proc = subprocess.Popen(
        [
            PY,
            __file__,
            "--answer",
            str(port),
            "--shed-delay",
            str(shed_delay),
            *([] if send_media else ["--quiet"]),
        ],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError("the answering engine did not start")
    return proc


@contextlib.contextmanager
def media_peer(kind: str) -> Iterator[int]:
    """A callee in its own process, yielding its SIP port.

    ``sipp``: SIPp's ``uas`` answers every call with one media port and does not read
    what arrives there (the kernel drops it), as a carrier's media server elsewhere costs
    the sending node nothing. ``voxgate``: an answering engine, which reads and parses
    every packet on the same cores as the senders.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="voxgate-bench-peer-") as tmp:
        peer: subprocess.Popen[Any]
        if kind == "voxgate":
            peer = start_answerer(port, send_media=False)
        else:
            peer = subprocess.Popen(
                ["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-nostdin", "-nd"],
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            time.sleep(0.5)
        try:
            yield port
        finally:
            stop(peer)


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


# -- (a) media pacing -------------------------------------------------------------------------
PACING_CONFIG = EngineConfig(
    transports=("udp",),
    rtp_timeout=0,
    inband_dtmf=False,
    silence_fill=False,  # nothing is sent but the prompts (and the baseline's packets)
    rtp_ports=PortRange(20000, 60999),
)


async def _dial_and_wait(engine: Engine, n: int, answer_port: int) -> list[Any]:
    trunk = Trunk("127.0.0.1", answer_port)
    legs = []
    for i in range(n):
        while True:
            try:
                legs.append(await engine.dial(str(1000 + i), trunk=trunk, ring_timeout=30))
                break
            except AtCapacity:
                await asyncio.sleep(0.05)  # the engine runs behind: as a dispatcher would
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # do not flood the answerer's socket
    # a call not up in time is left out of the figures (counted as not answered)
    await asyncio.gather(*(leg.wait_answered(60) for leg in legs), return_exceptions=True)
    return legs


async def _observe_clock(engine: Engine, seconds: float) -> tuple[list[float], float]:
    """Lateness of the media clock's wakeups over ``seconds``, and packets sent per second."""
    clock = engine.clock
    lateness: list[float] = []
    fire = clock._fire  # the bench observes the clock's own wakeups

    def observed() -> None:
        lateness.append(engine.loop.time() - clock._time_of(clock._next))
        fire()

    clock._fire = observed  # type: ignore[method-assign]
    if clock._handle is not None:
        clock._handle.cancel()
        clock._arm()
    ticks, skips = clock.ticks, clock.skips
    await asyncio.sleep(seconds)
    sent = (clock.ticks - ticks) / seconds  # packets the clock sent per second
    if clock.skips != skips:
        print(f"note: the media clock fell behind {clock.skips - skips} times", file=sys.stderr)
    clock._fire = fire  # type: ignore[method-assign]
    return lateness, sent


def _prompt() -> TelephoneAudio:
    return TelephoneAudio("pcmu", g711.encode("pcmu", tones.tone((440.0,), 60.0)))


async def _engine_pacing(
    n: int, seconds: float, answer_port: int
) -> tuple[float, float, float, float, int, float]:
    audio = _prompt()
    async with Engine(PACING_CONFIG) as engine:
        legs = await _dial_and_wait(engine, n, answer_port)
        answered = sum(leg.state == "answered" for leg in legs)
        targets = [leg.rtp.remote for leg in legs if leg.rtp.remote is not None]
        bare_p50, bare_p99 = await _bare_pacing(targets, seconds)
        players = [asyncio.create_task(leg.play(audio)) for leg in legs]
        await asyncio.sleep(1.0)  # let the set-up settle
        lateness, sent = await _observe_clock(engine, seconds)
        for task in players:
            task.cancel()
        await asyncio.gather(*(leg.hangup() for leg in legs), return_exceptions=True)
    p50, p99 = pct(lateness, 50) * 1000, pct(lateness, 99) * 1000
    return p50, p99, bare_p50, bare_p99, answered, sent


async def _node_worker(engine: Engine, arg: tuple[int, float, int, float, str]) -> None:
    """One media worker's share of (a) per node: dial its calls, then at wall-clock
    ``start`` run the bare sender to them, then play to them and observe its clock."""
    n, seconds, answer_port, start, out_dir = arg
    assert engine.config.worker is not None
    out = Path(out_dir) / f"worker{engine.config.worker.index}.json"
    audio = _prompt()
    legs = await _dial_and_wait(engine, n, answer_port)
    targets = [leg.rtp.remote for leg in legs if leg.rtp.remote is not None]
    await asyncio.sleep(max(0.0, start - time.time()))
    bare = await _bare_samples(targets, seconds)
    players = [asyncio.create_task(leg.play(audio)) for leg in legs]
    await asyncio.sleep(1.0)
    lateness, sent = await _observe_clock(engine, seconds)
    result = {
        "answered": sum(leg.state == "answered" for leg in legs),
        "lateness": lateness,
        "bare": bare,
        "sent": sent,
    }
    out.write_text(json.dumps(result))
    for task in players:
        task.cancel()
    await asyncio.gather(*(leg.hangup() for leg in legs), return_exceptions=True)
    await asyncio.Event().wait()  # stay up until the group stops us


def bench_pacing_node(total: int, workers: int, seconds: float, receiver: str) -> dict[str, Any]:
    """(a) per node: ``total`` calls over ``workers`` engine processes sharing one SIP port,
    against as many bare tick senders running at once to the same receivers."""
    from voxgate.engine.workers import WorkerGroup

    with (
        media_peer(receiver) as port,
        tempfile.TemporaryDirectory(prefix="voxgate-bench-node-") as tmp,
    ):
        outs = [Path(tmp) / f"worker{i}.json" for i in range(workers)]
        start = time.time() + 15 + total / 100  # dialling takes a while
        config = replace(PACING_CONFIG, sip_port=free_port())
        arg = (total // workers, seconds, port, start, tmp)
        with WorkerGroup(config, workers, _node_worker, arg):
            deadline = time.time() + 120 + 2 * seconds
            while not all(out.exists() for out in outs) and time.time() < deadline:
                time.sleep(0.2)
        results = [json.loads(out.read_text()) for out in outs if out.exists()]
    if len(results) != workers:
        raise RuntimeError(f"{workers - len(results)} media worker(s) did not report")
    lateness = [x for r in results for x in r["lateness"]]
    bare = [x for r in results for x in r["bare"]]
    return {
        "calls": total,
        "workers": workers,
        "answered": sum(r["answered"] for r in results),
        "sent": sum(r["sent"] for r in results),
        "p50": pct(lateness, 50) * 1000,
        "p99": pct(lateness, 99) * 1000,
        "bare_p50": pct(bare, 50) * 1000,
        "bare_p99": pct(bare, 99) * 1000,
    }


async def _bare_pacing(targets: list[tuple[str, int]], seconds: float) -> tuple[float, float]:
    lateness = await _bare_samples(targets, seconds)
    return pct(lateness, 50) * 1000, pct(lateness, 99) * 1000


async def _bare_samples(targets: list[tuple[str, int]], seconds: float) -> list[float]:
    """The reference: one timer per 1 ms slot, each sending one 172-byte datagram to each of
    its share of the same receivers the engine's calls send to. Returns each wakeup's
    lateness, seconds."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    payload = bytes(172)
    slots = 20
    shares = [targets[i::slots] for i in range(slots)]
    lateness: list[float] = []
    epoch = loop.time() + 0.05
    end = epoch + seconds
    done = loop.create_future()

    def fire(index: int) -> None:
        now = loop.time()
        lateness.append(now - (epoch + index * 0.001))
        for target in shares[index % slots]:
            transport.sendto(payload, target)
        if now >= end:
            done.set_result(None)
            return
        loop.call_at(epoch + (index + 1) * 0.001, fire, index + 1)

    loop.call_at(epoch, fire, 0)
    await done
    transport.close()
    return lateness


def bench_pacing(counts: list[int], seconds: float, receiver: str) -> list[dict[str, Any]]:
    out = []
    for n in counts:
        with media_peer(receiver) as port:
            p50, p99, b50, b99, up, sent = asyncio.run(_engine_pacing(n, seconds, port))
        out.append(
            {
                "calls": n,
                "answered": up,
                "sent": sent,
                "p50": p50,
                "p99": p99,
                "bare_p50": b50,
                "bare_p99": b99,
            }
        )
    return out


# -- (b) call set-ups per second ---------------------------------------------------------------
def sipp_uac(target: str, calls: int, workdir: Path) -> tuple[float, int, int]:
    """SIPp's uac at full speed (bounded by 200 calls at once): calls/s, successes, failures."""
    stat = workdir / f"uac_{target.replace(':', '_')}.csv"
    started = time.monotonic()
    subprocess.run(
        [
            "sipp",
            target,
            "-sn",
            "uac",
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port()),
            "-r",
            "5000",
            "-l",
            "200",
            "-m",
            str(calls),
            "-nostdin",
            "-nd",
            "-trace_stat",
            "-stf",
            str(stat),
            "-fd",
            "1",
            "-timeout",
            "120s",
            "-timeout_error",
        ],
        cwd=workdir,
        capture_output=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    rows = list(csv.reader(stat.read_text().splitlines(), delimiter=";"))
    head, last = rows[0], rows[-1]
    ok = int(last[head.index("SuccessfulCall(C)")])
    failed = int(last[head.index("FailedCall(C)")])
    return ok / elapsed, ok, failed


def bench_setups(calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="voxgate-bench-engine-") as tmp:
        work = Path(tmp)
        with media_peer("sipp") as uas_port:
            ref_rate, ref_ok, ref_failed = sipp_uac(f"127.0.0.1:{uas_port}", calls, work)
        port = free_port()
        answerer = start_answerer(port, send_media=True)
        try:
            rate, ok, failed = sipp_uac(f"127.0.0.1:{port}", calls, work)
        finally:
            stop(answerer)
    return {
        "rate": rate,
        "ok": ok,
        "failed": failed,
        "ref_rate": ref_rate,
        "ref_ok": ref_ok,
        "ref_failed": ref_failed,
    }


# -- (e) overload ------------------------------------------------------------------------------
SHED_SCENARIO = ROOT / "tests" / "interop" / "scenarios" / "uac_shed.xml"


def sipp_offer(
    target: str, workdir: Path, *, rate: int, calls: int, limit: int
) -> dict[str, float]:
    """SIPp placing ``calls`` at ``rate``/s (at most ``limit`` at once) with a scenario that
    takes 503 as an answer: completed calls/s and what happened to the others."""
    run = workdir / f"{target.replace(':', '_')}_{rate}_{limit}"
    run.mkdir()
    cmd = ["sipp", target, "-sf", str(SHED_SCENARIO), "-i", "127.0.0.1", "-p", str(free_port())]
    cmd += ["-r", str(rate), "-l", str(limit), "-m", str(calls), "-d", "0", "-nostdin", "-nd"]
    cmd += ["-trace_counts", "-trace_stat", "-stf", str(run / "stat.csv"), "-fd", "1"]
    cmd += ["-timeout", "120s", "-timeout_error"]
    started = time.monotonic()
    subprocess.run(cmd, cwd=run, capture_output=True, check=False)
    elapsed = time.monotonic() - started
    stat = list(csv.reader((run / "stat.csv").read_text().splitlines(), delimiter=";"))
    counts_file = next(run.glob("*_counts.csv"))
    counts = list(csv.reader(counts_file.read_text().splitlines(), delimiter=";"))
    last = dict(zip(counts[0], counts[-1], strict=False))
    completed = int(last["9_200_Recv"])  # the 200 to our BYE: see uac_shed.xml
    return {
        "rate": completed / elapsed,
        "completed": completed,
        "refused": int(last["4_503_Recv"]),
        "invite_retrans": int(last["0_INVITE_Retrans"]),
        "failed": int(stat[-1][stat[0].index("FailedCall(C)")]),
    }


def _offer_to_answerer(
    work: Path, *, shed_delay: float, rate: int, calls: int, limit: int
) -> dict[str, float]:
    port = free_port()
    answerer = start_answerer(port, send_media=True, shed_delay=shed_delay)
    try:
        return sipp_offer(f"127.0.0.1:{port}", work, rate=rate, calls=calls, limit=limit)
    finally:
        stop(answerer)


# calls SIPp keeps going at once when measuring the peak (closed loop): too few leave the
# engine waiting for SIPp, too many queue messages and make every call last longer
PEAK_CONCURRENCY = (50, 100, 200)
CALIBRATION_ROUNDS = 2


def _closed_loop(work: Path, calls: int, limit: int) -> float:
    """Calls/s completed by SIPp keeping ``limit`` calls going, against an engine without
    overload control."""
    return _offer_to_answerer(work, shed_delay=0.0, rate=5000, calls=calls, limit=limit)["rate"]


def _best_concurrency(work: Path, calls: int) -> tuple[int, float]:
    """The concurrency of ``PEAK_CONCURRENCY`` with the best mean rate over
    ``CALIBRATION_ROUNDS`` rounds of ``calls`` calls, and that mean."""
    rates: dict[int, list[float]] = {limit: [] for limit in PEAK_CONCURRENCY}
    for _ in range(CALIBRATION_ROUNDS):
        for limit in PEAK_CONCURRENCY:
            rates[limit].append(_closed_loop(work, calls, limit))
    means = {limit: sum(r) / len(r) for limit, r in rates.items()}
    best = max(means, key=means.__getitem__)
    return best, means[best]


def bench_overload(seconds: float, calls: int, rounds: int) -> dict[str, Any]:
    """Peaks and floods in turn: peak, flood, peak, flood, ..., peak. A peak is SIPp
    keeping calls going (closed loop) against an engine without overload control, at
    the concurrency of 50, 100 or 200 that did best in a calibration first; a flood
    offers twice the mean of the peaks so far, open loop, for ``seconds``, to an engine
    that sheds by delay (the default). Each flood is taken against the mean of the peaks on
    either side of it: the machine's speed drifts by a tenth or more within a minute, so
    a peak taken once for all floods would measure the drift as much as the engine.
    Each peak is one run, like each flood: the best of several noisy runs would be
    biased upwards (by 2.5 % on this machine). Each peak also runs about ``seconds``,
    sized by the rate of the one before it. One flood of the same rate goes to an
    engine that does not shed, after the first round."""
    with tempfile.TemporaryDirectory(prefix="voxgate-bench-overload-") as tmp:
        work = Path(tmp)
        limit, estimate = _best_concurrency(work, calls)
        # a peak runs as long as a flood: the engine keeps each call's SIP trace for 32 s
        # after it ends, so its heap, and the collector's work a call, grows through a run
        peaks = [_closed_loop(work, int(estimate * seconds), limit)]
        floods: list[dict[str, Any]] = []
        unshed: dict[str, Any] = {}
        for i in range(rounds):
            # twice the capacity, as best known: the mean of the peaks so far (one peak
            # alone is off by a tenth or more, and the flood with it)
            offered = int(2 * sum(peaks) / len(peaks))
            flood = {"rate": offered, "calls": int(offered * seconds), "limit": offered * 10}
            shed = _offer_to_answerer(work, shed_delay=EngineConfig().shed_delay, **flood)
            if i == 0:
                unshed = _offer_to_answerer(work, shed_delay=0.0, **flood)
                unshed["offered"] = offered
            peaks.append(_closed_loop(work, int(peaks[-1] * seconds), limit))
            shed["offered"] = offered
            shed["peak"] = (peaks[-2] + peaks[-1]) / 2
            shed["ratio"] = shed["rate"] / shed["peak"]
            floods.append(shed)
    unshed["ratio"] = unshed["rate"] / floods[0]["peak"]
    return {"peaks": peaks, "floods": floods, "unshed": unshed, "calibration": (limit, estimate)}


# -- (c) message cost --------------------------------------------------------------------------
def bench_parse(rounds: int = 20000, runs: int = 50) -> dict[str, float]:
    """Best time per call over many short runs, ours and the baseline interleaved.

    The machine is shared, so one long run measures its load as much as the code: the
    fastest of many short runs is the least disturbed one, and interleaving the two
    functions gives both the same chances of a quiet moment.
    """

    def ours() -> None:
        parse_message(INVITE).to_bytes()

    head = INVITE.split(b"\r\n", 1)[1].split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"

    def stdlib() -> None:
        http.client.parse_headers(io.BytesIO(head)).as_bytes()

    per_run = rounds // runs
    best = {"ours_us": float("inf"), "stdlib_us": float("inf")}
    for _ in range(runs):
        for key, fn in (("ours_us", ours), ("stdlib_us", stdlib)):
            t = time.perf_counter()
            for _ in range(per_run):
                fn()
            best[key] = min(best[key], (time.perf_counter() - t) / per_run * 1e6)
    return best


# -- (d) memory per idle call ------------------------------------------------------------------
async def _memory(n: int) -> tuple[float, float]:
    # no shedding: under tracemalloc the loop runs late enough to refuse calls
    config = EngineConfig(transports=("udp",), rtp_timeout=0, shed_delay=0)
    async with engine_pair(config) as (a, b):
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        pairs = []
        for i in range(n):
            out = await a.dial(str(i), trunk=b.trunk_to_me(), ring_timeout=10)
            inc = await b.incoming(timeout=10)
            await inc.answer()
            await out.wait_answered(10)
            pairs.append((out, inc))
        await asyncio.sleep(2.0)  # idle: a few silence packets each way, traces settled
        gc.collect()
        after = tracemalloc.take_snapshot()
        per_call = sum(s.size_diff for s in after.compare_to(before, "filename")) / n
        tracemalloc.stop()
        for out, _ in pairs:
            await out.hangup()
    loop = asyncio.get_running_loop()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    transports = [
        (
            await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
            )
        )[0]
        for _ in range(n)
    ]
    gc.collect()
    after = tracemalloc.take_snapshot()
    bare = sum(s.size_diff for s in after.compare_to(before, "filename")) / n
    tracemalloc.stop()
    for t in transports:
        t.close()
    return per_call, bare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", default="250,500,1000")
    parser.add_argument("--node-calls", default="1000,1500,2000")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--setups", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--memory-calls", type=int, default=200)
    parser.add_argument("--only", default="a,n,b,c,d,e")
    parser.add_argument("--answer", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--shed-delay", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--flood-seconds", type=float, default=5.0)
    parser.add_argument("--flood-rounds", type=int, default=5)
    parser.add_argument(
        "--receiver",
        choices=("sipp", "voxgate"),
        default="sipp",
        help="callee of (a): SIPp leaving the RTP unread, or an answering engine reading it",
    )
    args = parser.parse_args()
    if args.answer:
        asyncio.run(
            _answer_forever(args.answer, send_media=not args.quiet, shed_delay=args.shed_delay)
        )
        return
    only = set(args.only.split(","))
    print(f"bench/engine.py — {os.cpu_count()} cores; (a) callee: {args.receiver}")
    if "c" in only:
        p = bench_parse()
        print(
            f"(c) INVITE parse+serialize: {p['ours_us']:.1f} µs; stdlib header parse of the "
            f"same block {p['stdlib_us']:.1f} µs; ratio {p['ours_us'] / p['stdlib_us']:.2f}"
        )
    if "d" in only:
        per_call, bare = asyncio.run(_memory(args.memory_calls))
        print(
            f"(d) memory per idle established call (both ends): {per_call / 1024:.1f} KB; "
            f"bare UDP endpoint {bare / 1024:.1f} KB; ratio {per_call / bare:.1f}"
        )
    if "b" in only:
        s = bench_setups(args.setups)
        print(
            f"(b) set-ups+tear-downs/s, SIPp uac -> voxgate: {s['rate']:.0f}/s "
            f"({s['ok']} ok, {s['failed']} failed); SIPp uac -> SIPp uas: "
            f"{s['ref_rate']:.0f}/s ({s['ref_ok']} ok, {s['ref_failed']} failed); "
            f"ratio {s['rate'] / s['ref_rate']:.2f}"
        )
    if "n" in only:
        for calls in (int(x) for x in args.node_calls.split(",")):
            r = bench_pacing_node(calls, args.workers, args.seconds, args.receiver)
            print(
                f"(a, node) {r['calls']} calls over {r['workers']} media workers "
                f"({r['answered']} answered, {r['sent']:.0f} packets/s): clock lateness "
                f"p50 {r['p50']:.2f} ms p99 {r['p99']:.2f} ms; {r['workers']} bare tick "
                f"senders at once p50 {r['bare_p50']:.2f} ms p99 {r['bare_p99']:.2f} ms; "
                f"p99 ratio {r['p99'] / max(r['bare_p99'], 1e-3):.1f}"
            )
    if "e" in only:
        o = bench_overload(args.flood_seconds, args.setups, args.flood_rounds)
        limit, estimate = o["calibration"]
        peaks = ", ".join(f"{rate:.0f}/s" for rate in o["peaks"])
        print(
            f"(e) calibration: {limit} calls at once did best ({estimate:.0f}/s, mean of "
            f"{CALIBRATION_ROUNDS}); peaks at {limit} at once, in turn with the floods: {peaks}"
        )
        for i, r in enumerate(o["floods"], 1):
            print(
                f"(e) flood {i}: {r['offered']}/s offered (2 x the peaks so far), shedding "
                f"by delay: {r['rate']:.0f} completed/s, ratio to the peaks around it "
                f"({r['peak']:.0f}/s) {r['ratio']:.2f}; {r['completed']} completed, "
                f"{r['refused']} refused with 503, {r['failed']} failed, "
                f"{r['invite_retrans']} INVITE retransmissions"
            )
        u = o["unshed"]
        print(
            f"(e) {u['offered']}/s offered, no overload control: {u['rate']:.0f} completed/s, "
            f"ratio {u['ratio']:.2f}; {u['completed']} completed, {u['failed']} failed, "
            f"{u['invite_retrans']} INVITE retransmissions"
        )
        ratios = sorted(r["ratio"] for r in o["floods"])
        pooled = sum(r["rate"] for r in o["floods"]) / sum(r["peak"] for r in o["floods"])
        print(
            f"(e) ratio to peak, shedding by delay, over {len(ratios)} floods: lowest "
            f"{ratios[0]:.2f}, median {ratios[len(ratios) // 2]:.2f}, highest {ratios[-1]:.2f}; "
            f"all floods together {pooled:.2f}"
        )
        rates = o["peaks"]
        floor = sorted(
            rates[i] / ((rates[i - 1] + rates[i + 1]) / 2) for i in range(1, len(rates) - 1)
        )
        print(
            f"(e) noise floor, each inner peak against the peaks on either side of it, as a "
            f"flood is: lowest {floor[0]:.2f}, median {floor[len(floor) // 2]:.2f}, "
            f"highest {floor[-1]:.2f}"
        )
    if "a" in only:
        for r in bench_pacing([int(x) for x in args.calls.split(",")], args.seconds, args.receiver):
            print(
                f"(a) {r['calls']} calls playing ({r['answered']} answered, "
                f"{r['sent']:.0f} packets/s): clock lateness "
                f"p50 {r['p50']:.2f} ms p99 {r['p99']:.2f} ms; bare tick sender "
                f"p50 {r['bare_p50']:.2f} ms p99 {r['bare_p99']:.2f} ms; "
                f"p99 ratio {r['p99'] / max(r['bare_p99'], 1e-3):.1f}"
            )


if __name__ == "__main__":
    main()
