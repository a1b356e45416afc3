"""RTCP packets (RFC 3550 §6): SR, RR, SDES and BYE, alone or in compound datagrams.

Packet types this module does not model (APP, feedback, XR) are kept as
:class:`RtcpUnknown`, so a compound packet round-trips byte for byte. Receiver statistics
(loss and jitter) live in :mod:`voxgate.rtp.stats`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

from voxgate.rtp.errors import RtpParseError

RTCP_SR: Final = 200
RTCP_RR: Final = 201
RTCP_SDES: Final = 202
RTCP_BYE: Final = 203

SDES_END: Final = 0
SDES_CNAME: Final = 1

NTP_EPOCH_OFFSET: Final = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01

_HEADER = struct.Struct("!BBH")
_SR_INFO = struct.Struct("!IIIIII")  # ssrc, ntp sec, ntp frac, rtp ts, packets, octets
_BLOCK = struct.Struct("!IB3sIIII")
_U32 = struct.Struct("!I")


def ntp_time(unix_seconds: float) -> int:
    """A Unix time as a 64-bit NTP timestamp (32.32 fixed point since 1900)."""
    return int((unix_seconds + NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFF_FFFF_FFFF_FFFF


def ntp_middle32(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp: the LSR field of a report block."""
    return (ntp >> 16) & 0xFFFF_FFFF


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report (RFC 3550 §6.4.1)."""

    ssrc: int
    fraction_lost: int  # 0..255, fixed point /256
    cumulative_lost: int  # 24-bit signed
    highest_sequence: int  # extended: cycles << 16 | seq
    jitter: int  # in timestamp units
    lsr: int = 0
    dlsr: int = 0  # 1/65536 s

    def serialize(self) -> bytes:
        lost = max(-(1 << 23), min((1 << 23) - 1, self.cumulative_lost)) & 0xFFFFFF
        return _BLOCK.pack(
            self.ssrc,
            self.fraction_lost,
            lost.to_bytes(3, "big"),
            self.highest_sequence,
            self.jitter,
            self.lsr,
            self.dlsr,
        )

    @classmethod
    def parse(cls, data: bytes, pos: int) -> ReportBlock:
        ssrc, fraction, lost, highest, jitter, lsr, dlsr = _BLOCK.unpack_from(data, pos)
        return cls(
            ssrc, fraction, int.from_bytes(lost, "big", signed=True), highest, jitter, lsr, dlsr
        )

    def round_trip_time(self, arrival_ntp: int) -> float | None:
        """RTT in seconds from an RR of ours that came back at ``arrival_ntp`` (§6.4.1)."""
        if not self.lsr:
            return None
        rtt = (ntp_middle32(arrival_ntp) - self.lsr - self.dlsr) & 0xFFFF_FFFF
        return rtt / 65536.0 if rtt < 0x8000_0000 else None


@dataclass(frozen=True, slots=True)
class SenderReport:
    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()

    def serialize(self) -> bytes:
        body = _SR_INFO.pack(
            self.ssrc,
            self.ntp_timestamp >> 32,
            self.ntp_timestamp & 0xFFFF_FFFF,
            self.rtp_timestamp,
            self.packet_count,
            self.octet_count,
        )
        return _packet(RTCP_SR, len(self.reports), body + _blocks(self.reports))


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    ssrc: int
    reports: tuple[ReportBlock, ...] = ()

    def serialize(self) -> bytes:
        return _packet(RTCP_RR, len(self.reports), _U32.pack(self.ssrc) + _blocks(self.reports))


@dataclass(frozen=True, slots=True)
class SdesChunk:
    ssrc: int
    items: tuple[tuple[int, bytes], ...] = ()  # (item type, value)

    @property
    def cname(self) -> bytes | None:
        return next((value for kind, value in self.items if kind == SDES_CNAME), None)


@dataclass(frozen=True, slots=True)
class SourceDescription:
    chunks: tuple[SdesChunk, ...] = ()

    def serialize(self) -> bytes:
        body = bytearray()
        for chunk in self.chunks:
            body += _U32.pack(chunk.ssrc)
            for kind, value in chunk.items:
                if not 1 <= kind <= 255 or len(value) > 255:
                    raise ValueError(f"bad SDES item {kind}: {len(value)} bytes")
                body += bytes((kind, len(value))) + value
            body += bytes(4 - len(body) % 4)  # the END item, then pad to a word
        return _packet(RTCP_SDES, len(self.chunks), bytes(body))


@dataclass(frozen=True, slots=True)
class Bye:
    sources: tuple[int, ...] = ()
    reason: bytes = b""

    def serialize(self) -> bytes:
        body = b"".join(_U32.pack(s) for s in self.sources)
        if self.reason:
            if len(self.reason) > 255:
                raise ValueError("BYE reason is longer than 255 bytes")
            text = bytes((len(self.reason),)) + self.reason
            body += text + bytes(-len(text) % 4)
        return _packet(RTCP_BYE, len(self.sources), body)


@dataclass(frozen=True, slots=True)
class RtcpUnknown:
    """An RTCP packet of a type not modelled here, kept as-is (without padding)."""

    packet_type: int
    count: int
    body: bytes = field(repr=False)

    def serialize(self) -> bytes:
        short = -len(self.body) % 4
        if not short:
            return _packet(self.packet_type, self.count, self.body)
        # it arrived padded to a word (only the last packet of a datagram may be): pad again
        data = bytearray(
            _packet(self.packet_type, self.count, self.body + bytes(short - 1) + bytes([short]))
        )
        data[0] |= 0x20
        return bytes(data)


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Bye | RtcpUnknown


def serialize_rtcp(packets: list[RtcpPacket] | tuple[RtcpPacket, ...]) -> bytes:
    """A compound RTCP datagram (RFC 3550 §6.1)."""
    return b"".join(p.serialize() for p in packets)


def parse_rtcp(data: bytes) -> list[RtcpPacket]:
    """Parse a (compound) RTCP datagram; raise :class:`RtpParseError` if any part is invalid."""
    packets: list[RtcpPacket] = []
    pos = 0
    size = len(data)
    if size < 4:
        raise RtpParseError(f"RTCP packet too short ({size} bytes)")
    while pos < size:
        if pos + 4 > size:
            raise RtpParseError("RTCP header runs past the end")
        b0, packet_type, words = _HEADER.unpack_from(data, pos)
        if b0 >> 6 != 2:
            raise RtpParseError(f"RTCP version {b0 >> 6}, expected 2")
        end = pos + 4 + 4 * words
        if end > size:
            raise RtpParseError(f"RTCP length {words} runs past the end")
        body = bytes(data[pos + 4 : end])
        if b0 & 0x20:
            if end != size:
                raise RtpParseError("RTCP padding is only allowed in the last packet")
            pad = body[-1] if body else 0
            if pad == 0 or pad > len(body):
                raise RtpParseError(f"RTCP padding length {pad} is invalid")
            body = body[:-pad]
        packets.append(_parse_one(packet_type, b0 & 0x1F, body))
        pos = end
    return packets


def _parse_one(packet_type: int, count: int, body: bytes) -> RtcpPacket:
    if packet_type == RTCP_SR:
        if len(body) < 24 + 24 * count:
            raise RtpParseError("RTCP SR is too short for its report count")
        ssrc, sec, frac, rtp_ts, packets, octets = _SR_INFO.unpack_from(body)
        return SenderReport(
            ssrc, sec << 32 | frac, rtp_ts, packets, octets, _parse_blocks(body, 24, count)
        )
    if packet_type == RTCP_RR:
        if len(body) < 4 + 24 * count:
            raise RtpParseError("RTCP RR is too short for its report count")
        return ReceiverReport(_U32.unpack_from(body)[0], _parse_blocks(body, 4, count))
    if packet_type == RTCP_SDES:
        return _parse_sdes(count, body)
    if packet_type == RTCP_BYE:
        return _parse_bye(count, body)
    return RtcpUnknown(packet_type, count, body)


def _parse_blocks(body: bytes, pos: int, count: int) -> tuple[ReportBlock, ...]:
    return tuple(ReportBlock.parse(body, pos + 24 * i) for i in range(count))


def _parse_sdes(count: int, body: bytes) -> SourceDescription:
    chunks = []
    pos = 0
    for _ in range(count):
        if pos + 4 > len(body):
            raise RtpParseError("RTCP SDES chunk runs past the end")
        ssrc = _U32.unpack_from(body, pos)[0]
        pos += 4
        items = []
        while True:
            if pos >= len(body):
                raise RtpParseError("RTCP SDES chunk has no END item")
            kind = body[pos]
            if kind == SDES_END:
                pos += 4 - pos % 4  # skip the END item and the padding up to the next word
                break
            if pos + 2 > len(body) or pos + 2 + body[pos + 1] > len(body):
                raise RtpParseError("RTCP SDES item runs past the end")
            length = body[pos + 1]
            items.append((kind, body[pos + 2 : pos + 2 + length]))
            pos += 2 + length
        chunks.append(SdesChunk(ssrc, tuple(items)))
    return SourceDescription(tuple(chunks))


def _parse_bye(count: int, body: bytes) -> Bye:
    end = 4 * count
    if end > len(body):
        raise RtpParseError("RTCP BYE source list runs past the end")
    sources = struct.unpack_from(f"!{count}I", body)
    reason = b""
    if end < len(body):
        length = body[end]
        if end + 1 + length > len(body):
            raise RtpParseError("RTCP BYE reason runs past the end")
        reason = body[end + 1 : end + 1 + length]
    return Bye(sources, reason)


def _blocks(reports: tuple[ReportBlock, ...]) -> bytes:
    if len(reports) > 31:
        raise ValueError(f"at most 31 report blocks per packet, got {len(reports)}")
    return b"".join(r.serialize() for r in reports)


def _packet(packet_type: int, count: int, body: bytes) -> bytes:
    if not 0 <= count <= 31:
        raise ValueError(f"RTCP count must be 0..31, got {count}")
    if len(body) % 4:
        raise ValueError("RTCP body must be a whole number of 32-bit words")
    return _HEADER.pack(0x80 | count, packet_type, len(body) // 4) + body
