"""Decode customer audio (WAV, MP3, OGG, M4A, FLAC) from bytes to 8 kHz mono int16.

PyAV's bundled FFmpeg libraries do the container/codec work in-process (no ffmpeg
binary); downmixing happens in PyAV, resampling in :mod:`voxgate.media.resample`.
"""

from __future__ import annotations

import io

import av
import numpy as np
import numpy.typing as npt

from voxgate.errors import InvalidInput
from voxgate.media.loudness import normalise, to_int16
from voxgate.media.resample import TELEPHONE_RATE, FloatArray, resample
from voxgate.media.sniff import sniff_format

MAX_SECONDS = 600.0


class AudioDecodeError(InvalidInput):
    """The audio could not be decoded."""

    error_id = "invalid_audio"


def decode_native(data: bytes, *, max_seconds: float = MAX_SECONDS) -> tuple[FloatArray, int]:
    """Decode to mono float32 at the file's own rate: ``(samples, rate)``."""
    fmt = sniff_format(data)
    if fmt is None:
        raise AudioDecodeError("not a WAV, MP3, OGG, M4A or FLAC file")
    chunks: list[npt.NDArray[np.float32]] = []
    total = 0
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioDecodeError("the file has no audio stream")
            stream = container.streams.audio[0]
            rate = int(stream.codec_context.sample_rate or stream.rate)
            mixer = av.AudioResampler(format="flt", layout="mono", rate=rate)
            limit = int(max_seconds * rate)
            for frame in container.decode(stream):
                for out in mixer.resample(frame):
                    chunk = out.to_ndarray().reshape(-1).astype(np.float32)
                    chunks.append(chunk)
                    total += chunk.size
                if total > limit:
                    raise AudioDecodeError(f"audio longer than {max_seconds:.0f} s")
            for out in mixer.resample(None):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float32))
    except av.error.FFmpegError as exc:
        raise AudioDecodeError(f"undecodable {fmt} audio: {exc}") from exc
    if not chunks or rate <= 0:
        raise AudioDecodeError("the file contains no audio")
    return np.concatenate(chunks), rate


def decode_audio(
    data: bytes, *, normalise_level: bool = True, max_seconds: float = MAX_SECONDS
) -> npt.NDArray[np.int16]:
    """Decode an uploaded/fetched file to 8 kHz mono int16, loudness-normalised by default."""
    samples, rate = decode_native(data, max_seconds=max_seconds)
    pcm = resample(samples, rate, TELEPHONE_RATE)
    if normalise_level:
        pcm = normalise(pcm)
    return to_int16(pcm)
