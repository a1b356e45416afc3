"""Recognise audio containers from their first bytes; the declared type is never trusted."""

from __future__ import annotations

from typing import Literal

AudioFormat = Literal["wav", "mp3", "ogg", "m4a", "flac"]


def _is_mpeg_frame(head: bytes) -> bool:
    # 11-bit frame sync, a valid layer, bitrate index not 0b1111, sample rate index not 0b11.
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    layer = (head[1] >> 1) & 0x3
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 0x3
    return layer != 0 and bitrate != 0xF and rate != 0x3


def sniff_format(data: bytes) -> AudioFormat | None:
    """The audio container ``data`` starts with, or None when it is not one we decode."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:3] == b"ID3" or _is_mpeg_frame(data[:4]):
        return "mp3"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"fLaC":
        return "flac"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"M4A ", b"M4B ", b"mp42", b"isom", b"mp41", b"iso2", b"dash"):
            return "m4a"
    return None
