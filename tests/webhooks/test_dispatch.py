"""The worker's ready queues and lanes: limits, the lease rule, and how far ahead it claims."""

from __future__ import annotations

import pytest

from voxgate.webhooks.dispatch import Dispatch


def dispatch(**kw: float) -> Dispatch:
    limits: dict[str, float] = {
        "concurrency": 4,
        "per_host": 2,
        "max_depth": 32,
        "window": 30.0,
        "deadline": 30.0,
    }
    limits.update(kw)
    return Dispatch(
        concurrency=int(limits["concurrency"]),
        per_host=int(limits["per_host"]),
        max_depth=int(limits["max_depth"]),
        window=limits["window"],
        deadline=limits["deadline"],
    )


def fill(d: Dispatch, host: str, n: int, lease_until: float = 100.0) -> None:
    for i in range(n):
        d.add({"id": f"{host}-{i}", "host": host}, lease_until)


def test_lanes_respect_per_host_and_total_limits() -> None:
    d = dispatch()
    fill(d, "a", 5)
    fill(d, "b", 5)
    fill(d, "c", 5)
    opened = d.start(now=0.0)
    assert [h for h, _ in opened] == ["a", "a", "b", "b"]
    assert d.lanes == 4 and d.start(now=0.0) == []


def test_a_finished_lane_makes_room_for_a_host_waiting_for_any_lane() -> None:
    d = dispatch(concurrency=1, per_host=1)
    fill(d, "a", 1)
    fill(d, "b", 3)
    [(host, _)] = d.start(now=0.0)
    assert host == "a"
    assert d.next("a", now=1.0) is None  # a has nothing more
    d.lane_done("a")
    [(host, item)] = d.start(now=1.0)
    assert (host, item.id) == ("b", "b-0")


def test_nothing_starts_once_its_lease_cannot_cover_an_attempt() -> None:
    d = dispatch(deadline=10.0)
    d.add({"id": "x", "host": "h"}, lease_until=50.0)
    d.add({"id": "y", "host": "h"}, lease_until=50.0)
    d.add({"id": "z", "host": "h"}, lease_until=50.0)
    [(_, first), (_, second)] = d.start(now=40.0)  # exactly one deadline left: still fine
    assert (first.id, second.id) == ("x", "y")
    assert d.next("h", now=40.5) is None  # z would overrun its lease
    assert [c.id for c in d.take_stale()] == ["z"]
    assert d.take_stale() == []


def test_stopping_sets_every_waiting_delivery_aside() -> None:
    d = dispatch()
    fill(d, "a", 4)
    d.start(now=0.0)
    d.set_aside_all()
    assert sorted(c.id for c in d.take_stale()) == ["a-2", "a-3"]
    assert d.waiting() == 0 and d.lanes == 2


def test_depth_follows_latency_within_the_lease_window() -> None:
    d = dispatch(per_host=8, max_depth=128, window=30.0)
    assert d.depth("h") == 8  # not timed yet: one round ahead
    assert d.room("h") == 16
    d.timed("h", 0.01)
    assert d.depth("h") == 128  # fast: as deep as allowed
    for _ in range(50):
        d.timed("h", 5.0)
    # slow (about 5 s an attempt): no deeper than 8 lanes can start within half the window
    assert 20 <= d.depth("h") <= 24
    for _ in range(50):
        d.timed("h", 200.0)
    assert d.depth("h") == 0 and d.room("h") == 8  # only what its lanes can take now


def test_low_water_and_full_hosts() -> None:
    d = dispatch(per_host=2, max_depth=8)
    d.timed("h", 0.01)
    fill(d, "h", 10)
    assert d.room("h") == 0 and d.full_hosts() == ["h"] and not d.low("h")
    d.start(now=0.0)
    for _ in range(4):
        d.next("h", now=0.0)
    assert d.room("h") == 4 and d.low("h")


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        dispatch(per_host=0)
    with pytest.raises(ValueError):
        dispatch(window=0.0)
