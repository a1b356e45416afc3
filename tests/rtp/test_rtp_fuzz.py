"""Hostile input: arbitrary bytes never raise anything but RtpParseError; valid packets round-trip.

The same targets are fuzzed with coverage guidance by ``fuzz_rtp_atheris.py`` (run here for a
bounded number of inputs in a subprocess).
"""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from voxgate.media.jitterbuffer import JitterBuffer
from voxgate.rtp import (
    DtmfReceiver,
    OutboundStream,
    RtpPacket,
    RtpParseError,
    RtpRelay,
    parse_rtcp,
    serialize_rtcp,
)
from voxgate.rtp.reporting import RtcpReporter
from voxgate.rtp.rtcp import ReceiverReport, ReportBlock, SenderReport

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)


def rtp_like() -> st.SearchStrategy[bytes]:
    """Bytes that start like RTP or RTCP often enough to get past the first checks."""
    head = st.sampled_from([b"", b"\x80", b"\x90", b"\xa0", b"\xbf", b"\x81\xc8", b"\xa1\xc9"])
    return st.builds(lambda h, t: h + t, head, st.binary(max_size=300))


@settings(max_examples=1500)
@given(rtp_like())
def test_rtp_parser_raises_only_its_own_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except RtpParseError:
        return
    # Whatever parses, serializes back to something that parses to the same packet.
    assert RtpPacket.parse(packet.serialize()) == packet


@settings(max_examples=1500)
@given(rtp_like())
@example(b"\xa1\x00\x00\x01\x00\x7e\x00\x01")  # padded: a 3-byte body of an unknown type
def test_rtcp_parser_raises_only_its_own_error(data: bytes) -> None:
    try:
        packets = parse_rtcp(data)
    except RtpParseError:
        return
    assert parse_rtcp(serialize_rtcp(packets)) == packets


