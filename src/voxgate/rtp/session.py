"""Outbound RTP stream state and the bridge relay, without sockets or clocks.

:class:`OutboundStream` owns what RFC 3550 asks of a sender: one SSRC, a sequence number that
goes up by one per packet, a timestamp that follows the media clock, and the marker bit on the
first packet of a talkspurt. The shell passes ``now`` (seconds, monotonic) where real time
matters: after a pause the timestamp jumps by the time that passed, not by one frame.

:class:`RtpRelay` bridges two legs: packets that arrive from leg A leave on leg B's stream with
leg B's SSRC, sequence numbers and timestamps; gaps and reordering from A are kept, so B's
receiver sees the loss that really happened. Telephone-events pass through with their payload
type mapped, so DTMF crosses the bridge as RFC 4733 packets.
"""

from __future__ import annotations

import random
import struct

from voxgate.rtp.dtmf import encode_digit
from voxgate.rtp.errors import RtpParseError
from voxgate.rtp.packet import RtpPacket, pack_rtp
from voxgate.rtp.rtcp import ReportBlock, SenderReport

_HEADER = struct.Struct("!BBHII")
_pack = _HEADER.pack


class OutboundStream:
    """One RTP stream we send. Methods return packets as bytes, ready for the socket."""

    def __init__(
        self,
        *,
        payload_type: int,
        ssrc: int | None = None,
        sequence: int | None = None,
        timestamp: int | None = None,
        clock_rate: int = 8000,
        event_payload_type: int | None = 101,
        gap_tolerance: float = 0.06,
        rng: random.Random | None = None,
    ) -> None:
        rng = rng or random.SystemRandom()
        self.payload_type = payload_type
        self.event_payload_type = event_payload_type
        self.clock_rate = clock_rate
        self._gap_tolerance = round(gap_tolerance * clock_rate)
        self.ssrc = rng.getrandbits(32) if ssrc is None else ssrc
        self.sequence = rng.getrandbits(16) if sequence is None else sequence  # next to send
        self.timestamp = rng.getrandbits(32) if timestamp is None else timestamp  # next to send
        self.packets_sent = 0
        self.octets_sent = 0
        self._talkspurt = True  # the next packet starts a talkspurt
        self._last_at: float | None = None  # when the last packet was stamped
        self._last_ts = self.timestamp

    # -- time ---------------------------------------------------------------------------
    def timestamp_at(self, now: float) -> int:
        """The timestamp a packet stamped at ``now`` carries.

        Normally the next contiguous one: a tick that is a few milliseconds late must not bend
        the media timeline. After a pause longer than ``gap_tolerance`` (silence suppression,
        hold, a gap between prompt and bridge) it is ahead by the time that really passed.
        """
        last_at = self._last_at
        if last_at is None:
            return self.timestamp
        elapsed = int((now - last_at) * self.clock_rate + 0.5)
        contiguous = (self.timestamp - self._last_ts) & 0xFFFF_FFFF
        if elapsed - contiguous <= self._gap_tolerance:
            return self.timestamp
        return (self._last_ts + elapsed) & 0xFFFF_FFFF

    def pause(self) -> None:
        """Stop sending (silence suppression, hold): the next packet gets the marker bit."""
        self._talkspurt = True

    def _stamp(self, now: float | None) -> int:
        """:meth:`timestamp_at` for a packet being sent now (inlined: this is per packet)."""
        timestamp = self.timestamp
        if now is None:
            return timestamp
        last_at = self._last_at
        if last_at is not None:
            elapsed = int((now - last_at) * self.clock_rate + 0.5)
            if elapsed - ((timestamp - self._last_ts) & 0xFFFF_FFFF) > self._gap_tolerance:
                timestamp = (self._last_ts + elapsed) & 0xFFFF_FFFF
                self._talkspurt = True  # a timestamp jump is a new talkspurt (RFC 3550 §5.1)
        self._last_at = now
        self._last_ts = timestamp
        return timestamp

    # -- audio --------------------------------------------------------------------------
    def audio(self, payload: bytes, samples: int = 160, now: float | None = None) -> bytes:
        """The next audio packet carrying ``payload`` (``samples`` long, e.g. 160 = 20 ms).

        Without ``now`` the stream is contiguous: each packet follows the previous one.
        """
        timestamp = self.timestamp if now is None else self._stamp(now)
        seq = self.sequence
        if self._talkspurt:
            self._talkspurt = False
            b1 = 0x80 | self.payload_type
        else:
            b1 = self.payload_type
        data = _pack(0x80, b1, seq, timestamp, self.ssrc) + payload
        self.sequence = (seq + 1) & 0xFFFF
        self.timestamp = (timestamp + samples) & 0xFFFF_FFFF
        self.packets_sent += 1
        self.octets_sent += len(payload)
        return data

    def note_relayed(
        self, sequence: int, timestamp: int, samples: int, octets: int, now: float, *, newest: bool
    ) -> None:
        """Account a packet a relay sent on this stream (``samples`` long), so local sending
        continues after it."""
        self.packets_sent += 1
        self.octets_sent += octets
        if newest:
            self.sequence = (sequence + 1) & 0xFFFF
            self.timestamp = (timestamp + samples) & 0xFFFF_FFFF
            self._last_at = now
            self._last_ts = timestamp
        self._talkspurt = False

    # -- DTMF ---------------------------------------------------------------------------
    def dtmf(
        self,
        key: str,
        *,
        duration_ms: int = 100,
        volume: int = 10,
        packet_ms: int = 20,
        now: float | None = None,
    ) -> list[tuple[float, bytes]]:
        """The telephone-event packets of one key, as ``(send offset in seconds, packet)``.

        Sequence numbers are taken now; the stream's timestamp moves past the event (one packet
        interval per packet), so audio sent after the last packet continues the timeline.
        """
        if self.event_payload_type is None:
            raise ValueError("the peer did not negotiate telephone-event")
        start = self._stamp(now)
        packets = encode_digit(
            key,
            duration_ms=duration_ms,
            volume=volume,
            packet_ms=packet_ms,
            clock_rate=self.clock_rate,
        )
        out = []
        for packet in packets:
            payload = packet.payload
            seq = self.sequence
            out.append(
                (
                    packet.offset,
                    pack_rtp(
                        self.event_payload_type, seq, start, self.ssrc, payload, packet.marker
                    ),
                )
            )
            self.sequence = (seq + 1) & 0xFFFF
            self.packets_sent += 1
            self.octets_sent += len(payload)
        step = self.clock_rate * packet_ms // 1000
        self.timestamp = (start + step * len(packets)) & 0xFFFF_FFFF
        self._talkspurt = False
        return out

    # -- RTCP ---------------------------------------------------------------------------
    def sender_report(
        self, *, ntp_timestamp: int, now: float, reports: tuple[ReportBlock, ...] = ()
    ) -> SenderReport:
        """An SR for this stream; ``ntp_timestamp`` is the wall clock at ``now``."""
        return SenderReport(
            ssrc=self.ssrc,
            ntp_timestamp=ntp_timestamp,
            rtp_timestamp=self.timestamp_at(now),
            packet_count=self.packets_sent & 0xFFFF_FFFF,
            octet_count=self.octets_sent & 0xFFFF_FFFF,
            reports=reports,
        )

    def __repr__(self) -> str:
        return (
            f"<OutboundStream ssrc=0x{self.ssrc:08x} pt={self.payload_type} "
            f"seq={self.sequence} ts={self.timestamp} sent={self.packets_sent}>"
        )


