"""The shared media clock and the endpoint's timer heap, on a real event loop."""

from __future__ import annotations

import asyncio
import functools
import time

import pytest

from voxgate.engine.mediaclock import MediaClock
from voxgate.engine.timers import TimerHeap

pytestmark = pytest.mark.timeout(30)


class Stream:
    def __init__(self) -> None:
        self.ticks: list[float] = []
        self.skips = 0

    def tick(self, now: float) -> None:
        self.ticks.append(now)

    def skipped(self) -> None:
        self.skips += 1


async def test_one_clock_ticks_every_stream_every_20_ms_spread_over_slots() -> None:
    loop = asyncio.get_running_loop()
    clock = MediaClock(loop, slots=20)
    streams = [Stream() for _ in range(300)]
    started = loop.time()
    for s in streams:
        clock.add(s)
    await asyncio.sleep(0.5)
    clock.close()
    elapsed = loop.time() - started  # a busy machine may oversleep: count against it
    counts = [len(s.ticks) for s in streams]
    assert min(counts) >= round(elapsed / 0.020) - 3 and max(counts) <= elapsed / 0.020 + 2
    for s in streams:
        gaps = [b - a for a, b in zip(s.ticks, s.ticks[1:], strict=False)]
        assert abs(sum(gaps) / len(gaps) - 0.020) < 0.002
    buckets = [len(b) for b in clock._buckets]
    assert max(buckets) - min(buckets) <= 1  # 15 streams per 1 ms slot
    # one wakeup per busy slot, not one per stream: ~20 per cycle for 300 streams
    assert clock.wakeups < 25 * 20 * 1.3
    assert clock.ticks == sum(counts)


async def test_a_stalled_loop_catches_up_then_skips() -> None:
    loop = asyncio.get_running_loop()
    clock = MediaClock(loop, slots=4, max_lag=0.2)
    s = Stream()
    clock.add(s)
    await asyncio.sleep(0.05)
    before = len(s.ticks)
    time.sleep(0.1)  # noqa: ASYNC251 -- blocks the loop on purpose: 5 packets late, within max_lag -> sent back to back
    await asyncio.sleep(0.01)
    assert len(s.ticks) - before >= 5 and clock.skips == 0
    time.sleep(0.3)  # noqa: ASYNC251 -- beyond max_lag: the backlog is dropped, streams re-stamp
    await asyncio.sleep(0.05)
    assert clock.skips == 1 and s.skips == 1
    clock.remove(s)
    assert len(clock) == 0


async def test_timer_heap_fires_in_order_and_honours_cancel() -> None:
    loop = asyncio.get_running_loop()
    heap = TimerHeap(loop)
    fired: list[int] = []
    deadlines = [
        heap.call_later(0.01 * (5 - i), functools.partial(fired.append, i)) for i in range(5)
    ]
    deadlines[2].cancel()
    heap.update(deadlines[2])
    await asyncio.sleep(0.1)
    assert fired == [4, 3, 1, 0]
    assert len(heap) == 0
    heap.close()
