"""RFC 4733 telephone-events: the sender's packet sequence and a receiver that reports each
key exactly once, with loss, duplication and reordering scripted."""

from __future__ import annotations

import pytest

from voxgate.rtp import DtmfDigit, DtmfReceiver, RtpPacket, TelephoneEvent, encode_digit
from voxgate.rtp.dtmf import event_code


def test_event_payload_round_trip_and_layout() -> None:
    event = TelephoneEvent(event=11, end=True, volume=10, duration=800)
    assert event.serialize() == bytes.fromhex("0b 8a 0320")
    assert TelephoneEvent.parse(event.serialize()) == event
    assert event.key == "#"
    assert TelephoneEvent(16).key is None


def test_event_codes() -> None:
    assert [event_code(k) for k in "0123456789*#ABCD"] == list(range(16))
    assert event_code("a") == 12
    with pytest.raises(ValueError):
        event_code("E")


def test_encoder_sends_marker_updates_and_three_end_packets() -> None:
    packets = encode_digit("5", duration_ms=100)
    assert [p.offset for p in packets] == pytest.approx([0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12])
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert [p.event.duration for p in packets] == [160, 320, 480, 640, 800, 800, 800]
    assert [p.event.end for p in packets] == [False] * 4 + [True] * 3
    assert {p.event.event for p in packets} == {5}
    assert all(len(p.payload) == 4 for p in packets)


def test_encoder_short_event_is_a_single_marked_end_packet_repeated() -> None:
    packets = encode_digit("1", duration_ms=10)
    assert [(p.marker, p.event.end, p.event.duration) for p in packets] == [
        (True, True, 160),
        (False, True, 160),
        (False, True, 160),
    ]


def feed_all(
    rx: DtmfReceiver,
    key: str,
    ts: int,
    t0: float,
    drop: set[int] = frozenset(),
    duration_ms: int = 100,
) -> list[DtmfDigit]:
    out = []
    for i, p in enumerate(encode_digit(key, duration_ms=duration_ms)):
        if i not in drop:
            out += rx.feed(p.payload, ts, p.marker, t0 + p.offset)
    return out


def test_one_key_is_reported_once_despite_three_end_packets() -> None:
    rx = DtmfReceiver()
    assert feed_all(rx, "7", ts=1000, t0=0.0) == [DtmfDigit("7", 1000, 800, "end")]
    assert rx.get_timer() is None
    assert rx.handle_timer(10.0) == []


def test_lost_start_packets_still_report_the_key() -> None:
    rx = DtmfReceiver()
    assert feed_all(rx, "3", ts=1000, t0=0.0, drop={0, 1, 2}) == [DtmfDigit("3", 1000, 800, "end")]


def test_only_end_packets_received() -> None:
    rx = DtmfReceiver()
    assert feed_all(rx, "9", ts=1000, t0=0.0, drop={0, 1, 2, 3, 4}) == [
        DtmfDigit("9", 1000, 800, "end")
    ]


def test_all_end_packets_lost_reports_on_timeout_and_ignores_late_ends() -> None:
    rx = DtmfReceiver(timeout=0.4)
    packets = encode_digit("A", duration_ms=100)
    for p in packets[:4]:
        assert rx.feed(p.payload, 5000, p.marker, p.offset) == []
    assert rx.get_timer() == pytest.approx(0.06 + 0.4)
    assert rx.handle_timer(0.3) == []
    assert rx.handle_timer(0.46) == [DtmfDigit("A", 5000, 640, "timeout")]
    assert rx.get_timer() is None
    # The end packets were only late, not lost: they must not report the key again.
    for p in packets[4:]:
        assert rx.feed(p.payload, 5000, p.marker, 0.5) == []


def test_lost_end_then_next_key_reports_both_in_order() -> None:
    rx = DtmfReceiver()
    first = feed_all(rx, "1", ts=1000, t0=0.0, drop={4, 5, 6})
    assert first == []
    second = feed_all(rx, "2", ts=3000, t0=0.3)
    assert second == [DtmfDigit("1", 1000, 640, "next_event"), DtmfDigit("2", 3000, 800, "end")]


def test_the_same_key_twice_is_two_keys() -> None:
    rx = DtmfReceiver()
    keys = feed_all(rx, "5", ts=1000, t0=0.0) + feed_all(rx, "5", ts=2600, t0=0.2)
    assert [d.key for d in keys] == ["5", "5"]


def test_reordered_and_duplicated_packets() -> None:
    rx = DtmfReceiver()
    packets = encode_digit("0", duration_ms=100)
    order = [0, 2, 1, 1, 3, 5, 4, 6, 2, 0]
    out = []
    for n, i in enumerate(order):
        p = packets[i]
        out += rx.feed(p.payload, 1000, p.marker, n * 0.02)
    assert out == [DtmfDigit("0", 1000, 800, "end")]


def test_late_packet_of_an_earlier_event_is_ignored() -> None:
    rx = DtmfReceiver()
    feed_all(rx, "1", ts=1000, t0=0.0)
    feed_all(rx, "2", ts=3000, t0=0.3)
    late = encode_digit("1")[1]
    assert rx.feed(late.payload, 1000, False, 0.7) == []
    assert rx.get_timer() is None


def test_peer_restarting_with_a_new_timestamp_base_is_heard() -> None:
    rx = DtmfReceiver()
    feed_all(rx, "1", ts=3_000_000_000, t0=0.0)
    assert [d.key for d in feed_all(rx, "2", ts=5, t0=1.0)] == ["2"]
    # ... and a base just before the last event (a few hundred ms) is late, not new.
    assert feed_all(rx, "3", ts=1, t0=2.0) == []


def test_long_event_segments_are_one_key() -> None:
    rx = DtmfReceiver()
    code = 4
    out = []
    # First segment up to 0xFFFF, second segment starts at ts + 0xFFFF without marker.
    out += rx.feed(TelephoneEvent(code, False, 10, 160).serialize(), 0, True, 0.0)
    out += rx.feed(TelephoneEvent(code, False, 10, 0xFFFF).serialize(), 0, False, 8.0)
    out += rx.feed(TelephoneEvent(code, False, 10, 800).serialize(), 0xFFFF, False, 8.1)
    out += rx.feed(TelephoneEvent(code, True, 10, 1600).serialize(), 0xFFFF, False, 8.2)
    assert out == [DtmfDigit("4", 0xFFFF, 0xFFFF + 1600, "end")]


def test_feed_packet_takes_a_parsed_packet() -> None:
    rx = DtmfReceiver()
    out = []
    for p in encode_digit("*"):
        packet = RtpPacket(payload_type=101, timestamp=42, marker=p.marker, payload=p.payload)
        out += rx.feed_packet(packet, p.offset)
    assert [d.key for d in out] == ["*"]


def test_malformed_and_non_dtmf_events_are_ignored() -> None:
    rx = DtmfReceiver()
    assert rx.feed(b"\x01", 0, True, 0.0) == []
    assert rx.malformed == 1
    assert rx.feed(TelephoneEvent(16, True).serialize(), 0, True, 0.0) == []  # flash
    assert repr(rx) == "<DtmfReceiver idle reported=0>"