class RtpRelay:
    """Relays one incoming stream (leg A) onto an outbound stream (leg B), rewriting
    SSRC, sequence number and timestamp.

    ``payload_types`` maps A's payload types to B's (``{0: 0, 101: 96}``); packets of any
    other type are dropped. ``None`` passes every type unchanged.
    """

    def __init__(self, out: OutboundStream, *, payload_types: dict[int, int] | None = None) -> None:
        self.out = out
        self.payload_types = payload_types
        self.source_ssrc: int | None = None
        self._seq_offset = 0
        self._ts_offset = 0
        self._max_out_seq = 0
        self._last_ts: int | None = None
        self._step = out.clock_rate // 50  # 20 ms until the source shows its packet size
        self.relayed = 0
        self.dropped = 0

    def forward(self, data: bytes, now: float) -> bytes | None:
        """The packet to send on leg B for a datagram from leg A, or None to drop it."""
        if len(data) < 12 or data[0] >> 6 != 2:
            self.dropped += 1
            return None
        if data[0] != 0x80:  # CSRCs, an extension or padding: relay only what parses
            try:
                RtpPacket.parse(data)
            except RtpParseError:
                self.dropped += 1
                return None
        b0, b1, seq, timestamp, ssrc = _HEADER.unpack_from(data)
        pt = b1 & 0x7F
        if self.payload_types is not None:
            mapped = self.payload_types.get(pt)
            if mapped is None:
                self.dropped += 1
                return None
            pt = mapped
        marker = b1 & 0x80
        out = self.out
        if ssrc != self.source_ssrc:
            self._resync(ssrc, seq, timestamp, now)
            marker = 0x80
        out_seq = (seq + self._seq_offset) & 0xFFFF
        out_ts = (timestamp + self._ts_offset) & 0xFFFF_FFFF
        newest = (out_seq - self._max_out_seq) & 0xFFFF < 0x8000
        if newest:
            if self._last_ts is not None:
                step = (out_ts - self._last_ts) & 0xFFFF_FFFF
                if 0 < step <= out.clock_rate // 10 and pt != out.event_payload_type:
                    self._step = step  # samples per packet, as the source sends them
            self._max_out_seq = out_seq
            self._last_ts = out_ts
        out.note_relayed(out_seq, out_ts, self._step, len(data) - 12, now, newest=newest)
        self.relayed += 1
        return _HEADER.pack(b0, marker | pt, out_seq, out_ts, out.ssrc) + data[12:]

    def _resync(self, ssrc: int, seq: int, timestamp: int, now: float) -> None:
        """A new source on leg A (first packet, or A's peer restarted its stream): continue
        leg B's sequence and timeline from where they are."""
        out = self.out
        self.source_ssrc = ssrc
        self._seq_offset = (out.sequence - seq) & 0xFFFF
        self._ts_offset = (out.timestamp_at(now) - timestamp) & 0xFFFF_FFFF
        self._max_out_seq = out.sequence
        self._last_ts = None

    def __repr__(self) -> str:
        source = "none" if self.source_ssrc is None else f"0x{self.source_ssrc:08x}"
        return (
            f"<RtpRelay {source} -> 0x{self.out.ssrc:08x} relayed={self.relayed} "
            f"dropped={self.dropped}>"
        )
