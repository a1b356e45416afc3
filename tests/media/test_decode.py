"""Decoding customer audio files from bytes, via PyAV, to 8 kHz mono int16."""

from __future__ import annotations

import numpy as np
import pytest
from audio_files import encode_file, tone

from voxgate.media.decode import AudioDecodeError, decode_audio, decode_native
from voxgate.media.sniff import sniff_format
from voxgate.media.wav import pcm_to_wav, wav_to_pcm


def dominant_hz(pcm: np.ndarray, rate: int = 8000) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.fft.rfftfreq(pcm.size, 1 / rate)[int(np.argmax(spectrum))])


@pytest.mark.parametrize(
    ("kind", "rate"),
    [
        ("wav", 44100),
        ("wav24", 48000),
        ("mp3", 44100),
        ("ogg", 48000),
        ("m4a", 44100),
        ("flac", 22050),
    ],
)
def test_decodes_to_8khz_mono(kind: str, rate: int) -> None:
    data = encode_file(kind, tone(1000, rate, seconds=1.0, amp=0.3), rate)
    assert sniff_format(data) == kind.removesuffix("24")
    pcm = decode_audio(data)
    assert pcm.dtype == np.int16
    # Encoders add priming/padding: allow 100 ms.
    assert abs(pcm.size - 8000) < 800
    assert dominant_hz(pcm) == pytest.approx(1000, abs=5)
    assert np.max(np.abs(pcm)) < 32767


def test_decode_native_keeps_rate() -> None:
    samples, rate = decode_native(encode_file("wav", tone(440, 16000), 16000, channels=1))
    assert rate == 16000
    assert samples.size == 16000


def test_aliasing_tone_is_removed_from_upload() -> None:
    data = encode_file("wav", tone(5000, 44100, amp=0.5), 44100)
    pcm = decode_audio(data, normalise_level=False).astype(np.float64)
    assert np.sqrt(np.mean(pcm[2000:-2000] ** 2)) / 32768 < 0.5 * 0.01  # ≥ 40 dB down


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world, not audio",
        b"RIFF\x00\x00\x00\x00WAVEjunkjunk",
        b"ID3\x04" + b"\x00" * 50,
    ],
)
def test_rejects_garbage(data: bytes) -> None:
    with pytest.raises(AudioDecodeError):
        decode_audio(data)


def test_rejects_too_long() -> None:
    data = encode_file("wav", tone(440, 8000, seconds=3.0), 8000, channels=1)
    with pytest.raises(AudioDecodeError, match="longer"):
        decode_audio(data, max_seconds=1.0)


def test_wav_round_trip() -> None:
    pcm = (np.arange(100) * 300 - 15000).astype(np.int16)
    again, rate = wav_to_pcm(pcm_to_wav(pcm, 8000))
    assert rate == 8000
    assert np.array_equal(again, pcm)
