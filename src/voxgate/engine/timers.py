"""One timer per endpoint: a heap of objects that know their next deadline.

Pure machines expose ``get_timer()`` and ``handle_timer(now)``. After feeding one an
input, the shell calls :meth:`TimerHeap.update` with it; the heap keeps a single
``loop.call_at`` armed for the earliest deadline of all of them. Entries whose deadline
changed since they were pushed are skipped when popped (lazy deletion).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class Timed(Protocol):
    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


class Deadline:
    """A one-shot callback on the heap (ring timeout, hangup guard...)."""

    __slots__ = ("_callback", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when: float | None = when
        self._callback = callback

    def get_timer(self) -> float | None:
        return self.when

    def handle_timer(self, now: float) -> None:
        if self.when is not None and now >= self.when:
            self.when = None
            self._callback()

    def cancel(self) -> None:
        self.when = None
        # it stays in the heap until its time comes: it must not keep what it would call
        self._callback = _nothing

    def __repr__(self) -> str:
        return f"<Deadline {self.when}>"


def _nothing() -> None:
    pass


class TimerHeap:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int, Timed]] = []
        self._due: dict[Timed, float] = {}
        self._counter = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None
        self.fired = 0

    def __len__(self) -> int:
        return len(self._due)

    def __repr__(self) -> str:
        return f"<TimerHeap pending={len(self._due)} armed_at={self._armed_at}>"

    def call_at(self, when: float, callback: Callable[[], None]) -> Deadline:
        deadline = Deadline(when, callback)
        self.update(deadline)
        return deadline

    def call_later(self, delay: float, callback: Callable[[], None]) -> Deadline:
        return self.call_at(self._loop.time() + delay, callback)

    def update(self, obj: Timed) -> None:
        """Re-read ``obj``'s deadline (after any input) and re-arm the one timer if needed."""
        when = obj.get_timer()
        if when is None:
            self._due.pop(obj, None)
            return
        if self._due.get(obj) == when:
            return
        self._due[obj] = when
        heapq.heappush(self._heap, (when, next(self._counter), obj))
        if self._armed_at is None or when < self._armed_at:
            self._arm(when)

    def discard(self, obj: Timed) -> None:
        """Forget ``obj``: its entries are skipped when popped, whatever its deadline."""
        self._due.pop(obj, None)

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = when
        self._handle = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._armed_at = None
        now = self._loop.time()
        heap, due = self._heap, self._due
        while heap and heap[0][0] <= now:
            when, _, obj = heapq.heappop(heap)
            if due.get(obj) != when:
                continue  # stale entry
            del due[obj]
            self.fired += 1
            try:
                obj.handle_timer(now)
            except Exception:
                log.exception("timer handler failed", extra={"action": "timer_failed"})
            self.update(obj)
        while heap and due.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        if heap and self._armed_at is None:
            self._arm(heap[0][0])

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._heap.clear()
        self._due.clear()
