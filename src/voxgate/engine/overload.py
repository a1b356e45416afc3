"""Which new calls the engine takes on: admission by how long a call's INVITE waited.

Two measurements say how far behind the engine is. Every SIP datagram carries the
kernel's receive time (``SO_TIMESTAMPNS``), so the transport knows how long it waited
before the engine read it: the queueing delay a peer sees. A probe on the timer heap
measures how late the event loop runs timers, which covers a loop busy with media and no
SIP traffic.

A new INVITE from a peer is refused at once, with a stateless 503, when it waited longer
than the engine allows now:

- ``target`` (``EngineConfig.shed_delay``, 100 ms) while the CPU has room: a burst, a
  full collection or a media tick for a thousand calls delays a few datagrams without
  costing a call;
- ``saturated_target`` (``EngineConfig.shed_delay_saturated``, 3 ms) once one of the
  last two windows of 100 ms spent 90 % of it or more on the CPU or waiting for one
  (``cpu_demand``) while the engine carries calls: the engine is at capacity,
  and every millisecond a message of an admitted call waits makes that call last
  longer (its media, its timers, the objects the collector walks), which costs calls
  per second. The queue stays that short, and the engine stays busy: what waited less
  is taken. Not much shorter, though: a datagram waits at least for the work the loop
  does between two reads of the socket, a few milliseconds in a flood, and a wait
  allowed below that refuses calls the engine had time for (the refusals then keep the
  CPU busy, so it stays "saturated"). With no call up the CPU went to something else
  (the engine starting, another part of the process) and no admitted call is kept
  waiting: ``target`` rules. The time the engine's thread waited for a CPU while
  another process ran on it counts as busy: the CPU time alone is what the engine got,
  not what it wanted, and a window in which another process took the core would look
  like room in the middle of a flood, let the queue grow towards ``target``, and have
  the next window, saturated again, refuse what waited in it. Two windows, not one, for
  what even that does not see (time the hypervisor took from the virtual CPU).

A call placed by ``dial()`` is refused while the engine runs later than it allows, by the
worst delay of this window or the last one (datagrams and the timer probe alike).

A refused INVITE costs a small fraction of a call, so refusing the excess keeps the
calls already admitted answered in time (no retransmission storm) while the engine
completes about as many calls as at its peak.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW = 0.1  # seconds
SATURATED = 0.9  # share of a window on the CPU, or waiting for one, that is at capacity
RUN_DELAY = "/proc/thread-self/schedstat"  # Linux: on-CPU ns, run-queue wait ns, slices


def run_delay() -> float:
    """Seconds the calling thread has waited, runnable, for a CPU (0 where unknown)."""
    try:
        with open(RUN_DELAY, "rb") as stats:
            return int(stats.read().split()[1]) * 1e-9
    except (OSError, ValueError, IndexError):
        return 0.0


def cpu_demand() -> float:
    """Seconds the process spent on a CPU, plus those its calling thread (the event
    loop's) spent waiting for one: a clock that runs while the engine wants the CPU."""
    return time.process_time() + run_delay()


@dataclass(slots=True)
class Admission:
    target: float  # seconds a new call's INVITE may have waited; 0 disables
    saturated_target: float = 0.0  # the same once the CPU is saturated (0: target)
    window_start: float = 0.0
    worst: float = 0.0  # worst delay seen in the current window
    last_worst: float = 0.0  # worst delay seen in the window before
    shed: int = 0  # all INVITEs refused by this policy
    cpu_clock: Callable[[], float] = field(default=cpu_demand, repr=False)
    cpu_start: float = 0.0  # cpu_clock() when the current window began
    busy: float = 0.0  # share of the last window on the CPU or waiting for one
    last_busy: float = 0.0  # the same for the window before it

    @property
    def enabled(self) -> bool:
        return self.target > 0

    @property
    def saturated(self) -> bool:
        return max(self.busy, self.last_busy) >= SATURATED

    def allowed(self, calls: int) -> float:
        """The longest a new call's INVITE may have waited, now, with ``calls`` up."""
        if calls and self.saturated and 0 < self.saturated_target < self.target:
            return self.saturated_target
        return self.target

    def observe(self, now: float, delay: float) -> None:
        """Something that should have happened ``delay`` seconds ago happened ``now``."""
        self._roll(now)
        if delay > self.worst:
            self.worst = delay

    def full(self, now: float, waited: float, calls: int) -> bool:
        """Whether a new call whose INVITE waited ``waited`` seconds is refused now, with
        ``calls`` calls up."""
        if not self.enabled:
            return False
        self._roll(now)
        return waited > self.allowed(calls)

    def admit(self, now: float, calls: int) -> bool:
        """Whether a call of our own may start now: not while the engine runs late."""
        self._roll(now)  # first: the worst delays below are this window's and the last
        return not self.full(now, max(self.worst, self.last_worst), calls)

    def _roll(self, now: float) -> None:
        """Start a new window when the current one is over."""
        if now < self.window_start + WINDOW:
            return
        cpu, elapsed = self.cpu_clock(), now - self.window_start
        # the windows that just ended, unless more passed without anything observed
        recent = elapsed < 2 * WINDOW
        self.last_busy = self.busy if recent else 0.0
        self.busy = (cpu - self.cpu_start) / elapsed if elapsed > 0 else 0.0
        self.last_worst = self.worst if recent else 0.0
        self.cpu_start = cpu
        self.window_start = now
        self.worst = 0.0
