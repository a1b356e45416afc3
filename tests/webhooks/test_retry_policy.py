"""The retry policy is a pure function: schedule, jitter bounds, dead letter."""

from __future__ import annotations

import random

import pytest

from voxgate.webhooks.retry import RetryPolicy


def test_default_schedule_is_ten_attempts_over_about_six_hours() -> None:
    policy = RetryPolicy()
    waits = policy.schedule()
    assert len(waits) == 9
    assert waits[0] == 42 and waits == sorted(waits)
    assert 5.5 * 3600 <= sum(waits) <= 6.5 * 3600


def test_jitter_stays_in_bounds_and_spreads() -> None:
    policy = RetryPolicy(jitter=0.2)
    rng = random.Random(7)
    delays = [policy.delay(3, rng.random()) for _ in range(1000)]
    nominal = policy.nominal_delay(3)
    assert min(delays) >= nominal * 0.8 and max(delays) <= nominal * 1.2
    assert max(delays) - min(delays) > nominal * 0.3


def test_cap_and_dead_letter() -> None:
    policy = RetryPolicy(max_attempts=3, base=100, cap=150, jitter=0)
    assert policy.decide(1, now=0, draw=0.5).retry_at == 100
    assert policy.decide(2, now=0, draw=0.5).retry_at == 150
    assert policy.decide(3, now=0, draw=0.5).dead
    assert policy.decide(1, now=0, draw=0.5, permanent=True).dead


def test_invalid_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
