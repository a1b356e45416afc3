"""A jitter buffer for audio that is played out, mixed or recorded at a steady pace.

Packets go in as they arrive (any order, duplicates, 16-bit sequence wrap-around); frames
come out in sequence order, one per :meth:`JitterBuffer.pop` on the media clock's tick. A packet
that arrives after its turn has passed is dropped. A missing packet whose successors are already
here comes out as a lost frame (``payload`` None): the caller plays silence or conceals it.

No clock is read: the caller's tick is the clock. Relaying a bridge does not go through a jitter
buffer (packets are forwarded as they come, see :class:`voxgate.rtp.session.RtpRelay`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SEQ_MOD: Final = 1 << 16
RESTART_JUMP: Final = 3000  # a sequence jump this large means the sender restarted


@dataclass(frozen=True, slots=True)
class Frame:
    sequence: int  # 16-bit, as on the wire
    timestamp: int
    payload: bytes | None  # None: lost, fill with silence or concealment

    @property
    def lost(self) -> bool:
        return self.payload is None

    def __repr__(self) -> str:
        body = "LOST" if self.payload is None else f"{len(self.payload)}B"
        return f"Frame(seq={self.sequence}, ts={self.timestamp}, {body})"


class JitterBuffer:
    """Reorders one RTP stream by sequence number.

    ``prefetch`` packets are collected before playout starts (and again after the buffer runs
    dry); at most ``capacity`` packets are held — beyond that the oldest are skipped.
    """

    def __init__(self, *, capacity: int = 50, prefetch: int = 3, samples_per_frame: int = 160):
        if not 1 <= prefetch <= capacity:
            raise ValueError("need 1 <= prefetch <= capacity")
        self.capacity = capacity
        self.prefetch = prefetch
        self._frames: dict[int, tuple[int, bytes]] = {}  # extended seq -> (timestamp, payload)
        self._next: int | None = None  # extended seq of the next frame to play
        self._highest: int | None = None
        self._playing = False
        self._last_ts: int | None = None
        self._ts_step = samples_per_frame
        self._jump_to = -1
        self.received = 0
        self.late = 0
        self.duplicates = 0
        self.lost = 0
        self.skipped = 0

    def _extend(self, sequence: int) -> int:
        reference = self._highest if self._highest is not None else sequence
        delta = (sequence - reference) % SEQ_MOD
        if delta >= SEQ_MOD // 2:
            delta -= SEQ_MOD
        return reference + delta

    def put(self, sequence: int, timestamp: int, payload: bytes) -> bool:
        """Accept one packet; False if it was dropped (late or duplicate)."""
        ext = self._extend(sequence)
        if self._highest is not None and abs(ext - self._highest) > RESTART_JUMP:
            # Believe a jump only when the next packet follows it (RFC 3550 A.1).
            if sequence != self._jump_to:
                self._jump_to = (sequence + 1) % SEQ_MOD
                self.late += 1
                return False
            self._restart()
            ext = sequence
        if self._next is None or (not self._playing and ext < self._next):
            self._next = ext  # not playing yet: an earlier packet may still come first
        if ext < self._next:
            self.late += 1
            return False
        if ext in self._frames:
            self.duplicates += 1
            return False
        self._frames[ext] = (timestamp, payload)
        self.received += 1
        if self._highest is None or ext > self._highest:
            self._highest = ext
        overflow = ext - self._next + 1 - self.capacity
        if overflow > 0:  # too far behind: skip the oldest to stay within capacity
            for old in range(self._next, self._next + overflow):
                if self._frames.pop(old, None) is not None:
                    self.skipped += 1
            self._next += overflow
        return True

    def _restart(self) -> None:
        self._frames.clear()
        self._next = self._highest = None
        self._playing = False
        self._last_ts = None

    def _start(self) -> None:
        first = min(self._frames)
        if self._next is not None and first > self._next:
            self.lost += first - self._next  # gone while refilling
        self._next = first
        self._playing = True

    def pop(self) -> Frame | None:
        """The next frame to play, or None while (re)filling — play silence then."""
        if self._next is None:
            return None
        if not self._playing:
            if len(self._frames) < self.prefetch:
                return None
            self._start()
        seq = self._next
        entry = self._frames.pop(seq, None)
        if entry is None:
            if not self._frames:  # ran dry: refill before playing on
                self._playing = False
                return None
            self._next = seq + 1
            self.lost += 1
            timestamp = 0 if self._last_ts is None else (self._last_ts + self._ts_step)
            self._last_ts = timestamp & 0xFFFF_FFFF
            return Frame(seq % SEQ_MOD, self._last_ts, None)
        timestamp, payload = entry
        if self._last_ts is not None:
            step = (timestamp - self._last_ts) & 0xFFFF_FFFF
            if 0 < step < 0x8000_0000:
                self._ts_step = step
        self._last_ts = timestamp
        self._next = seq + 1
        return Frame(seq % SEQ_MOD, timestamp, payload)

    def drain(self) -> list[Frame]:
        """Everything still held, in order with gaps as lost frames (the call ended)."""
        out = []
        if not self._playing and self._frames:
            self._start()
        while self._frames:
            frame = self.pop()
            if frame is None:
                break
            out.append(frame)
        return out

    def __len__(self) -> int:
        return len(self._frames)

    def __repr__(self) -> str:
        state = "playing" if self._playing else "filling"
        return (
            f"<JitterBuffer {state} held={len(self._frames)} next={self._next} "
            f"late={self.late} lost={self.lost} dup={self.duplicates} skipped={self.skipped}>"
        )
