"""G.711 µ-law (PCMU) and A-law (PCMA), vectorised with numpy.

Bit-exact with the ITU-T G.711 reference algorithm as published in the classic Sun
Microsystems ``g711.c`` (the same tables CPython's former ``audioop`` used). Input is
signed 16-bit linear PCM; output is one code byte per sample.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Codec = Literal["pcmu", "pcma"]
CODECS: tuple[Codec, ...] = ("pcmu", "pcma")

Int16Array = npt.NDArray[np.int16]
UInt8Array = npt.NDArray[np.uint8]

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # on the 14-bit magnitude
# Segment end points (inclusive) for the two laws, on 14-bit (µ) and 13-bit (A) magnitudes.
_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_SEG_AEND = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)


def _as_int32(pcm: npt.ArrayLike) -> npt.NDArray[np.int32]:
    arr = np.asarray(pcm)
    if arr.dtype != np.int16:
        raise TypeError(f"G.711 encoders take int16 samples, got {arr.dtype}")
    return arr.astype(np.int32)


def ulaw_encode(pcm: npt.ArrayLike) -> UInt8Array:
    """Encode int16 samples to µ-law code bytes."""
    val = _as_int32(pcm) >> 2
    mask = np.where(val < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(val), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_SEG_UEND, mag, side="left")
    code = (np.minimum(seg, 7) << 4) | ((mag >> (seg + 1)) & 0xF)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def ulaw_decode(codes: npt.ArrayLike) -> Int16Array:
    """Decode µ-law code bytes to int16 samples."""
    u = (~np.asarray(codes, dtype=np.uint8)).astype(np.int32)
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def alaw_encode(pcm: npt.ArrayLike) -> UInt8Array:
    """Encode int16 samples to A-law code bytes."""
    val = _as_int32(pcm) >> 3
    neg = val < 0
    mask = np.where(neg, 0x55, 0xD5)
    mag = np.where(neg, -val - 1, val)
    seg = np.searchsorted(_SEG_AEND, mag, side="left")
    shift = np.where(seg < 2, 1, seg)
    code = (np.minimum(seg, 7) << 4) | ((mag >> shift) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def alaw_decode(codes: npt.ArrayLike) -> Int16Array:
    """Decode A-law code bytes to int16 samples."""
    a = np.asarray(codes, dtype=np.uint8).astype(np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(np.int16)


def encode(codec: Codec, pcm: npt.ArrayLike) -> bytes:
    """Encode int16 samples with ``codec`` and return the payload bytes."""
    if codec == "pcmu":
        return ulaw_encode(pcm).tobytes()
    if codec == "pcma":
        return alaw_encode(pcm).tobytes()
    raise ValueError(f"unknown codec {codec!r}")


def decode(codec: Codec, payload: bytes) -> Int16Array:
    """Decode a G.711 payload to int16 samples."""
    codes = np.frombuffer(payload, dtype=np.uint8)
    if codec == "pcmu":
        return ulaw_decode(codes)
    if codec == "pcma":
        return alaw_decode(codes)
    raise ValueError(f"unknown codec {codec!r}")


def silence_byte(codec: Codec) -> int:
    """The code byte for digital silence (linear 0)."""
    return 0xFF if codec == "pcmu" else 0xD5
