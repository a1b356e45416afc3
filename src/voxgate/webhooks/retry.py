"""The retry policy: a pure function of the attempt count (and a random draw for jitter).

Default: 10 attempts. The n-th retry waits ``base * factor**(n-1)`` seconds, capped, times a
jitter factor drawn uniformly from ``[1 - jitter, 1 + jitter]``. With base 42 s and factor 2
the nine waits add up to about 6 hours.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryDecision:
    dead: bool
    retry_at: float | None

    def __repr__(self) -> str:
        return "<RetryDecision dead>" if self.dead else f"<RetryDecision at {self.retry_at:.3f}>"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 10
    base: float = 42.0
    factor: float = 2.0
    cap: float = 3 * 3600.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base < 0 or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError(f"invalid retry policy {self!r}")

    def nominal_delay(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failed attempt, before jitter."""
        return float(min(self.cap, self.base * self.factor ** max(0, attempts - 1)))

    def delay(self, attempts: int, draw: float) -> float:
        """``draw`` is uniform in [0, 1)."""
        return self.nominal_delay(attempts) * (1 - self.jitter + 2 * self.jitter * draw)

    def decide(
        self, attempts: int, *, now: float, draw: float, permanent: bool = False
    ) -> RetryDecision:
        """After the ``attempts``-th attempt failed: retry when, or dead-letter."""
        if permanent or attempts >= self.max_attempts:
            return RetryDecision(dead=True, retry_at=None)
        return RetryDecision(dead=False, retry_at=now + self.delay(attempts, draw))

    def schedule(self) -> list[float]:
        """The nominal waits between attempts (one fewer than ``max_attempts``)."""
        return [self.nominal_delay(n) for n in range(1, self.max_attempts)]
