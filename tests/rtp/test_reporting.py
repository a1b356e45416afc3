"""RTCP reporting between two parties, fed by hand (no sockets, no clocks)."""

from __future__ import annotations

import random

import pytest

from voxgate.rtp.reporting import RtcpReporter
from voxgate.rtp.rtcp import Bye, ReceiverReport, SenderReport, SourceDescription, parse_rtcp
from voxgate.rtp.session import OutboundStream

WALL = 1_800_000_000.0  # any Unix time: NTP fields are built from it


def stream() -> OutboundStream:
    return OutboundStream(payload_type=0, rng=random.Random(7))


def send(out: OutboundStream, to: RtcpReporter, count: int, *, lose: set[int], at: float) -> None:
    """``count`` packets of ``out`` (those in ``lose`` never arrive), 20 ms apart."""
    for i in range(count):
        data = out.audio(b"\xff" * 160)
        if i in lose:
            continue
        seq = int.from_bytes(data[2:4], "big")
        ts = int.from_bytes(data[4:8], "big")
        to.on_rtp(out.ssrc, seq, ts, at + i * 0.020)


def test_reports_are_due_about_every_interval_the_first_after_half() -> None:
    reporter = RtcpReporter(cname="a@voxgate", now=100.0, interval=5.0, rng=random.Random(1))
    assert 101.25 <= reporter.next_at <= 103.75
    at = reporter.next_at
    gaps = []
    for _ in range(200):
        assert reporter.due(at) and not reporter.due(at - 0.001)
        reporter.report(None, at, WALL)
        gaps.append(reporter.next_at - at)
        at = reporter.next_at
    assert min(gaps) >= 2.5 and max(gaps) <= 7.5
    assert 4.5 < sum(gaps) / len(gaps) < 5.5


def test_a_sender_reports_with_an_sr_and_a_listener_with_an_rr_each_with_its_cname() -> None:
    a_out, b_out = stream(), stream()
    a = RtcpReporter(cname="a@voxgate", now=0.0)
    b = RtcpReporter(cname="b@peer", now=0.0)
    send(a_out, b, 50, lose=set(), at=0.0)
    from_b = parse_rtcp(b.report(None, 1.0, WALL))  # b sent nothing: an RR
    assert isinstance(from_b[0], ReceiverReport)
    assert isinstance(from_b[1], SourceDescription)
    assert from_b[1].chunks[0].cname == b"b@peer"
    from_a = parse_rtcp(a.report(a_out, 1.0, WALL))
    assert isinstance(from_a[0], SenderReport)
    assert from_a[0].packet_count == 50 and from_a[0].octet_count == 50 * 160
    # nothing sent since that report: the next one is an RR again
    assert isinstance(parse_rtcp(a.report(a_out, 6.0, WALL + 5))[0], ReceiverReport)
    assert b_out.packets_sent == 0


def test_loss_jitter_and_round_trip_as_each_side_reports_them() -> None:
    a_out, b_out = stream(), stream()
    a = RtcpReporter(cname="a", now=0.0)
    b = RtcpReporter(cname="b", now=0.0)
    send(a_out, b, 100, lose={10, 11, 50}, at=0.0)
    send(b_out, a, 100, lose=set(), at=0.0)
    # a's SR leaves at wall WALL + 2.0 and reaches b 30 ms later
    assert b.on_rtcp(a.report(a_out, 2.0, WALL + 2.0), b_out, 2.03, WALL + 2.03)
    # b answers 200 ms after it got the SR; the report reaches a 30 ms later
    assert a.on_rtcp(b.report(b_out, 2.23, WALL + 2.23), a_out, 2.26, WALL + 2.26)
    seen_by_a = a.quality(a_out)
    assert seen_by_a.peer_packets_lost == 3  # b lost three of ours
    assert seen_by_a.peer_fraction_lost == pytest.approx(3 / 100, abs=1 / 256)
    assert seen_by_a.round_trip_ms == pytest.approx(60.0, abs=0.1)  # 260 ms minus b's 200
    assert seen_by_a.packets_received == 100 and seen_by_a.packets_lost == 0
    seen_by_b = b.quality(b_out)
    assert seen_by_b.packets_received == 97 and seen_by_b.packets_lost == 3
    assert seen_by_b.jitter_ms == pytest.approx(0.0, abs=0.01)  # evenly spaced arrivals
    assert seen_by_b.round_trip_ms is None  # b sent no SR: nothing to measure from
    assert seen_by_b.as_json()["packets_lost"] == 3


def test_the_last_packet_says_bye_and_garbage_is_refused() -> None:
    out = stream()
    reporter = RtcpReporter(cname="a", now=0.0)
    send(out, RtcpReporter(cname="b", now=0.0), 5, lose=set(), at=0.0)
    last = parse_rtcp(reporter.bye(out, 1.0, WALL))
    assert isinstance(last[-1], Bye) and last[-1].sources == (out.ssrc,)
    assert not reporter.on_rtcp(b"\x80\xc8\x00", out, 1.0, WALL)
    assert reporter.reports_received == 0
