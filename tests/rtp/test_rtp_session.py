"""Outbound stream state and the bridge relay."""

from __future__ import annotations

import random

from voxgate.rtp import (
    DtmfReceiver,
    OutboundStream,
    RtpPacket,
    RtpReceiverStats,
    RtpRelay,
    TelephoneEvent,
    encode_digit,
    pack_rtp,
)

FRAME = b"\xff" * 160


def stream(**kw: int) -> OutboundStream:
    args = {"payload_type": 0, "ssrc": 0x1111, "sequence": 65534, "timestamp": 0xFFFFFF60}
    args.update(kw)
    return OutboundStream(**args)


def test_sequence_and_timestamp_advance_and_wrap_with_marker_on_first_packet() -> None:
    s = stream()
    packets = [RtpPacket.parse(s.audio(FRAME)) for _ in range(3)]
    assert [(p.sequence, p.timestamp, p.marker) for p in packets] == [
        (65534, 0xFFFFFF60, True),
        (65535, 0, False),
        (0, 160, False),
    ]
    assert {p.ssrc for p in packets} == {0x1111}
    assert (s.packets_sent, s.octets_sent) == (3, 480)


def test_pause_marks_the_next_talkspurt() -> None:
    s = stream(sequence=1, timestamp=0)
    s.audio(FRAME)
    s.pause()
    assert RtpPacket.parse(s.audio(FRAME)).marker


def test_time_passing_moves_the_timestamp_and_starts_a_talkspurt() -> None:
    s = stream(sequence=1, timestamp=0)
    a = RtpPacket.parse(s.audio(FRAME, now=10.0))
    b = RtpPacket.parse(s.audio(FRAME, now=10.02))  # on time: contiguous, no marker
    c = RtpPacket.parse(s.audio(FRAME, now=11.02))  # one second of silence in between
    assert (a.timestamp, b.timestamp, c.timestamp) == (0, 160, 160 + 8000)
    assert (a.marker, b.marker, c.marker) == (True, False, True)
    d = RtpPacket.parse(s.audio(FRAME, now=11.035))  # early tick: never goes backwards
    assert d.timestamp == c.timestamp + 160
    e = RtpPacket.parse(s.audio(FRAME, now=11.06))  # a tick 5 ms late: the timeline holds
    assert (e.timestamp, e.marker) == (d.timestamp + 160, False)


def test_random_initial_values_come_from_the_given_rng() -> None:
    one = OutboundStream(payload_type=8, rng=random.Random(5))
    two = OutboundStream(payload_type=8, rng=random.Random(5))
    assert (one.ssrc, one.sequence, one.timestamp) == (two.ssrc, two.sequence, two.timestamp)
    assert "pt=8" in repr(one)


def test_dtmf_packets_share_a_timestamp_and_audio_continues_after_them() -> None:
    s = stream(sequence=10, timestamp=1000, event_payload_type=101)
    s.audio(FRAME)
    sent = s.dtmf("8", duration_ms=100)
    packets = [RtpPacket.parse(data) for _, data in sent]
    assert [p.sequence for p in packets] == list(range(11, 18))
    assert {p.timestamp for p in packets} == {1160}
    assert {p.payload_type for p in packets} == {101}
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert [TelephoneEvent.parse(p.payload).end for p in packets].count(True) == 3
    assert [offset for offset, _ in sent][-1] == 0.12
    after = RtpPacket.parse(s.audio(FRAME))
    assert (after.sequence, after.timestamp) == (18, 1160 + 7 * 160)
    rx = DtmfReceiver()
    keys = [k for p in packets for k in rx.feed(p.payload, p.timestamp, p.marker, 0.0)]
    assert [k.key for k in keys] == ["8"]


def test_sender_report_carries_counts_and_the_current_timestamp() -> None:
    s = stream(sequence=1, timestamp=0)
    s.audio(FRAME, now=5.0)
    sr = s.sender_report(ntp_timestamp=123 << 32, now=5.5)
    assert (sr.ssrc, sr.packet_count, sr.octet_count, sr.rtp_timestamp) == (0x1111, 1, 160, 4000)


