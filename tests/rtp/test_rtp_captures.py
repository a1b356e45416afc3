"""Packets captured from another stack: the RFC 4733 digit and G.711 A-law (speech) captures that
ship with SIPp (Debian ``sip-tester``, installed by ``make test``), read in place."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import numpy as np
import pytest

from voxgate.media import g711
from voxgate.media.dtmf_detect import DtmfDetector
from voxgate.media.jitterbuffer import JitterBuffer
from voxgate.media.recorder import LegTrack
from voxgate.rtp import DtmfReceiver, RtpPacket, RtpReceiverStats

CAPTURES = Path("/usr/share/sip-tester")


def test_captures_are_installed() -> None:
    assert CAPTURES.is_dir(), "SIPp's captures are missing: install Debian sip-tester"


def udp_payloads(path: Path) -> list[tuple[float, bytes]]:
    """(capture time, UDP payload) of each IPv4/UDP packet in a classic Ethernet pcap."""
    data = path.read_bytes()
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", data)
    assert magic == 0xA1B2C3D4 and linktype == 1
    pos, out = 24, []
    while pos + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        if frame[12:14] != b"\x08\x00" or frame[23] != 17:
            continue
        ihl = (frame[14] & 0x0F) * 4
        udp = 14 + ihl
        length = struct.unpack_from("!H", frame, udp + 4)[0]
        out.append((sec + usec / 1e6, frame[udp + 8 : udp + length]))
    return out


NAMES = {str(d): str(d) for d in range(10)} | {"star": "*", "pound": "#"}


@pytest.mark.parametrize("name", sorted(NAMES))
def test_captured_telephone_events_give_exactly_one_key(name: str) -> None:
    packets = udp_payloads(CAPTURES / f"dtmf_2833_{name}.pcap")
    assert len(packets) == 10
    rx = DtmfReceiver()
    keys = []
    for at, data in packets:
        packet = RtpPacket.parse(data)
        assert packet.serialize() == data
        keys += rx.feed_packet(packet, at)
    keys += rx.handle_timer(packets[-1][0] + 5)
    assert [k.key for k in keys] == [NAMES[name]]
    assert keys[0].ended_by == "end"


def test_captured_alaw_stream_parses_and_reports_no_loss() -> None:
    packets = udp_payloads(CAPTURES / "g711a.pcap")
    assert len(packets) > 100
    parsed = [RtpPacket.parse(data) for _, data in packets]
    assert {p.payload_type for p in parsed} == {8}
    assert {len(p.payload) for p in parsed} == {240}  # 30 ms packets
    steps = {
        (b.timestamp - a.timestamp, b.sequence - a.sequence) for a, b in itertools.pairwise(parsed)
    }
    assert steps == {(240, 1)}
    assert all(p.serialize() == data for p, (_, data) in zip(parsed, packets, strict=True))
    stats = RtpReceiverStats(ssrc=parsed[0].ssrc)
    for p, (at, _) in zip(parsed, packets, strict=True):
        stats.on_packet(p.sequence, p.timestamp, at)
    block = stats.report_block(now=packets[-1][0])
    assert block.cumulative_lost == 0 and block.fraction_lost == 0
    assert stats.jitter_seconds < 0.005


def test_captured_audio_records_exactly_and_triggers_no_in_band_key() -> None:
    packets = udp_payloads(CAPTURES / "g711a.pcap")
    t0 = packets[0][0]
    track = LegTrack()
    jitter = JitterBuffer(prefetch=2, samples_per_frame=240)
    detector = DtmfDetector()
    decoded = []
    for at, data in packets:
        packet = RtpPacket.parse(data)
        jitter.put(packet.sequence, packet.timestamp, packet.payload)
        frame = jitter.pop()
        for f in [frame] if frame is not None else []:
            assert f.payload is not None
            pcm = g711.decode("pcma", f.payload)
            decoded.append(pcm)
            track.add(f.timestamp, pcm, at=at - t0)
            assert detector.feed(pcm) == []
    for f in jitter.drain():
        assert f.payload is not None
        pcm = g711.decode("pcma", f.payload)
        decoded.append(pcm)
        track.add(f.timestamp, pcm, at=packets[-1][0] - t0)
    speech = np.concatenate(decoded)
    assert len(speech) == 240 * len(packets)
    # The first frame came out of the buffer when the second packet arrived, 30 ms in.
    recorded = track.render()
    assert not recorded[:240].any()
    assert np.array_equal(recorded[240:], speech)
