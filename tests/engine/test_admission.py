"""Admission of new calls by delay: free while the engine keeps up, AIMD once it falls behind."""

from __future__ import annotations

import asyncio
import math

import pytest

from tests.engine.test_lingering import SDP, Caller
from voxgate.engine import AtCapacity, Engine, EngineConfig
from voxgate.engine.overload import BUSY, CALM, FLOOR, WINDOW, Admission
from voxgate.engine.testing import engine_pair

TARGET = 0.05


def idle_cpu() -> float:
    """A process clock that never moves: the engine uses no CPU (the limit may grow)."""
    return 0.0


def run_window(admission: Admission, start: float, offered: int, delay: float) -> int:
    """Offer ``offered`` calls in the window starting at ``start``; the engine runs
    ``delay`` late throughout. Returns how many were admitted."""
    admitted = 0
    for i in range(offered):
        now = start + i * WINDOW / (offered + 1)
        admission.observe(now, delay)
        if admission.admit(now):
            admitted += 1
    return admitted


def test_while_the_engine_keeps_up_every_call_is_admitted() -> None:
    admission = Admission(TARGET, cpu_clock=idle_cpu)
    for w in range(50):
        assert run_window(admission, w * WINDOW, 300, 0.001) == 300
    assert admission.limit is None


def test_an_invite_that_waited_too_long_is_refused_even_when_calm() -> None:
    admission = Admission(TARGET, cpu_clock=idle_cpu)
    assert not admission.admit(0.0, waited=TARGET * 2)
    assert admission.admit(0.0, waited=TARGET / 2)


def test_falling_behind_cuts_the_rate_and_keeping_up_raises_it_again() -> None:
    admission = Admission(TARGET, cpu_clock=idle_cpu)
    assert run_window(admission, 0.0, 100, 0.0) == 100
    admission.observe(0.099, 0.2)  # the window ends late
    # very late (4 x the target): the next window gets half of what the late one admitted
    assert run_window(admission, WINDOW, 100, 0.2) == 50
    assert run_window(admission, 2 * WINDOW, 100, 0.2) == 25
    limits = []
    t = 3 * WINDOW
    for _ in range(10):  # caught up: the allowance grows again, by a tenth a window
        run_window(admission, t, 100, 0.0)
        limits.append(admission.limit)
        t += WINDOW
    assert limits == sorted(limits) and limits[0] is not None and limits[-1] is not None
    assert limits[0] < limits[-1]
    # long enough without delay or calls held back: no limit at all
    for _ in range(CALM + 1):
        run_window(admission, t, 10, 0.0)
        t += WINDOW
    assert admission.limit is None


def test_slightly_late_costs_a_tenth_and_the_cut_follows_the_delay() -> None:
    admission = Admission(TARGET, cpu_clock=idle_cpu)
    run_window(admission, 0.0, 100, 0.0)
    admission.observe(0.099, TARGET * 1.05)
    assert run_window(admission, WINDOW, 100, TARGET * 1.6) == 90
    assert run_window(admission, 2 * WINDOW, 100, 0.0) == math.ceil(90 / 1.6)


def test_the_first_window_to_run_late_stops_admitting_at_once() -> None:
    admission = Admission(TARGET, cpu_clock=idle_cpu)
    assert run_window(admission, 0.0, 50, 0.0) == 50
    assert run_window(admission, WINDOW, 100, 0.2) == FLOOR  # a surge is not let in whole
    assert admission.limit is None
    # then the limit rules, cut from the rate that ran the engine late: the window before
    # (the late one stopped early), very late (4 x the target) so halved
    assert run_window(admission, 2 * WINDOW, 100, 0.2) == 25


def test_with_cpu_to_spare_the_limit_climbs_fast() -> None:
    admission = Admission(TARGET, cpu_clock=idle_cpu)
    run_window(admission, 0.0, 200, 0.2)  # late from the start: the floor
    t = WINDOW
    for _ in range(15):
        run_window(admission, t, 200, 0.0)
        t += WINDOW
    # a third more a window: from 2 to about 90 in 15 windows (a tenth: about 25)
    assert admission.limit is not None and admission.limit > 80


def test_the_limit_is_not_raised_while_the_cpu_is_nearly_all_used() -> None:
    clock = {"t": 0.0}
    busy = Admission(TARGET, cpu_clock=lambda: clock["t"])  # all of every window on the CPU
    run_window(busy, 0.0, 100, 0.0)
    busy.observe(0.099, 0.2)
    t = WINDOW
    limits = []
    for _ in range(10):
        clock["t"] = t
        run_window(busy, t, 100, 0.0)
        limits.append(busy.limit)
        t += WINDOW
    assert limits[1:] == [limits[1]] * 9  # held, not raised: more calls would run late
    idle = Admission(TARGET, cpu_clock=idle_cpu)
    run_window(idle, 0.0, 100, 0.0)
    idle.observe(0.099, 0.2)
    for w in range(1, 11):
        run_window(idle, w * WINDOW, 100, 0.0)
    assert idle.limit is not None and idle.limit > limits[-1]  # the same, with CPU to spare


