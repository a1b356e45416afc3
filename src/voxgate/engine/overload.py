"""How many new calls the engine takes on: admission by how far behind it runs.

Two measurements say how far behind the engine is. Every SIP datagram carries the
kernel's receive time (``SO_TIMESTAMPNS``), so the transport knows how long it waited
before the engine read it: the queueing delay a peer sees. A probe on the timer heap
measures how late the event loop runs timers, which covers a loop busy with media and no
SIP traffic.

New calls (INVITEs from peers and ``dial``) are admitted freely while the engine keeps
up. Once a window of 100 ms sees a delay past the target, admission follows the
measurements, additive-increase / multiplicative-decrease: each window whose worst delay
passed the target cuts the next window's allowance in proportion (target / worst delay,
at least a tenth, at most half); each window that used its whole allowance without delay
raises it by a tenth; two seconds without delay lift the limit. The first window to run
late admits nothing more once it does. An INVITE past the allowance, or one that
itself waited longer than the target, is refused at once with a stateless 503, which
costs a small fraction of a call. So the queue stays short, the calls already admitted
keep getting timely answers (no retransmission storm), and the engine completes about as
many calls as it can.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW = 0.1  # seconds
# a late window cuts the limit by target/worst, kept within these bounds: slightly late
# costs a tenth, very late half
DECREASE_MIN, DECREASE_MAX = 0.5, 0.9
INCREASE = 0.1
FLOOR = 2.0  # calls per window, however loaded: a trickle still gets through
CALM = 20  # windows without delay that lift the limit


@dataclass(slots=True)
class Admission:
    target: float  # seconds of delay the engine aims to stay under; 0 disables
    limit: float | None = None  # new calls a window may admit; None: as many as come
    window_start: float = 0.0
    admitted: int = 0  # in the current window
    refused: int = 0  # in the current window
    worst: float = 0.0  # worst delay seen in the current window
    calm: int = 0  # windows in a row without delay past the target
    shed: int = 0  # all INVITEs refused by this policy

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
        """Whether one more call may start now (``waited``: how long its INVITE waited)."""
        if not self.enabled:
            return True
        if now >= self.window_start + WINDOW:
            self._next_window(now)
        if (
            waited > self.target
            or (self.limit is not None and self.admitted >= self.limit)
            # the first late window: stop at once (no limit to follow yet)
            or (self.limit is None and self.worst > self.target and self.admitted >= FLOOR)
        ):
            self.refused += 1
            return False
        self.admitted += 1
        return True

    @property
    def behind(self) -> bool:
        """Running late right now (this window's delays passed the target)."""
        return self.enabled and self.worst > self.target

    def _next_window(self, now: float) -> None:
        # windows since the last one began: the ones after it passed idle, hence calm
        idle = max(0, int((now - self.window_start) / WINDOW) - 1)
        if self.worst > self.target:
            base = self.admitted if self.limit is None else self.limit
            cut = min(DECREASE_MAX, max(DECREASE_MIN, self.target / self.worst))
            self.limit = max(FLOOR, base * cut)
            self.calm = idle
        else:
            self.calm += 1 + idle
            if self.limit is not None and self.refused and self.admitted >= int(self.limit):
                self.limit += max(1.0, self.limit * INCREASE)
        if self.calm >= CALM:
            self.limit = None
        self.window_start = now
        self.admitted = self.refused = 0
        self.worst = 0.0
