"""Telephone audio: resample → normalise → G.711, and joining pieces back to back.

A :class:`TelephoneAudio` is exactly what goes into RTP payloads: 8 kHz G.711 bytes,
one byte per sample, sliced into 20 ms frames by :meth:`TelephoneAudio.frames`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from voxgate.media import g711
from voxgate.media.g711 import Codec
from voxgate.media.loudness import normalise, to_int16
from voxgate.media.resample import TELEPHONE_RATE, resample
from voxgate.media.voicecontent import FileSegment, SpeakSegment

T = TypeVar("T")

DEFAULT_GAP_MS = 250


@dataclass(frozen=True, repr=False)
class TelephoneAudio:
    """8 kHz G.711 payload bytes in one codec."""

    codec: Codec
    payload: bytes

    @property
    def duration(self) -> float:
        return len(self.payload) / TELEPHONE_RATE

    def pcm(self) -> npt.NDArray[np.int16]:
        """What the callee hears: the payload decoded to linear 8 kHz."""
        return g711.decode(self.codec, self.payload)

    def frames(self, ptime_ms: int = 20) -> Iterator[bytes]:
        """Fixed-size RTP payloads; the last one is padded with codec silence."""
        size = TELEPHONE_RATE * ptime_ms // 1000
        pad = bytes([g711.silence_byte(self.codec)])
        for start in range(0, len(self.payload), size):
            chunk = self.payload[start : start + size]
            yield chunk + pad * (size - len(chunk))

    def __repr__(self) -> str:
        return f"<TelephoneAudio {self.codec} {self.duration:.2f}s>"


def silence(codec: Codec, ms: int) -> TelephoneAudio:
    return TelephoneAudio(codec, bytes([g711.silence_byte(codec)]) * (TELEPHONE_RATE * ms // 1000))


def to_telephone(
    samples: npt.ArrayLike, rate: int, codec: Codec, *, normalise_level: bool = True
) -> TelephoneAudio:
    """Mono samples (int16 or float) at ``rate`` → normalised 8 kHz G.711."""
    pcm = resample(samples, rate, TELEPHONE_RATE)
    if normalise_level:
        pcm = normalise(pcm)
    return TelephoneAudio(codec, g711.encode(codec, to_int16(pcm)))


def from_pcm8k(pcm: npt.NDArray[np.int16], codec: Codec) -> TelephoneAudio:
    """Stored 8 kHz int16 (already normalised) → G.711, no further processing."""
    return TelephoneAudio(codec, g711.encode(codec, pcm))


def join(
    pieces: Sequence[TelephoneAudio], *, codec: Codec, gap_ms: int = DEFAULT_GAP_MS
) -> TelephoneAudio:
    """Play ``pieces`` back to back with ``gap_ms`` of silence between them."""
    if any(p.codec != codec for p in pieces):
        raise ValueError("all pieces must use the same codec")
    gap = silence(codec, gap_ms).payload
    return TelephoneAudio(codec, gap.join(p.payload for p in pieces))


def transcode(audio: TelephoneAudio, codec: Codec) -> TelephoneAudio:
    """The same audio in the other G.711 law."""
    if audio.codec == codec:
        return audio
    return TelephoneAudio(codec, g711.encode(codec, audio.pcm()))


def render_segments(
    segments: Iterable[SpeakSegment | FileSegment[T]],
    *,
    speak: Callable[[SpeakSegment], TelephoneAudio],
    play: Callable[[T], TelephoneAudio],
    codec: Codec,
    gap_ms: int = DEFAULT_GAP_MS,
) -> TelephoneAudio:
    """Render text and file segments with the given callables and play them back to back."""
    pieces: list[TelephoneAudio] = []
    for segment in segments:
        piece = speak(segment) if isinstance(segment, SpeakSegment) else play(segment.ref)
        pieces.append(transcode(piece, codec))
    return join(pieces, codec=codec, gap_ms=gap_ms)
