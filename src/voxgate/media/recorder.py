"""Call recording: PCM of each leg placed on one timeline by RTP timestamp, written as WAV.

Each leg is a :class:`LegTrack`. Its first frame is anchored at the moment it arrived (``at``,
seconds since the recording started, passed in by the caller); every later frame is placed by
its RTP timestamp relative to that first one, so network jitter does not move audio around and
gaps stay silent. If a leg's timestamps jump far from where arrival time says they should be
(the peer restarted its stream), the track re-anchors.

Output is 16-bit 8 kHz PCM: one mono file per leg, a mono mix, or a stereo file with one leg per
channel, written with the stdlib ``wave`` module into any binary file object.
"""

from __future__ import annotations

import wave
from typing import BinaryIO, Final

import numpy as np
import numpy.typing as npt

SAMPLE_RATE: Final = 8000

Pcm = npt.NDArray[np.int16]


def _as_pcm(pcm: Pcm | bytes) -> Pcm:
    if isinstance(pcm, bytes | bytearray):
        return np.frombuffer(pcm, dtype="<i2").astype(np.int16)
    return np.asarray(pcm, dtype=np.int16)


class LegTrack:
    """The audio of one leg on the recording's timeline."""

    def __init__(self, *, sample_rate: int = SAMPLE_RATE, resync_after: float = 1.0) -> None:
        self.sample_rate = sample_rate
        self._resync = round(resync_after * sample_rate)
        self._chunks: list[tuple[int, Pcm]] = []  # (sample position, samples)
        self._anchor: tuple[int, int] | None = None  # (rtp timestamp, sample position)
        self.frames = 0
        self.resyncs = 0

    def add(self, timestamp: int, pcm: Pcm | bytes, at: float) -> None:
        """One decoded frame with its RTP timestamp, received ``at`` seconds into the recording."""
        samples = _as_pcm(pcm)
        arrival = round(at * self.sample_rate)
        if self._anchor is None:
            self._anchor = (timestamp, max(0, arrival))
        anchor_ts, anchor_pos = self._anchor
        delta = (timestamp - anchor_ts) & 0xFFFF_FFFF
        if delta >= 0x8000_0000:
            delta -= 1 << 32
        position = anchor_pos + delta
        # A frame is never heard before it arrives; far later than that is a restart too.
        if position > arrival + self._resync or position < arrival - 4 * self._resync:
            self._anchor = (timestamp, max(0, arrival))
            position = max(0, arrival)
            self.resyncs += 1
        if position < 0:
            samples, position = samples[-position:], 0
        self._chunks.append((position, samples))
        self.frames += 1

    @property
    def duration(self) -> float:
        return max((pos + len(s) for pos, s in self._chunks), default=0) / self.sample_rate

    def render(self, length: int | None = None) -> Pcm:
        """The track as one array; silence where nothing was received."""
        end = max((pos + len(s) for pos, s in self._chunks), default=0)
        out = np.zeros(end if length is None else length, dtype=np.int16)
        for pos, samples in self._chunks:
            if pos < len(out):
                chunk = samples[: len(out) - pos]
                out[pos : pos + len(chunk)] = chunk
        return out

    def __repr__(self) -> str:
        return f"<LegTrack frames={self.frames} {self.duration:.2f}s resyncs={self.resyncs}>"


def mix(a: Pcm, b: Pcm) -> Pcm:
    """Two tracks summed into one, clipped to 16 bits; the shorter one is padded with silence."""
    length = max(len(a), len(b))
    out = np.zeros(length, dtype=np.int32)
    out[: len(a)] += a
    out[: len(b)] += b
    return np.clip(out, -32768, 32767).astype(np.int16)


def interleave(left: Pcm, right: Pcm) -> Pcm:
    """Two tracks as stereo frames (left, right); the shorter one is padded with silence."""
    length = max(len(left), len(right))
    out = np.zeros((length, 2), dtype=np.int16)
    out[: len(left), 0] = left
    out[: len(right), 1] = right
    return out


def write_wav(
    file: BinaryIO, pcm: Pcm, *, channels: int = 1, sample_rate: int = SAMPLE_RATE
) -> None:
    """Write 16-bit PCM as a WAV file (``pcm`` shaped (n,) or (n, channels))."""
    with wave.open(file, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())


class CallRecording:
    """Both legs of a call: per-leg tracks aligned by timestamp, written separately or mixed."""

    def __init__(self, *, sample_rate: int = SAMPLE_RATE) -> None:
        self.sample_rate = sample_rate
        self.a = LegTrack(sample_rate=sample_rate)
        self.b = LegTrack(sample_rate=sample_rate)

    def _length(self) -> int:
        return round(max(self.a.duration, self.b.duration) * self.sample_rate)

    def write_leg(self, file: BinaryIO, leg: str) -> None:
        """One leg alone, mono, from the start of the recording."""
        track = self.a if leg == "a" else self.b if leg == "b" else None
        if track is None:
            raise ValueError(f"leg must be 'a' or 'b', not {leg!r}")
        write_wav(file, track.render(self._length()), sample_rate=self.sample_rate)

    def write_mixed(self, file: BinaryIO, *, stereo: bool = False) -> None:
        """Both legs: summed into mono, or leg a left and leg b right."""
        length = self._length()
        a, b = self.a.render(length), self.b.render(length)
        if stereo:
            write_wav(file, interleave(a, b), channels=2, sample_rate=self.sample_rate)
        else:
            write_wav(file, mix(a, b), sample_rate=self.sample_rate)

    def __repr__(self) -> str:
        return f"<CallRecording a={self.a!r} b={self.b!r}>"
