"""16-bit PCM WAV to and from bytes (no files: callers do their own I/O)."""

from __future__ import annotations

import io
import wave

import numpy as np
import numpy.typing as npt


def pcm_to_wav(pcm: npt.NDArray[np.int16], rate: int) -> bytes:
    """Mono int16 samples as a 16-bit PCM WAV file image."""
    if pcm.dtype != np.int16:
        raise TypeError(f"expected int16 samples, got {pcm.dtype}")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return buf.getvalue()


def wav_to_pcm(data: bytes) -> tuple[npt.NDArray[np.int16], int]:
    """A mono 16-bit PCM WAV image back to ``(samples, rate)``."""
    with wave.open(io.BytesIO(data), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError("expected mono 16-bit PCM WAV")
        frames = w.readframes(w.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.int16), w.getframerate()