@given(
    pt=st.integers(0, 127),
    seq=u16,
    ts=u32,
    ssrc=u32,
    marker=st.booleans(),
    csrc=st.lists(u32, max_size=15).map(tuple),
    payload=st.binary(max_size=200),
    ext=st.none() | st.tuples(u16, st.binary(max_size=40).map(lambda b: b[: len(b) // 4 * 4])),
    padding=st.integers(0, 255),
)
def test_valid_packets_round_trip(
    pt: int,
    seq: int,
    ts: int,
    ssrc: int,
    marker: bool,
    csrc: tuple[int, ...],
    payload: bytes,
    ext: tuple[int, bytes] | None,
    padding: int,
) -> None:
    packet = RtpPacket(
        payload_type=pt,
        sequence=seq,
        timestamp=ts,
        ssrc=ssrc,
        marker=marker,
        csrc=csrc,
        payload=payload,
        padding=padding,
        extension_profile=None if ext is None else ext[0],
        extension=b"" if ext is None else ext[1],
    )
    assert RtpPacket.parse(packet.serialize()) == packet


@given(
    st.lists(st.tuples(st.binary(max_size=8), u32, st.booleans(), st.floats(0, 100)), max_size=40)
)
def test_dtmf_receiver_never_raises_and_never_reports_a_timestamp_twice(
    feed: list[tuple[bytes, int, bool, float]],
) -> None:
    rx = DtmfReceiver()
    seen = []
    for payload, ts, marker, now in sorted(feed, key=lambda f: f[3]):
        seen += rx.feed(payload, ts, marker, now)
        seen += rx.handle_timer(now)
    assert len({d.timestamp for d in seen}) == len(seen)


@given(st.lists(st.binary(max_size=40), max_size=30))
# headers that claim more than the datagram holds: a CSRC, an extension header, its words
@example([b"\x81\x00" + bytes(10)])
@example([b"\x90\x00" + bytes(10)])
@example([b"\x90\x00" + bytes(10) + b"\x00\x00\x00\x01"])
def test_relay_never_raises(datagrams: list[bytes]) -> None:
    relay = RtpRelay(
        OutboundStream(payload_type=0, ssrc=1, sequence=0, timestamp=0),
        payload_types={0: 0, 101: 96},
    )
    for i, data in enumerate(datagrams):
        out = relay.forward(data, now=i * 0.02)
        if out is not None:
            assert RtpPacket.parse(out).ssrc == 1


@given(st.lists(st.tuples(u16, st.booleans()), max_size=200))
def test_jitter_buffer_never_raises_on_arbitrary_sequences(
    arrivals: list[tuple[int, bool]],
) -> None:
    jb = JitterBuffer(capacity=20, prefetch=2)
    for seq, tick in arrivals:
        jb.put(seq, seq * 160, b"x")
        if tick:
            jb.pop()
    jb.drain()


@given(
    base=u16,
    moves=st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.booleans()), max_size=300),
)
def test_jitter_buffer_plays_forward_once_each(
    base: int, moves: list[tuple[int, bool, bool]]
) -> None:
    """A stream with reordering (by up to 3), drops, duplicates and wrap-around comes out
    strictly forward, each packet at most once, lost frames only where a packet is missing."""
    jb = JitterBuffer(capacity=20, prefetch=3)
    put: set[int] = set()
    played: list[tuple[int, bool]] = []
    for i, (shift, drop, tick) in enumerate(moves):
        seq = (base + i + shift) % 65536
        if not drop:
            jb.put(seq, seq * 160, seq.to_bytes(2, "big"))
            put.add(seq)
        if tick:
            frame = jb.pop()
            if frame is not None:
                played.append((frame.sequence, frame.lost))
                assert frame.lost or frame.payload == frame.sequence.to_bytes(2, "big")
    played += [(f.sequence, f.lost) for f in jb.drain()]
    for (a, _), (b, _) in itertools.pairwise(played):
        assert 1 <= (b - a) % 65536 < 1000
    assert all(seq in put for seq, lost in played if not lost)


def test_atheris_harness_runs_clean() -> None:
    harness = Path(__file__).with_name("fuzz_rtp_atheris.py")
    result = subprocess.run(
        [sys.executable, str(harness), "-runs=20000", "-seed=1", "-max_len=512"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Done 20000 runs" in result.stderr


def report_blocks() -> st.SearchStrategy[tuple[ReportBlock, ...]]:
    block = st.builds(
        ReportBlock,
        ssrc=st.sampled_from([1, 7, 0xFFFF_FFFF]),  # 7: the reporter's own stream below
        fraction_lost=st.integers(0, 255),
        cumulative_lost=st.integers(-(1 << 23), (1 << 23) - 1),
        highest_sequence=u32,
        jitter=u32,
        lsr=u32,
        dlsr=u32,
    )
    return st.lists(block, max_size=3).map(tuple)


peer_rtcp = st.one_of(
    rtp_like(),
    st.builds(
        lambda ssrc, ntp, blocks: serialize_rtcp([SenderReport(ssrc, ntp, 0, 1, 160, blocks)]),
        st.sampled_from([1, 2]),
        st.integers(0, (1 << 64) - 1),
        report_blocks(),
    ),
    st.builds(lambda blocks: serialize_rtcp([ReceiverReport(1, blocks)]), report_blocks()),
)


@settings(max_examples=500)
@given(st.lists(st.tuples(st.booleans(), u16, u32, peer_rtcp), max_size=40))
def test_rtcp_reporter_never_raises_and_always_reports(
    inputs: list[tuple[bool, int, int, bytes]],
) -> None:
    """The peer's RTP (any sequence and timestamp) and RTCP (any bytes, or reports with
    any loss, jitter, LSR and DLSR about our stream) never break the reporter."""
    out = OutboundStream(payload_type=0, ssrc=7, sequence=0, timestamp=0)
    reporter = RtcpReporter(cname="fuzz", now=0.0, rng=random.Random(3))
    for i, (is_rtp, seq, ts, data) in enumerate(inputs):
        now = i * 0.02
        if is_rtp:
            reporter.on_rtp(1, seq, ts, now)
        else:
            reporter.on_rtcp(data, out, now, 1_800_000_000.0 + now)
        out.audio(b"\xff" * 160)
    sent = parse_rtcp(reporter.report(out, 1.0, 1_800_000_001.0))
    assert sent and parse_rtcp(reporter.bye(out, 1.0, 1_800_000_001.0))
    quality = reporter.quality(out)
    assert quality.as_json()["packets_sent"] == len(inputs)
    assert quality.round_trip_ms is None or quality.round_trip_ms >= 0