# -- relay -----------------------------------------------------------------------------


def a_packet(
    seq: int,
    ts: int,
    *,
    pt: int = 0,
    ssrc: int = 0xAAAA,
    marker: bool = False,
    payload: bytes = FRAME,
) -> bytes:
    return pack_rtp(pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc, payload, marker)


def test_relay_rewrites_ssrc_sequence_and_timestamp_and_keeps_gaps_and_order() -> None:
    out = stream(ssrc=0xBBBB, sequence=500, timestamp=90_000)
    relay = RtpRelay(out)
    sent = []
    for i, seq in enumerate([7, 8, 10, 9, 11]):  # 10 and 9 swapped
        data = relay.forward(a_packet(seq, 3000 + (seq - 7) * 160), now=1.0 + i * 0.02)
        assert data is not None
        sent.append(RtpPacket.parse(data))
    assert [p.sequence for p in sent] == [500, 501, 503, 502, 504]
    assert [p.timestamp - 90_000 for p in sent] == [0, 160, 480, 320, 640]
    assert {p.ssrc for p in sent} == {0xBBBB}
    assert sent[0].marker and not any(p.marker for p in sent[1:])
    assert all(p.payload == FRAME for p in sent)
    # B's receiver sees exactly A's loss (none here: the swap is only reordering).
    stats = RtpReceiverStats(ssrc=0xBBBB)
    for i, p in enumerate(sent):
        stats.on_packet(p.sequence, p.timestamp, 1.0 + i * 0.02)
    assert stats.cumulative_lost == 0
    assert out.sequence == 505


def test_relay_maps_payload_types_and_passes_dtmf_through() -> None:
    out = stream(ssrc=0xBBBB, sequence=0, timestamp=0)
    relay = RtpRelay(out, payload_types={0: 0, 101: 96})
    assert relay.forward(a_packet(1, 0, pt=13, payload=b"\x40"), now=0.0) is None  # CN: dropped
    assert relay.forward(b"\x80\x00garbage", now=0.0) is None
    assert relay.dropped == 2
    rx = DtmfReceiver()
    keys = []
    for i, p in enumerate(encode_digit("#")):
        data = relay.forward(
            a_packet(10 + i, 4000, pt=101, marker=p.marker, payload=p.payload), now=p.offset
        )
        assert data is not None
        packet = RtpPacket.parse(data)
        assert packet.payload_type == 96
        keys += rx.feed(packet.payload, packet.timestamp, packet.marker, p.offset)
    assert [k.key for k in keys] == ["#"]
    assert "relayed=7" in repr(relay)


def test_relay_continues_the_timeline_when_the_source_restarts_or_after_local_audio() -> None:
    out = stream(ssrc=0xBBBB, sequence=100, timestamp=0)
    for i in range(3):  # a prompt played locally first: seq 100..102, ts 0..320
        out.audio(FRAME, now=1.0 + i * 0.02)
    relay = RtpRelay(out)
    first = RtpPacket.parse(relay.forward(a_packet(5000, 777, ssrc=1), now=1.06) or b"")
    assert (first.sequence, first.timestamp, first.marker) == (103, 480, True)
    second = RtpPacket.parse(relay.forward(a_packet(5001, 937, ssrc=1), now=1.08) or b"")
    assert (second.sequence, second.timestamp) == (104, 640)
    # A's peer restarts with a new SSRC, sequence and timestamp base half a second later.
    third = RtpPacket.parse(relay.forward(a_packet(9, 123456, ssrc=2), now=1.58) or b"")
    assert (third.sequence, third.timestamp, third.marker) == (105, 640 + 4000, True)
    # Local audio after the bridge ends carries on from the relay's last packet.
    after = RtpPacket.parse(out.audio(FRAME, now=1.60))
    assert (after.sequence, after.timestamp) == (106, 640 + 4000 + 160)
