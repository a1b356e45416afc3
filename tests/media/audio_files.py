"""Build real audio files in memory with PyAV's encoders (test helper)."""

from __future__ import annotations

import io

import av
import numpy as np

# container format, codec, sample format
FORMATS: dict[str, tuple[str, str, str]] = {
    "wav": ("wav", "pcm_s16le", "s16"),
    "wav24": ("wav", "pcm_s24le", "s32"),
    "mp3": ("mp3", "libmp3lame", "fltp"),
    "ogg": ("ogg", "libopus", "s16"),
    "m4a": ("ipod", "aac", "fltp"),
    "flac": ("flac", "flac", "s16"),
}


def tone(freq: float, rate: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def encode_file(kind: str, samples: np.ndarray, rate: int, channels: int = 2) -> bytes:
    """Encode float mono ``samples`` duplicated over ``channels`` into a ``kind`` file."""
    fmt, codec, sample_fmt = FORMATS[kind]
    buf = io.BytesIO()
    layout = "stereo" if channels == 2 else "mono"
    with av.open(buf, mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        stream.format = sample_fmt
        frame_size = stream.codec_context.frame_size or 1024
        data = np.tile(samples, (channels, 1))
        for start in range(0, samples.size, frame_size):
            block = data[:, start : start + frame_size]
            if sample_fmt == "s16":
                arr = (block.T * 32767).astype(np.int16).reshape(1, -1)
            elif sample_fmt == "s32":
                arr = (block.T * 2147483000).astype(np.int32).reshape(1, -1)
            else:
                arr = np.ascontiguousarray(block.astype(np.float32))
            frame = av.AudioFrame.from_ndarray(arr, format=sample_fmt, layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()
