"""RTCP for one two-party audio session (RFC 3550 §6), without sockets or clocks.

:class:`RtcpReporter` keeps reception statistics of the peer's stream, says when the next
report is due (every ``interval`` seconds, randomised between half and one and a half of
it, the first after half an interval: §6.2, §6.3.5), builds the compound packet to send
(an SR while we send, else an RR, then our CNAME: §6.1), reads the peer's reports and
measures the round trip from them (§6.4.1), and says the call's media quality both ways.
Times are passed in: ``now`` on a monotonic clock, ``wall`` as Unix time for NTP fields.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from voxgate.rtp.errors import RtpParseError
from voxgate.rtp.rtcp import (
    SDES_CNAME,
    Bye,
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    SdesChunk,
    SenderReport,
    SourceDescription,
    ntp_time,
    parse_rtcp,
    serialize_rtcp,
)
from voxgate.rtp.session import OutboundStream
from voxgate.rtp.stats import RtpReceiverStats

DEFAULT_INTERVAL = 5.0  # seconds: RFC 3550's minimum between reports


@dataclass(frozen=True, slots=True)
class MediaQuality:
    """A call's media, as we saw it and as the peer reported it."""

    packets_sent: int
    packets_received: int
    packets_lost: int  # of the peer's stream, as we count them
    jitter_ms: float  # of the peer's stream at our end
    peer_packets_lost: int | None  # of our stream, from the peer's last report
    peer_fraction_lost: float | None  # in its last report interval, 0..1
    peer_jitter_ms: float | None  # of our stream at the peer's end
    round_trip_ms: float | None  # from the peer's report of our last SR
    reports_sent: int
    reports_received: int

    def as_json(self) -> dict[str, float | int | None]:
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value, 2)

        return {
            "packets_sent": self.packets_sent,
            "packets_received": self.packets_received,
            "packets_lost": self.packets_lost,
            "jitter_ms": ms(self.jitter_ms),
            "peer_packets_lost": self.peer_packets_lost,
            "peer_fraction_lost": self.peer_fraction_lost,
            "peer_jitter_ms": ms(self.peer_jitter_ms),
            "round_trip_ms": ms(self.round_trip_ms),
            "reports_sent": self.reports_sent,
            "reports_received": self.reports_received,
        }


class RtcpReporter:
    def __init__(
        self,
        *,
        cname: str,
        now: float,
        interval: float = DEFAULT_INTERVAL,
        clock_rate: int = 8000,
        rng: random.Random | None = None,
    ) -> None:
        self.cname = cname.encode()[:255]
        self.interval = interval
        self.clock_rate = clock_rate
        # the module's generator unless one is given: a Random of its own is 2.5 KB a call
        self._uniform = random.uniform if rng is None else rng.uniform
        self.next_at = now + interval / 2 * self._spread()
        self.peer: RtpReceiverStats | None = None  # the peer's stream, once it arrives
        self.peer_report: ReportBlock | None = None  # the peer's last report on our stream
        self.round_trip: float | None = None
        self.reports_sent = 0
        self.reports_received = 0
        self._sent_at_last_report = 0

    def _spread(self) -> float:
        return self._uniform(0.5, 1.5)

    # -- what arrives ------------------------------------------------------------------
    def on_rtp(self, ssrc: int, sequence: int, timestamp: int, now: float) -> None:
        """A packet of the peer's stream (a new SSRC starts the statistics over)."""
        peer = self.peer
        if peer is None or peer.ssrc != ssrc:
            peer = self.peer = RtpReceiverStats(ssrc=ssrc, clock_rate=self.clock_rate)
        peer.on_packet(sequence, timestamp, now)

    def on_rtcp(self, data: bytes, out: OutboundStream | None, now: float, wall: float) -> bool:
        """A compound packet from the peer; False when it does not parse."""
        try:
            packets = parse_rtcp(data)
        except RtpParseError:
            return False
        self.reports_received += 1
        ours = None if out is None else out.ssrc
        for packet in packets:
            if isinstance(packet, SenderReport):
                if self.peer is not None and packet.ssrc == self.peer.ssrc:
                    self.peer.on_sender_report(packet.ntp_timestamp, now)
                blocks = packet.reports
            elif isinstance(packet, ReceiverReport):
                blocks = packet.reports
            else:
                continue
            for block in blocks:
                if block.ssrc == ours:
                    self.peer_report = block
                    rtt = block.round_trip_time(ntp_time(wall))
                    if rtt is not None:
                        self.round_trip = rtt
        return True

    # -- what goes out -----------------------------------------------------------------
    def due(self, now: float) -> bool:
        return now >= self.next_at

    def report(self, out: OutboundStream | None, now: float, wall: float) -> bytes:
        """The compound packet to send now; the next one is due an interval later."""
        self.next_at = now + self.interval * self._spread()
        self.reports_sent += 1
        return serialize_rtcp(self._packets(out, now, wall))

    def bye(self, out: OutboundStream | None, now: float, wall: float) -> bytes:
        """The last compound packet: a report, our CNAME and BYE (§6.6)."""
        packets = self._packets(out, now, wall)
        ssrc = _ssrc(out)
        return serialize_rtcp([*packets, Bye((ssrc,))])

    def _packets(self, out: OutboundStream | None, now: float, wall: float) -> list[RtcpPacket]:
        blocks = () if self.peer is None else (self.peer.report_block(now),)
        first: RtcpPacket
        if out is not None and out.packets_sent > self._sent_at_last_report:
            # we sent since the last report: a sender report (§6.4)
            first = out.sender_report(ntp_timestamp=ntp_time(wall), now=now, reports=blocks)
            self._sent_at_last_report = out.packets_sent
        else:
            first = ReceiverReport(_ssrc(out), blocks)
        cname = SourceDescription((SdesChunk(_ssrc(out), ((SDES_CNAME, self.cname),)),))
        return [first, cname]

    # -- what it says ------------------------------------------------------------------
    def quality(self, out: OutboundStream | None) -> MediaQuality:
        peer, report = self.peer, self.peer_report
        return MediaQuality(
            packets_sent=0 if out is None else out.packets_sent,
            packets_received=0 if peer is None else peer.received,
            packets_lost=0 if peer is None else max(0, peer.cumulative_lost),
            jitter_ms=0.0 if peer is None else peer.jitter_seconds * 1000,
            peer_packets_lost=None if report is None else report.cumulative_lost,
            peer_fraction_lost=None if report is None else report.fraction_lost / 256,
            peer_jitter_ms=None if report is None else report.jitter / self.clock_rate * 1000,
            round_trip_ms=None if self.round_trip is None else self.round_trip * 1000,
            reports_sent=self.reports_sent,
            reports_received=self.reports_received,
        )


def _ssrc(out: OutboundStream | None) -> int:
    return 0 if out is None else out.ssrc
