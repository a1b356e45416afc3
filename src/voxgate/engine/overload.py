"""How many new calls the engine takes on: admission by how far behind it runs.

Two measurements say how far behind the engine is. Every SIP datagram carries the
kernel's receive time (``SO_TIMESTAMPNS``), so the transport knows how long it waited
before the engine read it: the queueing delay a peer sees. A probe on the timer heap
measures how late the event loop runs timers, which covers a loop busy with media and no
SIP traffic.

New calls (INVITEs from peers and ``dial``) are admitted freely while the engine keeps
up. Once a window of 100 ms sees a delay past the target, admission follows the
measurements, additive-increase / multiplicative-decrease. The first window to run late
admits nothing more once it does; the limit starts from what the window before it
admitted (the rate that ran the engine late), cut like any late window's. Each window
whose worst delay passed the target cuts the next window's allowance in proportion
(target / worst delay, at least a tenth, at most half). Each window that used its whole
allowance without delay raises it towards the share of the CPU aimed for (90 %): by
aim / share used - 1, at most by 0.3, not at all past the aim (a call's work outlasts
the window that admitted it, so delay would follow). Two seconds without delay and
without calls held back lift the limit. An INVITE past the allowance, or one that itself
waited longer than the target, is refused at once with a stateless 503, which costs a
small fraction of a call. So the queue stays short, the calls already admitted keep
getting timely answers (no retransmission storm), and the engine completes about as
many calls as it can.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW = 0.1  # seconds
# a late window cuts the limit by target/worst, kept within these bounds: slightly late
# costs a tenth, very late half
DECREASE_MIN, DECREASE_MAX = 0.5, 0.9
MAX_INCREASE = 0.3  # the most a window without delay raises the limit by
FLOOR = 2.0  # calls per window, however loaded: a trickle still gets through
CALM = 20  # windows without delay that lift the limit
BUSY = 0.9  # share of a window spent on the CPU that the limit is raised towards


@dataclass(slots=True)
class Admission:
    target: float  # seconds of delay the engine aims to stay under; 0 disables
    limit: float | None = None  # new calls a window may admit; None: as many as come
    window_start: float = 0.0
    admitted: int = 0  # in the current window
    previous: int = 0  # admitted in the window before
    refused: int = 0  # in the current window
    worst: float = 0.0  # worst delay seen in the current window
    calm: int = 0  # windows in a row without delay past the target
    shed: int = 0  # all INVITEs refused by this policy
    cpu_clock: Callable[[], float] = field(default=time.process_time, repr=False)
    cpu_start: float = 0.0  # cpu_clock() when the current window began
    busy: float = 0.0  # share of the last window spent on the CPU

    @property
    def enabled(self) -> bool:
        return self.target > 0

    def observe(self, now: float, delay: float) -> None:
        """Something that should have happened ``delay`` seconds ago happened ``now``."""
        if now >= self.window_start + WINDOW:
            self._next_window(now)
        if delay > self.worst:
            self.worst = delay

    def admit(self, now: float, waited: float = 0.0) -> bool:
        """Whether one more call may start now (``waited``: how long its INVITE waited);
        if so, it is counted."""
        if self.full(now, waited):
            self.refused += 1
            return False
        self.count(now)
        return True

    def full(self, now: float, waited: float = 0.0) -> bool:
        """Whether a new call would be refused now; nothing is counted."""
        if not self.enabled:
            return False
        if now >= self.window_start + WINDOW:
            self._next_window(now)
        return (
            waited > self.target
            or (self.limit is not None and self.admitted >= self.limit)
            # the first late window: stop at once (no limit to follow yet)
            or (self.limit is None and self.worst > self.target and self.admitted >= FLOOR)
        )

    def count(self, now: float) -> None:
        """A new call started after ``full`` said no: it takes one of the window's calls
        (``admit`` counts the calls it lets through itself)."""
        if not self.enabled:
            return
        if now >= self.window_start + WINDOW:
            self._next_window(now)
        self.admitted += 1

    @property
    def behind(self) -> bool:
        """Running late right now (this window's delays passed the target)."""
        return self.enabled and self.worst > self.target

    def _next_window(self, now: float) -> None:
        # windows since the last one began: the ones after it passed idle, hence calm
        idle = max(0, int((now - self.window_start) / WINDOW) - 1)
        cpu = self.cpu_clock()
        if now > self.window_start:
            self.busy = (cpu - self.cpu_start) / (now - self.window_start)
        self.cpu_start = cpu
        if self.worst > self.target:
            # the first late window stopped admitting early: the one before it shows the
            # rate that ran the engine late
            base = self.limit if self.limit is not None else max(self.admitted, self.previous)
            cut = min(DECREASE_MAX, max(DECREASE_MIN, self.target / self.worst))
            self.limit = max(FLOOR, base * cut)
            self.calm = idle
        elif self.limit is not None and self.refused and self.admitted >= int(self.limit):
            # the limit held calls back without delay: raise it unless the CPU is nearly
            # all used already (the delay would follow, a call's work outlasts its
            # window); it is not calm yet either way
            if self.busy < BUSY:
                step = min(MAX_INCREASE, BUSY / max(self.busy, 1e-3) - 1)
                self.limit += max(1.0, self.limit * step)
            self.calm = idle
        else:
            self.calm += 1 + idle
        if self.calm >= CALM:
            self.limit = None
        self.window_start = now
        self.previous = self.admitted if not idle else 0
        self.admitted = self.refused = 0
        self.worst = 0.0
