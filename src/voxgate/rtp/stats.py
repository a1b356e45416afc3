"""Receiver statistics for one incoming RTP source (RFC 3550 A.1, A.3, A.8).

Fed each packet's sequence number, RTP timestamp and arrival time (seconds on any monotonic
clock, passed in); produces the report block for the next RR or SR.
"""

from __future__ import annotations

from typing import Final

from voxgate.rtp.rtcp import ReportBlock, ntp_middle32

SEQ_MOD: Final = 1 << 16
MAX_DROPOUT: Final = 3000
MAX_MISORDER: Final = 100


class RtpReceiverStats:
    """Sequence tracking, loss and interarrival jitter for one SSRC."""

    def __init__(self, *, ssrc: int, clock_rate: int = 8000) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.base_seq = 0
        self.max_seq = 0
        self.cycles = 0
        self.bad_seq = SEQ_MOD + 1
        self.received = 0
        self.duplicates_or_late = 0
        self._started = False
        self._expected_prior = 0
        self._received_prior = 0
        self._transit: float | None = None
        self.jitter_units = 0.0  # RFC 3550 J, in timestamp units, kept unrounded
        self._last_sr: int = 0  # middle 32 bits of the last SR's NTP time
        self._last_sr_arrival: float | None = None

    def _init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self._expected_prior = 0
        self._received_prior = 0

    def on_packet(self, sequence: int, timestamp: int, arrival: float) -> bool:
        """Account one packet; False when it is a duplicate, very late, or a wild jump."""
        if not self._started:
            self._started = True
            self._init_seq(sequence)
        else:
            udelta = (sequence - self.max_seq) % SEQ_MOD
            if udelta == 0:
                self.duplicates_or_late += 1
                return False
            if udelta < MAX_DROPOUT:
                if sequence < self.max_seq:
                    self.cycles += SEQ_MOD
                self.max_seq = sequence
            elif udelta <= SEQ_MOD - MAX_MISORDER:
                if sequence != self.bad_seq:
                    # A very large jump: believe it only if the next packet follows it.
                    self.bad_seq = (sequence + 1) % SEQ_MOD
                    return False
                self._init_seq(sequence)
                self._transit = None
            else:
                self.duplicates_or_late += 1  # reordered or duplicated, still counted
        self.received += 1
        self._update_jitter(timestamp, arrival)
        return True

    def _update_jitter(self, timestamp: int, arrival: float) -> None:
        transit = arrival * self.clock_rate - timestamp
        if self._transit is not None:
            d = abs(transit - self._transit)
            if d < (1 << 31):  # a timestamp wrap between two packets is not jitter
                self.jitter_units += (d - self.jitter_units) / 16.0
        self._transit = transit

    def on_sender_report(self, ntp_timestamp: int, arrival: float) -> None:
        """Remember an SR from this source for the LSR/DLSR fields of our next report."""
        self._last_sr = ntp_middle32(ntp_timestamp)
        self._last_sr_arrival = arrival

    @property
    def extended_max_seq(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max_seq - self.base_seq + 1 if self.received else 0

    @property
    def cumulative_lost(self) -> int:
        return self.expected - self.received

    @property
    def jitter(self) -> int:
        """Interarrival jitter in timestamp units, as put in a report block."""
        return int(self.jitter_units)

    @property
    def jitter_seconds(self) -> float:
        return self.jitter_units / self.clock_rate

    def report_block(self, now: float) -> ReportBlock:
        """The next report block; starts a new interval for the fraction lost."""
        expected = self.expected
        expected_interval = expected - self._expected_prior
        received_interval = self.received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        dlsr = 0
        if self._last_sr_arrival is not None:
            dlsr = int(max(0.0, now - self._last_sr_arrival) * 65536) & 0xFFFF_FFFF
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            cumulative_lost=self.cumulative_lost,
            highest_sequence=self.extended_max_seq & 0xFFFF_FFFF,
            jitter=self.jitter & 0xFFFF_FFFF,
            lsr=self._last_sr,
            dlsr=dlsr,
        )

    def __repr__(self) -> str:
        return (
            f"<RtpReceiverStats ssrc=0x{self.ssrc:08x} received={self.received} "
            f"lost={self.cumulative_lost} max_seq={self.extended_max_seq} jitter={self.jitter}>"
        )
