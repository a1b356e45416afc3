"""RFC 4733 telephone-events: DTMF digits as RTP packets, sent and received.

Sending: :func:`encode_digit` turns one key into the packet sequence of one event — the first
packet with the marker bit, an update every packet interval with the growing duration, and
three end packets, all with the event's start timestamp.
:class:`~voxgate.rtp.session.OutboundStream` stamps them with sequence numbers.

Receiving: :class:`DtmfReceiver` reports each key exactly once, when the event ends: on its
first end packet, when a newer event starts, or — if every end packet was lost — when no packet
of the event has arrived for ``timeout`` seconds (the shell calls :meth:`DtmfReceiver.handle_timer`
at :meth:`DtmfReceiver.get_timer`). Events are told apart by their RTP timestamp, so retransmitted
end packets and late packets of a finished event are ignored, and an event whose start packets
were lost is still reported.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

from voxgate.rtp.errors import RtpParseError
from voxgate.rtp.packet import RtpPacket

DTMF_KEYS: Final = "0123456789*#ABCD"  # event codes 0..15 (RFC 4733 §3.2)
MAX_DURATION: Final = 0xFFFF
STALE_WINDOW_SECONDS: Final = 60  # packets this far behind the last event are late, not new

_EVENT = struct.Struct("!BBH")


def event_code(key: str) -> int:
    """The RFC 4733 event code of a DTMF key ('0'–'9', '*', '#', 'A'–'D')."""
    code = DTMF_KEYS.find(key.upper()) if len(key) == 1 else -1
    if code < 0:
        raise ValueError(f"not a DTMF key: {key!r}")
    return code


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """The 4-byte payload of one telephone-event packet (RFC 4733 §2.3)."""

    event: int
    end: bool = False
    volume: int = 10  # -dBm0, 0..63
    duration: int = 0  # in timestamp units

    @property
    def key(self) -> str | None:
        return DTMF_KEYS[self.event] if self.event < len(DTMF_KEYS) else None

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        if len(payload) < 4:
            raise RtpParseError(f"telephone-event payload too short ({len(payload)} bytes)")
        event, flags, duration = _EVENT.unpack_from(payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def serialize(self) -> bytes:
        flags = (0x80 if self.end else 0) | (self.volume & 0x3F)
        return _EVENT.pack(self.event, flags, min(self.duration, MAX_DURATION))


@dataclass(frozen=True, slots=True)
class EventPacket:
    """One packet of an outgoing event: send it ``offset`` seconds after the event starts."""

    offset: float
    marker: bool
    event: TelephoneEvent

    @property
    def payload(self) -> bytes:
        return self.event.serialize()


def encode_digit(
    key: str,
    *,
    duration_ms: int = 100,
    volume: int = 10,
    packet_ms: int = 20,
    clock_rate: int = 8000,
    end_repeats: int = 3,
) -> list[EventPacket]:
    """The packets that send one key (RFC 4733 §2.5.1), one per packet interval.

    Every packet carries the same RTP timestamp (the event start); the sender gives each its
    own sequence number. Durations above 65535 units (8 s at 8 kHz) are not segmented.
    """
    code = event_code(key)
    step = clock_rate * packet_ms // 1000
    total = min(max(step, clock_rate * duration_ms // 1000), MAX_DURATION)
    updates = -(-total // step)  # ceil: packets until the duration is reached
    packets = []
    for k in range(updates - 1):
        event = TelephoneEvent(code, False, volume, (k + 1) * step)
        packets.append(EventPacket(k * packet_ms / 1000, k == 0, event))
    end = TelephoneEvent(code, True, volume, total)
    for r in range(end_repeats):
        k = updates - 1 + r
        packets.append(EventPacket(k * packet_ms / 1000, k == 0, end))
    return packets


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """A key received as telephone-events, reported once."""

    key: str
    timestamp: int  # RTP timestamp of the event (of its last segment, if longer than 8 s)
    duration: int  # longest duration seen, in timestamp units
    ended_by: Literal["end", "timeout", "next_event"]


class _Active:
    __slots__ = ("duration", "event", "last_seen", "offset", "timestamp")

    def __init__(self, event: int, timestamp: int, duration: int, now: float) -> None:
        self.event = event
        self.timestamp = timestamp  # of the current segment
        self.offset = 0  # from the first segment's timestamp to the current one's
        self.duration = duration  # within the current segment
        self.last_seen = now


def _behind(timestamp: int, reference: int, window: int) -> bool:
    """True when ``timestamp`` is at or up to ``window`` units before ``reference`` (mod 2**32).

    Anything further away counts as new: a peer that restarts its stream with a fresh random
    timestamp base must not have its digits ignored.
    """
    return (reference - timestamp) & 0xFFFF_FFFF <= window


class DtmfReceiver:
    """Turns received telephone-event packets into keys, each reported exactly once."""

    def __init__(self, *, clock_rate: int = 8000, timeout: float = 0.4, history: int = 32) -> None:
        self.clock_rate = clock_rate
        self.timeout = timeout
        self._active: _Active | None = None
        self._done: deque[int] = deque(maxlen=history)  # timestamps of reported events
        self._last_done: int | None = None
        self.malformed = 0

    def feed(self, payload: bytes, timestamp: int, marker: bool, now: float) -> list[DtmfDigit]:
        """Account one telephone-event packet; return the keys that ended with it."""
        try:
            event = TelephoneEvent.parse(payload)
        except RtpParseError:
            self.malformed += 1
            return []
        if event.event >= len(DTMF_KEYS):
            return []
        window = self.clock_rate * STALE_WINDOW_SECONDS
        if timestamp in self._done or (
            self._last_done is not None and _behind(timestamp, self._last_done, window)
        ):
            return []  # a retransmitted end packet, or a late packet of a finished event
        out: list[DtmfDigit] = []
        active = self._active
        if active is not None and active.timestamp != timestamp:
            if self._continues(active, event, timestamp, marker):
                active.offset += (timestamp - active.timestamp) & 0xFFFF_FFFF
                active.timestamp = timestamp
                active.duration = 0
            elif _behind(timestamp, active.timestamp, window):
                return []  # older than the event in progress: stale
            else:
                out.append(self._finish("next_event"))
                active = None
        if active is None:
            active = self._active = _Active(event.event, timestamp, 0, now)
        active.last_seen = now
        active.duration = max(active.duration, event.duration)
        if event.end:
            out.append(self._finish("end"))
        return out

    def feed_packet(self, packet: RtpPacket, now: float) -> list[DtmfDigit]:
        """:meth:`feed` for a parsed packet of the negotiated telephone-event type."""
        return self.feed(packet.payload, packet.timestamp, packet.marker, now)

    def _continues(
        self, active: _Active, event: TelephoneEvent, timestamp: int, marker: bool
    ) -> bool:
        """A long event goes on in a new segment (RFC 4733 §2.5.1.3): same key, no marker,
        starting where the previous segment's maximum duration ran out."""
        step = (timestamp - active.timestamp) & 0xFFFF_FFFF
        return (
            not marker
            and event.event == active.event
            and active.duration >= MAX_DURATION - self.clock_rate // 2
            and active.duration <= step <= MAX_DURATION
        )

    def _finish(self, reason: Literal["end", "timeout", "next_event"]) -> DtmfDigit:
        active = self._active
        assert active is not None
        self._active = None
        self._done.append(active.timestamp)
        self._last_done = active.timestamp
        duration = active.offset + active.duration
        return DtmfDigit(DTMF_KEYS[active.event], active.timestamp, duration, reason)

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must next be called, or None."""
        return None if self._active is None else self._active.last_seen + self.timeout

    def handle_timer(self, now: float) -> list[DtmfDigit]:
        """Report an event whose end packets were all lost."""
        timer = self.get_timer()
        if timer is not None and now >= timer:
            return [self._finish("timeout")]
        return []

    def __repr__(self) -> str:
        active = self._active
        state = "idle" if active is None else f"{DTMF_KEYS[active.event]}@{active.timestamp}"
        return f"<DtmfReceiver {state} reported={len(self._done)}>"
