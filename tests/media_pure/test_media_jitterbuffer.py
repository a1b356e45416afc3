"""Jitter buffer: reorder, wrap-around, late and duplicate packets, gaps, refill, overflow."""

from __future__ import annotations

from voxgate.media.jitterbuffer import Frame, JitterBuffer


def frame(seq: int) -> bytes:
    return seq.to_bytes(2, "big")


def play(jb: JitterBuffer, ticks: int) -> list[Frame | None]:
    return [jb.pop() for _ in range(ticks)]


def test_waits_for_prefetch_then_plays_in_order_despite_reordering() -> None:
    jb = JitterBuffer(prefetch=3)
    jb.put(11, 1760, frame(11))
    assert jb.pop() is None
    jb.put(10, 1600, frame(10))  # earlier packet arriving second, before playout started
    assert jb.pop() is None
    jb.put(13, 2080, frame(13))
    jb.put(12, 1920, frame(12))
    played = play(jb, 4)
    assert [(f.sequence, f.timestamp, f.payload) for f in played if f] == [
        (10, 1600, frame(10)),
        (11, 1760, frame(11)),
        (12, 1920, frame(12)),
        (13, 2080, frame(13)),
    ]


def test_sequence_wrap_around() -> None:
    jb = JitterBuffer(prefetch=2)
    for seq in [65534, 0, 65535, 1]:
        jb.put(seq, seq, frame(seq))
    assert [f.sequence for f in play(jb, 4) if f] == [65534, 65535, 0, 1]


def test_a_gap_with_later_packets_present_is_a_lost_frame_with_an_interpolated_timestamp() -> None:
    jb = JitterBuffer(prefetch=2)
    for seq in [1, 2, 4]:
        jb.put(seq, seq * 160, frame(seq))
    out = play(jb, 3)
    assert out == [Frame(1, 160, frame(1)), Frame(2, 320, frame(2)), Frame(3, 480, None)]
    assert out[2] is not None and out[2].lost and repr(out[2]) == "Frame(seq=3, ts=480, LOST)"
    assert jb.lost == 1
    # The missing packet turning up now is too late.
    assert not jb.put(3, 480, frame(3))
    assert jb.late == 1
    assert jb.pop() == Frame(4, 640, frame(4))


def test_duplicates_are_dropped() -> None:
    jb = JitterBuffer(prefetch=1)
    assert jb.put(5, 0, b"a")
    assert not jb.put(5, 0, b"a")
    assert jb.duplicates == 1 and len(jb) == 1


def test_running_dry_refills_before_playing_on() -> None:
    jb = JitterBuffer(prefetch=2)
    jb.put(1, 160, frame(1))
    jb.put(2, 320, frame(2))
    assert [f.sequence for f in play(jb, 2) if f] == [1, 2]
    assert jb.pop() is None  # underrun: nothing to play, nothing declared lost yet
    jb.put(3, 480, frame(3))
    assert jb.pop() is None  # refilling
    jb.put(4, 640, frame(4))
    assert [f.sequence for f in play(jb, 2) if f] == [3, 4]
    assert jb.lost == 0


def test_overflow_skips_the_oldest() -> None:
    jb = JitterBuffer(capacity=4, prefetch=4)
    for seq in range(10, 16):
        jb.put(seq, seq * 160, frame(seq))
    assert jb.skipped == 2
    assert [f.sequence for f in play(jb, 4) if f] == [12, 13, 14, 15]


def test_a_sender_restart_is_believed_when_the_next_packet_follows() -> None:
    jb = JitterBuffer(prefetch=1)
    for seq in (100, 101):
        jb.put(seq, 0, frame(seq))
    assert not jb.put(40000, 0, frame(40000))  # stray: dropped as late
    assert jb.put(40001, 160, frame(40001))  # confirmed: restart
    assert jb.put(40002, 320, frame(40002))
    assert [f.sequence for f in play(jb, 2) if f] == [40001, 40002]


def test_drain_returns_the_rest_with_gaps() -> None:
    jb = JitterBuffer(prefetch=5)
    for seq in (7, 9):
        jb.put(seq, seq * 160, frame(seq))
    assert [(f.sequence, f.lost) for f in jb.drain()] == [(7, False), (8, True), (9, False)]
    assert "lost=1" in repr(jb)
