"""Admission of new calls by delay: an INVITE that waited too long is refused, and "too
long" is shorter once the CPU is saturated."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from tests.engine.test_lingering import SDP, Caller
from voxgate.engine import AtCapacity, Engine, EngineConfig, InboundLeg
from voxgate.engine.overload import SATURATED, WINDOW, Admission
from voxgate.engine.testing import engine_pair

TARGET = 0.1
SATURATED_TARGET = 0.005


def idle_cpu() -> float:
    """A process clock that never moves: the engine uses no CPU."""
    return 0.0


class Cpu:
    """A process clock the test moves: ``spend(share)`` uses that share of a window."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def spend(self, share: float) -> None:
        self.t += share * WINDOW


def run_window(
    admission: Admission, start: float, offered: int, waited: float, calls: int = 50
) -> int:
    """Offer ``offered`` INVITEs, each having waited ``waited``, in the window starting at
    ``start``, with ``calls`` calls up. Returns how many were admitted."""
    admitted = 0
    for i in range(offered):
        now = start + i * WINDOW / (offered + 1)
        admission.observe(now, waited)
        if not admission.full(now, waited, calls):
            admitted += 1
    return admitted


def test_while_the_engine_keeps_up_every_call_is_admitted() -> None:
    admission = Admission(TARGET, SATURATED_TARGET, cpu_clock=idle_cpu)
    for w in range(50):
        assert run_window(admission, w * WINDOW, 300, 0.001) == 300
    assert admission.allowed(50) == TARGET


def test_an_invite_that_waited_longer_than_the_target_is_refused() -> None:
    admission = Admission(TARGET, SATURATED_TARGET, cpu_clock=idle_cpu)
    assert run_window(admission, 0.0, 100, TARGET * 1.01) == 0
    # with CPU to spare a delay short of the target costs no call: a burst, a collection
    assert run_window(admission, WINDOW, 100, TARGET * 0.9) == 100


def test_once_the_cpu_is_saturated_an_invite_may_wait_only_the_saturated_target() -> None:
    cpu = Cpu()
    admission = Admission(TARGET, SATURATED_TARGET, cpu_clock=cpu)
    waited = SATURATED_TARGET * 3  # short of the target, past the saturated one
    assert run_window(admission, 0.0, 100, waited) == 100
    cpu.spend(SATURATED)  # that window was spent on the CPU
    assert run_window(admission, WINDOW, 100, waited) == 0
    assert admission.saturated and admission.allowed(50) == SATURATED_TARGET
    cpu.spend(1.0)
    # the ones that waited less are taken: a saturated engine still serves
    assert run_window(admission, 2 * WINDOW, 100, SATURATED_TARGET / 2) == 100
    cpu.spend(SATURATED - 0.05)  # one window with room: the process may just have got less
    assert run_window(admission, 3 * WINDOW, 100, waited) == 0
    assert admission.saturated and admission.allowed(50) == SATURATED_TARGET
    cpu.spend(SATURATED - 0.05)  # room again in the next: the target rules again
    assert run_window(admission, 4 * WINDOW, 100, waited) == 100
    assert not admission.saturated and admission.allowed(50) == TARGET


def test_a_saturated_window_long_ago_is_forgotten() -> None:
    cpu = Cpu()
    admission = Admission(TARGET, SATURATED_TARGET, cpu_clock=cpu)
    run_window(admission, 0.0, 10, 0.0)
    cpu.spend(1.0)
    run_window(admission, WINDOW, 10, 0.0)
    assert admission.saturated
    # nothing observed for a while: the next window is judged alone, by its own share
    cpu.spend(0.5)
    assert run_window(admission, 5 * WINDOW, 100, SATURATED_TARGET * 3) == 100
    assert not admission.saturated


def test_the_saturated_target_never_lengthens_the_wait() -> None:
    cpu = Cpu()
    admission = Admission(TARGET, TARGET * 2, cpu_clock=cpu)
    run_window(admission, 0.0, 10, 0.0)
    cpu.spend(1.0)
    run_window(admission, WINDOW, 10, 0.0)
    assert admission.saturated and admission.allowed(50) == TARGET
    assert Admission(TARGET, 0.0, busy=1.0).allowed(50) == TARGET  # 0: no saturated target


