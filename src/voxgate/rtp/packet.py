"""RTP packets (RFC 3550 §5.1): parse and serialize.

This is a hot path. A playing leg sends one pre-encoded 160-byte G.711 frame every 20 ms, so
``serialize`` of a plain packet (no CSRC, extension or padding) is a single ``struct`` call plus
one concatenation, and ``pack_rtp`` does the same without building an object at all.
"""

from __future__ import annotations

import struct
from typing import Final

from voxgate.rtp.errors import RtpParseError

RTP_VERSION: Final = 2
RTP_HEADER_SIZE: Final = 12

_HEADER = struct.Struct("!BBHII")
_pack_header = _HEADER.pack
_unpack_header = _HEADER.unpack_from
_EXT_HEADER = struct.Struct("!HH")
_new = object.__new__


def pack_rtp(
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    marker: bool = False,
) -> bytes:
    """Serialize a plain RTP packet (no CSRC, extension or padding) in one step.

    The arguments must already be in range (7-bit PT, 16-bit sequence, 32-bit timestamp and
    SSRC); ``struct`` raises ``struct.error`` otherwise — that would be our bug, not the peer's.
    """
    return (
        _pack_header(0x80, (0x80 if marker else 0) | payload_type, sequence, timestamp, ssrc)
        + payload
    )


def is_rtcp(data: bytes) -> bool:
    """True when a datagram on a muxed port (RFC 5761) is RTCP, not RTP (PT 192–223)."""
    return len(data) >= 2 and 192 <= data[1] <= 223


class RtpPacket:
    """One RTP packet. ``payload`` excludes padding; ``padding`` is the pad length to emit."""

    __slots__ = (
        "csrc",
        "extension",
        "extension_profile",
        "marker",
        "padding",
        "payload",
        "payload_type",
        "sequence",
        "ssrc",
        "timestamp",
    )

    def __init__(
        self,
        *,
        payload_type: int = 0,
        sequence: int = 0,
        timestamp: int = 0,
        ssrc: int = 0,
        payload: bytes = b"",
        marker: bool = False,
        csrc: tuple[int, ...] = (),
        extension_profile: int | None = None,
        extension: bytes = b"",
        padding: int = 0,
    ) -> None:
        self.payload_type = payload_type
        self.sequence = sequence
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = payload
        self.marker = marker
        self.csrc = csrc
        self.extension_profile = extension_profile
        self.extension = extension
        self.padding = padding

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one datagram; raise :class:`RtpParseError` if it is not valid RTP."""
        size = len(data)
        if size < RTP_HEADER_SIZE:
            raise RtpParseError(f"RTP packet too short ({size} bytes)")
        b0, b1, sequence, timestamp, ssrc = _unpack_header(data)
        if b0 == 0x80:  # the common case: no CSRC, extension or padding
            packet = _new(cls)
            packet.payload_type = b1 & 0x7F
            packet.marker = b1 > 0x7F
            packet.sequence = sequence
            packet.timestamp = timestamp
            packet.ssrc = ssrc
            packet.payload = bytes(data[RTP_HEADER_SIZE:])
            packet.csrc = ()
            packet.extension_profile = None
            packet.extension = b""
            packet.padding = 0
            return packet
        if b0 >> 6 != RTP_VERSION:
            raise RtpParseError(f"RTP version {b0 >> 6}, expected 2")
        pos = RTP_HEADER_SIZE
        cc = b0 & 0x0F
        csrc: tuple[int, ...] = ()
        if cc:
            end = pos + 4 * cc
            if end > size:
                raise RtpParseError(f"RTP CSRC list ({cc}) runs past the end")
            csrc = struct.unpack_from(f"!{cc}I", data, pos)
            pos = end
        extension_profile = None
        extension = b""
        if b0 & 0x10:
            if pos + 4 > size:
                raise RtpParseError("RTP extension header runs past the end")
            extension_profile, words = _EXT_HEADER.unpack_from(data, pos)
            pos += 4
            end = pos + 4 * words
            if end > size:
                raise RtpParseError("RTP extension runs past the end")
            extension = bytes(data[pos:end])
            pos = end
        padding = 0
        end = size
        if b0 & 0x20:
            padding = data[-1]
            if padding == 0 or pos + padding > size:
                raise RtpParseError(f"RTP padding length {padding} is invalid")
            end = size - padding
        return cls(
            payload_type=b1 & 0x7F,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=bytes(data[pos:end]),
            marker=bool(b1 & 0x80),
            csrc=csrc,
            extension_profile=extension_profile,
            extension=extension,
            padding=padding,
        )

    def serialize(self) -> bytes:
        """The packet as bytes, ready for the wire."""
        b1 = (0x80 if self.marker else 0) | self.payload_type
        if not (self.csrc or self.padding or self.extension_profile is not None):
            return _pack_header(0x80, b1, self.sequence, self.timestamp, self.ssrc) + self.payload
        return self._serialize_full(b1)

    def _serialize_full(self, b1: int) -> bytes:
        cc = len(self.csrc)
        if cc > 15:
            raise ValueError(f"at most 15 CSRCs, got {cc}")
        if len(self.extension) % 4:
            raise ValueError("RTP header extension must be a whole number of 32-bit words")
        if not 0 <= self.padding <= 255:
            raise ValueError(f"padding must be 0..255, got {self.padding}")
        b0 = 0x80 | cc
        if self.padding:
            b0 |= 0x20
        if self.extension_profile is not None:
            b0 |= 0x10
        parts = [_pack_header(b0, b1, self.sequence, self.timestamp, self.ssrc)]
        if cc:
            parts.append(struct.pack(f"!{cc}I", *self.csrc))
        if self.extension_profile is not None:
            parts.append(_EXT_HEADER.pack(self.extension_profile, len(self.extension) // 4))
            parts.append(self.extension)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes((self.padding,)))
        return b"".join(parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RtpPacket):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        extra = ""
        if self.csrc:
            extra += f", csrc={list(self.csrc)}"
        if self.extension_profile is not None:
            extra += f", ext=0x{self.extension_profile:04x}/{len(self.extension)}B"
        if self.padding:
            extra += f", padding={self.padding}"
        return (
            f"RtpPacket(seq={self.sequence}, ts={self.timestamp}, pt={self.payload_type}, "
            f"ssrc=0x{self.ssrc:08x}, marker={int(self.marker)}, "
            f"payload={len(self.payload)}B{extra})"
        )