def test_the_limit_climbs_towards_the_cpu_share_it_aims_for() -> None:
    share = {"busy": 0.75}
    cpu = {"t": 0.0}

    def clock() -> float:
        return cpu["t"]

    admission = Admission(TARGET, cpu_clock=clock)
    run_window(admission, 0.0, 100, 0.0)
    admission.observe(0.099, 0.2)  # late: the next window's limit is 50
    t = WINDOW
    limits = []
    for _ in range(3):
        run_window(admission, t, 500, 0.0)
        cpu["t"] += share["busy"] * WINDOW  # the window's share of CPU
        limits.append(admission.limit)
        t += WINDOW
    # 75 % busy against the 90 % aimed for: a fifth more each window
    assert limits[0] == 50
    assert limits[1:] == pytest.approx([60, 72])
    share["busy"] = BUSY + 0.05  # past the aim: held (after the last window at 75 %)
    for _ in range(3):
        run_window(admission, t, 500, 0.0)
        cpu["t"] += share["busy"] * WINDOW
        t += WINDOW
    assert admission.limit == pytest.approx(72 * 1.2)


def test_the_limit_is_kept_while_it_holds_calls_back() -> None:
    admission = Admission(TARGET, cpu_clock=lambda: 10.0 * admission.window_start)
    run_window(admission, 0.0, 100, 0.0)
    admission.observe(0.099, 0.2)
    t = WINDOW
    for _ in range(3 * CALM):  # no delay, but a flood the limit keeps refusing
        run_window(admission, t, 500, 0.0)
        t += WINDOW
    assert admission.limit is not None


def test_however_late_a_trickle_still_gets_through() -> None:
    admission = Admission(TARGET, cpu_clock=idle_cpu)
    t = 0.0
    for _ in range(30):
        run_window(admission, t, 50, 0.2)
        t += WINDOW
    assert admission.limit == FLOOR
    assert run_window(admission, t, 50, 0.0) == FLOOR


def test_an_idle_stretch_counts_as_calm() -> None:
    admission = Admission(TARGET, cpu_clock=idle_cpu)
    run_window(admission, 0.0, 50, 0.2)
    run_window(admission, WINDOW, 50, 0.2)
    assert admission.limit is not None
    # nothing for ten seconds, then a burst: admitted in full
    assert run_window(admission, 10.0, 200, 0.0) == 200


def test_disabled_admits_everything() -> None:
    admission = Admission(0.0)
    assert all(admission.admit(0.0, waited=5.0) for _ in range(1000))


def _fall_behind(engine: Engine) -> None:
    """Make the engine's admission see a late window now (as a busy loop would)."""
    engine.admission.window_start = engine.loop.time()
    engine.admission.observe(engine.loop.time(), 1.0)
    engine.admission.window_start -= 2 * WINDOW


async def test_an_engine_running_behind_refuses_invites_statelessly_and_places_no_calls() -> None:
    async with engine_pair() as (a, b):
        a.admission.target = 0.0  # the caller admits whatever it is asked, however loaded
        _fall_behind(b)
        # ten calls at once, in one window: a trickle gets through, the rest are refused
        dials = (a.dial("100", trunk=b.trunk_to_me(), ring_timeout=5) for _ in range(10))
        legs = await asyncio.gather(*dials)
        await asyncio.sleep(1.0)
        refused = [leg for leg in legs if leg.ended]
        assert 1 <= len(refused) <= 10 - FLOOR
        for leg in refused:
            hangup = await leg.wait_ended(1)
            assert (hangup.sip_status, hangup.side) == (503, "remote")
            assert "Retry-After: 5" in leg.trace.render()
            assert ";tag=vxshed" in leg.trace.render()  # the stateless refusal
        assert b.shed_invites == b.admission.shed == len(refused)
        a.admission.target = TARGET
        _fall_behind(a)
        tries = (a.dial("200", trunk=b.trunk_to_me()) for _ in range(10))
        results = await asyncio.gather(*tries, return_exceptions=True)
        refusals = [r for r in results if isinstance(r, AtCapacity)]
        assert len(refusals) >= 10 - FLOOR
        assert all(r.behind and "running behind" in str(r) for r in refusals)


async def test_a_call_is_counted_once_and_a_refused_invite_is_refused_alike_again() -> None:
    async with Engine(EngineConfig(accept_any_source=True)) as engine:
        admission = engine.admission
        admission.window_start = engine.loop.time() + 1000  # one window for the whole test
        admission.limit = 2
        caller = Caller(engine.port())
        try:

            def invite(call: str) -> bytes:
                body = SDP.format(port=caller.port + 2)
                raw = caller.request("INVITE", call, 1, body)
                return raw.replace(b"Call-ID: linger-1", b"Call-ID: " + call.encode())

            first = invite("one")
            for _ in range(3):  # sent again and again: one call
                await caller.send(first)
            await caller.send(invite("two"))
            await asyncio.sleep(0.2)
            assert admission.admitted == 2 and admission.refused == 0
            third = invite("three")
            await caller.send(third)
            refusal = await caller.final()
            await caller.send(third)  # a retransmission: refused alike, the same To tag
            again = await caller.final()
            assert refusal.status == again.status == 503
            assert refusal.to.tag == again.to.tag and (refusal.to.tag or "").startswith("vxshed")
            assert admission.admitted == 2 and engine.shed_invites == 2
        finally:
            caller.sock.close()