def test_our_own_calls_wait_while_this_window_or_the_last_ran_late() -> None:
    admission = Admission(TARGET, SATURATED_TARGET, cpu_clock=idle_cpu)
    assert admission.admit(0.0, 1)
    admission.observe(0.01, TARGET * 2)  # a timer ran 200 ms late
    assert not admission.admit(0.02, 1)
    assert not admission.admit(WINDOW + 0.01, 1)  # the window after: the last one was late
    admission.observe(2 * WINDOW + 0.01, 0.0)
    assert admission.admit(2 * WINDOW + 0.02, 1)
    # a stretch with nothing observed is no delay
    admission.observe(3 * WINDOW, TARGET * 2)
    assert admission.admit(10.0, 1)


def test_saturated_and_late_by_more_than_the_saturated_target_places_no_call() -> None:
    cpu = Cpu()
    admission = Admission(TARGET, SATURATED_TARGET, cpu_clock=cpu)
    run_window(admission, 0.0, 10, 0.0)
    cpu.spend(1.0)
    admission.observe(WINDOW, SATURATED_TARGET * 2)
    assert not admission.admit(WINDOW + 0.01, 1)
    admission.busy = 0.5
    assert admission.admit(WINDOW + 0.02, 1)


def test_with_no_call_up_a_saturated_cpu_is_not_the_engine_s_and_the_target_rules() -> None:
    cpu = Cpu()
    admission = Admission(TARGET, SATURATED_TARGET, cpu_clock=cpu)
    run_window(admission, 0.0, 10, 0.0)
    cpu.spend(1.0)  # the process was busy: starting up, or some other part of it
    waited = SATURATED_TARGET * 3
    assert run_window(admission, WINDOW, 100, waited, calls=0) == 100
    assert admission.saturated and admission.allowed(0) == TARGET
    assert admission.admit(WINDOW * 1.5, 0)
    cpu.spend(1.0)
    assert run_window(admission, 2 * WINDOW, 100, waited, calls=1) == 0  # one call: it rules
    assert not admission.admit(WINDOW * 2.5, 1)


def test_disabled_admits_everything() -> None:
    admission = Admission(0.0, SATURATED_TARGET, busy=1.0)
    admission.observe(0.0, 5.0)
    assert not any(admission.full(0.0, waited=5.0, calls=50) for _ in range(1000))
    assert admission.admit(0.0, 1)


def _hold(engine: Engine, *, busy: float, worst: float = 0.0) -> None:
    """Fix what the engine's admission knows for the rest of the test: the last window's
    CPU share and this window's worst delay."""
    admission = engine.admission
    admission.window_start = engine.loop.time() + 1000  # one window for the whole test
    admission.busy = busy
    admission.worst = worst


async def test_an_invite_that_waited_in_the_socket_too_long_gets_a_stateless_503() -> None:
    async with Engine(EngineConfig(accept_any_source=True)) as engine:

        async def answer(leg: InboundLeg) -> None:
            await leg.answer()

        server = asyncio.create_task(engine.serve_incoming(answer))
        caller = Caller(engine.port())

        def invite(call: str) -> bytes:
            raw = caller.request("INVITE", call, 1, SDP.format(port=caller.port + 2))
            return raw.replace(b"Call-ID: linger-1", b"Call-ID: " + call.encode())

        def held(data: bytes, seconds: float) -> None:
            """Send while the engine's loop is held: the INVITE waits in its socket."""
            caller.sock.sendto(data, caller.target)
            time.sleep(seconds)

        try:
            # the first socket asking for receive times makes the kernel start stamping
            # datagrams from a work queue, a moment later; until then a datagram's time is
            # taken when it is read
            await asyncio.sleep(0.2)
            _hold(engine, busy=0.0)
            held(invite("late"), 0.15)  # past shed_delay (100 ms)
            refusal = await caller.final()
            assert refusal.status == 503 and refusal.headers.get("Retry-After") == "5"
            assert (refusal.to.tag or "").startswith("vxshed")
            assert engine.shed_invites == engine.admission.shed == 1
            held(invite("burst"), 0.04)  # CPU to spare: a 40 ms wait costs no call
            assert (await caller.final()).status == 200
            _hold(engine, busy=1.0)  # saturated: shed_delay_saturated (3 ms) rules
            held(invite("saturated"), 0.004)  # admitted were it 5 ms
            assert (await caller.final()).status == 503
            assert engine.shed_invites == 2
        finally:
            server.cancel()
            caller.sock.close()


