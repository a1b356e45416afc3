"""G.711 against reference vectors, over every 16-bit input and every code."""

from __future__ import annotations

import numpy as np
import pytest
from g711_vectors import ALAW_DECODE, ALAW_ENCODE_RUNS, ULAW_DECODE, ULAW_ENCODE_RUNS

from voxgate.media import g711

ALL_INPUTS = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = np.arange(256, dtype=np.uint8)


def expand_runs(runs: tuple[tuple[int, int], ...]) -> np.ndarray:
    starts = [start for start, _ in runs] + [32768]
    out = np.empty(65536, dtype=np.uint8)
    for (start, code), end in zip(runs, starts[1:], strict=True):
        out[start + 32768 : end + 32768] = code
    return out


def test_ulaw_encode_every_input_matches_reference() -> None:
    assert np.array_equal(g711.ulaw_encode(ALL_INPUTS), expand_runs(ULAW_ENCODE_RUNS))


def test_alaw_encode_every_input_matches_reference() -> None:
    assert np.array_equal(g711.alaw_encode(ALL_INPUTS), expand_runs(ALAW_ENCODE_RUNS))


def test_ulaw_decode_table() -> None:
    assert g711.ulaw_decode(ALL_CODES).tolist() == list(ULAW_DECODE)


def test_alaw_decode_table() -> None:
    assert g711.alaw_decode(ALL_CODES).tolist() == list(ALAW_DECODE)


@pytest.mark.parametrize(
    ("sample", "ulaw", "alaw"),
    [
        (0, 0xFF, 0xD5),
        (-1, 0x7E, 0x55),
        (8, 0xFE, 0xD5),
        (-8, 0x7E, 0x55),
        (1000, 0xCE, 0xFA),
        (-1000, 0x4E, 0x7A),
        (32767, 0x80, 0xAA),
        (-32768, 0x00, 0x2A),
    ],
)
def test_well_known_codes(sample: int, ulaw: int, alaw: int) -> None:
    pcm = np.array([sample], dtype=np.int16)
    assert int(g711.ulaw_encode(pcm)[0]) == ulaw
    assert int(g711.alaw_encode(pcm)[0]) == alaw


@pytest.mark.parametrize(
    ("codec", "sequence"),
    [
        # G.711 Table 5 and Table 6: the digital milliwatt, 1 kHz at 0 dBm0.
        ("pcmu", bytes([0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E])),
        ("pcma", bytes([0x34, 0x21, 0x21, 0x34, 0xB4, 0xA1, 0xA1, 0xB4])),
    ],
)
def test_digital_milliwatt_decodes_to_1khz_sine(codec: g711.Codec, sequence: bytes) -> None:
    pcm = g711.decode(codec, sequence * 100).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm))
    freqs = np.fft.rfftfreq(pcm.size, 1 / 8000)
    assert freqs[int(np.argmax(spectrum))] == pytest.approx(1000.0)
    assert g711.encode(codec, g711.decode(codec, sequence)) == sequence


@pytest.mark.parametrize("codec", g711.CODECS)
def test_decode_then_encode_is_identity(codec: g711.Codec) -> None:
    codes = ALL_CODES.tobytes()
    again = g711.encode(codec, g711.decode(codec, codes))
    if codec == "pcmu":
        # 0x7F (-0) decodes to 0, which encodes as +0 (0xFF); every other code is stable.
        assert again == codes.replace(b"\x7f", b"\xff")
    else:
        assert again == codes


def test_rejects_non_int16() -> None:
    with pytest.raises(TypeError):
        g711.ulaw_encode(np.zeros(4, dtype=np.float32))


def test_silence_bytes() -> None:
    assert g711.decode("pcmu", bytes([g711.silence_byte("pcmu")])).tolist() == [0]
    # A-law has no zero level: its quietest code is ±8.
    assert g711.decode("pcma", bytes([g711.silence_byte("pcma")])).tolist() == [8]
