"""RTP packet parse/serialize (RFC 3550 §5.1)."""

from __future__ import annotations

import struct

import pytest

from voxgate.rtp import RtpPacket, RtpParseError, is_rtcp, pack_rtp


def test_plain_packet_round_trips_and_matches_the_wire_layout() -> None:
    payload = bytes(range(160))
    packet = RtpPacket(
        payload_type=0,
        sequence=65535,
        timestamp=0xFFFFFFFF,
        ssrc=0xDEADBEEF,
        payload=payload,
        marker=True,
    )
    data = packet.serialize()
    assert data[:12] == bytes.fromhex("80 80 ffff ffffffff deadbeef")
    assert data[12:] == payload
    assert RtpPacket.parse(data) == packet
    assert pack_rtp(0, 65535, 0xFFFFFFFF, 0xDEADBEEF, payload, marker=True) == data


def test_csrc_extension_and_padding_round_trip() -> None:
    packet = RtpPacket(
        payload_type=8,
        sequence=7,
        timestamp=1234,
        ssrc=1,
        payload=b"\xd5" * 80,
        csrc=(10, 20, 30),
        extension_profile=0xBEDE,
        extension=b"\x10\xab\x00\x00",
        padding=4,
    )
    data = packet.serialize()
    assert data[0] == 0x80 | 0x20 | 0x10 | 3
    assert len(data) == 12 + 12 + 4 + 4 + 80 + 4
    assert data[-1] == 4
    parsed = RtpPacket.parse(data)
    assert parsed == packet
    assert parsed.payload == b"\xd5" * 80


def test_parse_of_a_packet_from_another_stack() -> None:
    # PCMU, marker, seq 0x1234, ts 0x00000a00, ssrc 0x0badcafe, 4 payload bytes
    data = bytes.fromhex("8080 1234 00000a00 0badcafe ff7f ff7f")
    packet = RtpPacket.parse(data)
    assert (packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc) == (
        0,
        0x1234,
        0xA00,
        0x0BADCAFE,
    )
    assert packet.marker
    assert packet.payload == b"\xff\x7f\xff\x7f"


def test_repr_reads_in_one_line() -> None:
    packet = RtpPacket(payload_type=0, sequence=5, timestamp=800, ssrc=0xABC, payload=b"x" * 160)
    assert repr(packet) == (
        "RtpPacket(seq=5, ts=800, pt=0, ssrc=0x00000abc, marker=0, payload=160B)"
    )
    packet.csrc = (1,)
    assert "csrc=[1]" in repr(packet)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (b"\x80" * 11, "too short"),
        (bytes.fromhex("4000 0000 00000000 00000000"), "version"),
        (bytes.fromhex("8200 0000 00000000 00000000 00000001"), "CSRC"),
        (bytes.fromhex("9000 0000 00000000 00000000 bede"), "extension header"),
        (bytes.fromhex("9000 0000 00000000 00000000 bede0002 00000000"), "extension runs"),
        (bytes.fromhex("a000 0000 00000000 00000000 aabbcc00"), "padding"),
        (bytes.fromhex("a000 0000 00000000 00000000 aabbcc09"), "padding"),
    ],
)
def test_malformed_packets_raise_the_parse_error(data: bytes, message: str) -> None:
    with pytest.raises(RtpParseError, match=message):
        RtpPacket.parse(data)


def test_parse_error_is_a_value_error_with_an_error_id() -> None:
    with pytest.raises(ValueError) as info:
        RtpPacket.parse(b"")
    assert isinstance(info.value, RtpParseError)
    assert info.value.error_id == "rtp_parse_error"


def test_serialize_refuses_what_cannot_be_encoded() -> None:
    with pytest.raises(ValueError):
        RtpPacket(csrc=tuple(range(16))).serialize()
    with pytest.raises(ValueError):
        RtpPacket(extension_profile=1, extension=b"abc").serialize()
    with pytest.raises(struct.error):
        pack_rtp(0, 70000, 0, 0, b"")


def test_rtcp_is_told_apart_on_a_muxed_port() -> None:
    assert is_rtcp(bytes.fromhex("80c8 0006"))  # SR
    assert is_rtcp(bytes.fromhex("81c9 0007"))  # RR
    assert not is_rtcp(pack_rtp(0, 1, 2, 3, b""))
    assert not is_rtcp(pack_rtp(96, 1, 2, 3, b"", marker=True))  # 0x80|96 = 224
    assert not is_rtcp(b"\x80")