async def test_an_engine_running_behind_refuses_invites_statelessly_and_places_no_calls() -> None:
    async with engine_pair() as (a, b):
        a.admission.target = 0.0  # the caller places whatever it is asked, however loaded
        b.admission.target = 1e-6  # no INVITE is read that fast: b refuses them all
        legs = await asyncio.gather(
            *(a.dial("100", trunk=b.trunk_to_me(), ring_timeout=5) for _ in range(10))
        )
        for leg in legs:
            hangup = await leg.wait_ended(2)
            assert (hangup.sip_status, hangup.side) == (503, "remote")
            assert "Retry-After: 5" in leg.trace.render()
            assert ";tag=vxshed" in leg.trace.render()  # the stateless refusal
        assert b.shed_invites == b.admission.shed == 10
        a.admission.target = 0.1
        _hold(a, busy=0.0, worst=0.2)  # a runs 200 ms late: dispatcher work waits
        tries = (a.dial("200", trunk=b.trunk_to_me()) for _ in range(10))
        results = await asyncio.gather(*tries, return_exceptions=True)
        assert all(isinstance(r, AtCapacity) and r.behind for r in results), results
        assert "running behind" in str(results[0])


async def test_a_busy_process_with_no_call_up_still_places_a_call() -> None:
    async with engine_pair() as (a, b):
        _hold(a, busy=1.0, worst=SATURATED_TARGET * 2)  # the start kept the CPU busy
        first = await a.dial("100", trunk=b.trunk_to_me(), ring_timeout=5)
        # with that call up the same state is a saturated engine: no second call
        with pytest.raises(AtCapacity, match="running behind"):
            await a.dial("100", trunk=b.trunk_to_me(), ring_timeout=5)
        inc = await b.incoming(timeout=3)
        await inc.answer()
        assert await first.wait_answered(3)
        await first.hangup()


async def test_a_refused_invite_is_refused_alike_again_and_an_admitted_one_never() -> None:
    async with Engine(EngineConfig(accept_any_source=True)) as engine:
        caller = Caller(engine.port())
        try:

            def invite(call: str) -> bytes:
                body = SDP.format(port=caller.port + 2)
                raw = caller.request("INVITE", call, 1, body)
                return raw.replace(b"Call-ID: linger-1", b"Call-ID: " + call.encode())

            first = invite("one")
            await caller.send(first)
            await asyncio.sleep(0.2)
            assert engine.shed_invites == 0
            engine.admission.target = 1e-6  # from now on every new INVITE waited too long
            await caller.send(first)  # a retransmission of an admitted INVITE: its call's
            await asyncio.sleep(0.2)
            assert engine.shed_invites == 0
            third = invite("three")
            await caller.send(third)
            refusal = await caller.final()
            await caller.send(third)  # a retransmission: refused alike, the same To tag
            again = await caller.final()
            assert refusal.status == again.status == 503
            assert refusal.to.tag == again.to.tag and (refusal.to.tag or "").startswith("vxshed")
            assert engine.shed_invites == 2
        finally:
            caller.sock.close()


PREEMPTED = """
import os, subprocess, sys, time
from voxgate.engine.overload import cpu_demand, run_delay
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
rival = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # same CPU: inherited
try:
    time.sleep(0.2)  # the rival is up and spinning
    wall, cpu, waited, demand = time.monotonic(), time.process_time(), run_delay(), cpu_demand()
    while time.monotonic() - wall < 0.6:
        pass
    elapsed = time.monotonic() - wall
    print(time.process_time() - cpu, run_delay() - waited, cpu_demand() - demand, elapsed)
finally:
    rival.kill()
"""


def test_time_spent_waiting_for_a_cpu_another_process_holds_counts_as_busy() -> None:
    """Two busy processes on one CPU: each gets about half of it. The engine's clock
    counts the half it waited as well, so its window reads busy, not half idle."""
    out = subprocess.run(
        [sys.executable, "-c", PREEMPTED], capture_output=True, text=True, check=True, timeout=30
    )
    cpu, waited, demand, elapsed = map(float, out.stdout.split())
    assert cpu < 0.8 * elapsed  # the rival took a share of the CPU
    assert waited > 0.15 * elapsed  # and that share shows as time waiting for it
    assert demand > 0.9 * elapsed  # busy, as a saturated engine is
