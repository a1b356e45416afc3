"""The media clock: one shared timer that paces every outgoing RTP stream.

A 20 ms cycle is cut into ``slots`` buckets (1 ms each by default). A stream joins the
least loaded bucket and is ticked once per cycle, when its bucket comes due; each tick
sends that stream's one packet. The clock keeps a single ``loop.call_at`` armed for the
next non-empty bucket, so the cost is one timer callback per busy slot, not one per
stream per packet, and the packets of many streams are spread over the cycle instead of
leaving in one burst.

If the loop stalls, the clock catches up: buckets whose time has passed are ticked in
order (a stream sends its late packets back to back, timestamps stay contiguous). After
more than ``max_lag`` it gives up on the backlog, skips ahead and tells every stream to
re-stamp from real time (``skipped()``), as a sender after a pause would.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger(__name__)


class Ticking(Protocol):
    def tick(self, now: float) -> None: ...

    def skipped(self) -> None: ...


class MediaClock:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        ptime: float = 0.020,
        slots: int = 20,
        max_lag: float = 0.2,
    ) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self._loop = loop
        self.ptime = ptime
        self.slots = slots
        self._slot_time = ptime / slots
        self._max_lag = max_lag
        self._buckets: list[list[Ticking]] = [[] for _ in range(slots)]
        self._where: dict[Ticking, int] = {}
        self._epoch = loop.time()
        self._next = 0  # index of the next slot to run, counted from the epoch
        self._handle: asyncio.TimerHandle | None = None
        self.ticks = 0  # stream ticks run
        self.wakeups = 0
        self.late_max = 0.0  # worst lateness of a wakeup, seconds
        self.skips = 0

    def __len__(self) -> int:
        return len(self._where)

    def __repr__(self) -> str:
        return (
            f"<MediaClock streams={len(self._where)} slots={self.slots} wakeups={self.wakeups} "
            f"late_max={self.late_max * 1000:.1f}ms skips={self.skips}>"
        )

    def add(self, stream: Ticking) -> None:
        if stream in self._where:
            return
        slot = min(range(self.slots), key=lambda i: len(self._buckets[i]))
        self._buckets[slot].append(stream)
        self._where[stream] = slot
        if self._handle is None:
            # idle until now: restart the slot count at the present cycle
            self._next = int((self._loop.time() - self._epoch) / self._slot_time) + 1
            self._arm()

    def remove(self, stream: Ticking) -> None:
        slot = self._where.pop(stream, None)
        if slot is not None:
            self._buckets[slot].remove(stream)
        if not self._where and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._where.clear()
        for bucket in self._buckets:
            bucket.clear()

    def _time_of(self, index: int) -> float:
        return self._epoch + index * self._slot_time

    def _arm(self) -> None:
        if not self._where:
            self._handle = None
            return
        index = self._next
        for _ in range(self.slots):
            if self._buckets[index % self.slots]:
                break
            index += 1
        self._next = index
        self._handle = self._loop.call_at(self._time_of(index), self._fire)

    def _fire(self) -> None:
        now = self._loop.time()
        self.wakeups += 1
        late = now - self._time_of(self._next)
        if late > self.late_max:
            self.late_max = late
        if late > self._max_lag:
            self.skips += 1
            self._next = int((now - self._epoch) / self._slot_time)
            for stream in list(self._where):
                stream.skipped()
        slots, buckets = self.slots, self._buckets
        while self._time_of(self._next) <= now + 1e-4:
            bucket = buckets[self._next % slots]
            if bucket:
                for stream in tuple(bucket):
                    try:
                        stream.tick(now)
                    except Exception:
                        log.exception("media tick failed", extra={"action": "media_tick_failed"})
                        self.remove(stream)
                self.ticks += len(bucket)
            self._next += 1
        self._arm()
