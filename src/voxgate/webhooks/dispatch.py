"""Claimed deliveries waiting for a lane, per host, and the lanes sending them.

Pure bookkeeping (no I/O, no clock of its own): the worker asks it how much to claim, hands it
what it claimed, and takes deliveries out to send. Two rules live here:

* at most ``concurrency`` lanes in all and ``per_host`` to any one host;
* a claimed delivery is started only while its lease still covers a whole attempt
  (``lease_until - now >= deadline``). One that waited too long is set aside as *stale*,
  never sent by this worker; the worker gives it back, or lets its lease run out.

How many deliveries wait per host (the *depth*) follows the host's attempt latency: no more
than its lanes can start within half the lease window (``window``, the lease minus one attempt
deadline), and at most ``max_depth``. Before the first attempt to a host is timed, one round
(``per_host``) waits. So a fast receiver's lanes never wait for the database, and a slow
one's claims do not outlive their lease.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

EWMA_WEIGHT = 0.2  # of the newest attempt in a host's latency estimate
REMEMBERED_HOSTS = 4096  # latency estimates kept for hosts with nothing claimed


@dataclass(frozen=True, slots=True)
class Claimed:
    row: dict[str, Any]
    lease_until: float

    @property
    def id(self) -> str:
        return str(self.row["id"])


@dataclass(slots=True)
class _Host:
    ready: deque[Claimed] = field(default_factory=deque)
    lanes: int = 0


class Dispatch:
    def __init__(
        self, *, concurrency: int, per_host: int, max_depth: int, window: float, deadline: float
    ) -> None:
        if concurrency < 1 or per_host < 1 or max_depth < 0 or window <= 0 or deadline <= 0:
            raise ValueError("invalid dispatch limits")
        self.concurrency = concurrency
        self.per_host = per_host
        self.max_depth = max_depth
        self.window = window
        self.deadline = deadline
        self.lanes = 0
        self._hosts: dict[str, _Host] = {}  # hosts with deliveries waiting or lanes open
        self._latency: dict[str, float] = {}  # seconds per attempt, smoothed
        self._stale: list[Claimed] = []

    # --- what to claim -----------------------------------------------------------------------

    def depth(self, host: str) -> int:
        """How many claimed deliveries may wait for this host's lanes."""
        latency = self._latency.get(host)
        if latency is None:
            return min(self.per_host, self.max_depth)
        startable = self.per_host * self.window / (2 * max(latency, 1e-4))
        return max(0, min(self.max_depth, int(startable)))

    def room(self, host: str) -> int:
        """How many more deliveries to claim for this host (lanes free plus depth)."""
        h = self._hosts.get(host)
        held = (h.lanes + len(h.ready)) if h is not None else 0
        return max(0, self.per_host + self.depth(host) - held)

    def total_room(self) -> int:
        held = self.lanes + self.waiting()
        return max(0, self.concurrency * (1 + self.max_depth // self.per_host) - held)

    def full_hosts(self) -> list[str]:
        return [host for host in self._hosts if self.room(host) <= 0]

    def low(self, host: str) -> bool:
        """Below the low-water mark: half the depth or more could be claimed for it."""
        return self.room(host) >= max(1, self.depth(host) // 2)

    def waiting(self) -> int:
        return sum(len(h.ready) for h in self._hosts.values())

    # --- claimed deliveries in, deliveries to send out ------------------------------------

    def add(self, row: dict[str, Any], lease_until: float) -> None:
        self._host(str(row["host"])).ready.append(Claimed(row, lease_until))

    def start(self, now: float) -> list[tuple[str, Claimed]]:
        """Open lanes where deliveries wait and limits allow: (host, first delivery) each."""
        opened: list[tuple[str, Claimed]] = []
        for host, h in list(self._hosts.items()):
            while h.ready and h.lanes < self.per_host and self.lanes < self.concurrency:
                item = self._pop(h, now)
                if item is None:
                    break
                h.lanes += 1
                self.lanes += 1
                opened.append((host, item))
            if not h.lanes and not h.ready:
                del self._hosts[host]  # everything it had was stale
        return opened

    def next(self, host: str, now: float) -> Claimed | None:
        """The next delivery for a lane of ``host`` that just finished one, if any."""
        h = self._hosts.get(host)
        return self._pop(h, now) if h is not None else None

    def lane_done(self, host: str) -> None:
        h = self._hosts[host]
        h.lanes -= 1
        self.lanes -= 1
        if not h.lanes and not h.ready:
            del self._hosts[host]

    def timed(self, host: str, seconds: float) -> None:
        """One attempt to ``host`` took this long."""
        last = self._latency.get(host)
        if last is None and len(self._latency) >= REMEMBERED_HOSTS:
            self._latency.clear()  # rarely: many hosts; they start cold again
        self._latency[host] = seconds if last is None else last + EWMA_WEIGHT * (seconds - last)

    def set_aside(self, items: list[Claimed]) -> None:
        self._stale.extend(items)

    def take_stale(self) -> list[Claimed]:
        stale, self._stale = self._stale, []
        return stale

    def set_aside_all(self) -> None:
        """Treat every waiting delivery as stale: the worker is stopping and will not send it."""
        for host, h in list(self._hosts.items()):
            self._stale.extend(h.ready)
            h.ready.clear()
            if not h.lanes:
                del self._hosts[host]

    def _host(self, host: str) -> _Host:
        h = self._hosts.get(host)
        if h is None:
            h = self._hosts[host] = _Host()
        return h

    def _pop(self, h: _Host, now: float) -> Claimed | None:
        while h.ready:
            item = h.ready.popleft()
            if item.lease_until - now >= self.deadline:
                return item
            self._stale.append(item)
        return None

    def __repr__(self) -> str:
        return (
            f"<Dispatch {self.lanes} lanes, {self.waiting()} waiting, {len(self._hosts)} hosts"
            f" | limit {self.concurrency}/{self.per_host} per host>"
        )
