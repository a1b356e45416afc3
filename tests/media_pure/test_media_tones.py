"""Tone generation: frequencies, cadences, levels, continuity across frames."""

from __future__ import annotations

import numpy as np
import pytest

from voxgate.media.tones import (
    BUSY,
    RINGBACK,
    busy,
    dtmf_frequencies,
    dtmf_tone,
    level_amplitude,
    render,
    ringback,
    tone,
)


def peaks(pcm: np.ndarray, count: int) -> list[float]:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(pcm), 1 / 8000)
    return sorted(float(f) for f in freqs[np.argsort(spectrum)[-count:]])


def on_off(pcm: np.ndarray, step: float = 0.05) -> list[bool]:
    n = int(step * 8000)
    return [bool(np.abs(pcm[i : i + n]).max() > 0) for i in range(0, len(pcm), n)]


def test_us_ringback_is_440_480_two_seconds_on_four_off() -> None:
    pcm = ringback("us", 12.0)
    assert len(pcm) == 96000
    assert peaks(pcm[:8000], 2) == [440.0, 480.0]
    pattern = on_off(pcm, 0.5)
    assert pattern == ([True] * 4 + [False] * 8) * 2


def test_us_busy_is_480_620_half_on_half_off() -> None:
    pcm = busy("us", 2.0)
    assert peaks(pcm[:4000], 2) == [480.0, 620.0]
    assert on_off(pcm, 0.25) == [True, True, False, False] * 2


def test_uk_ringback_double_ring() -> None:
    pcm = ringback("uk", 3.0)
    assert on_off(pcm, 0.2) == [True, True, False, True, True] + [False] * 10


@pytest.mark.parametrize("region", sorted(RINGBACK))
def test_every_region_has_ringback_and_busy(region: str) -> None:
    assert ringback(region, 1.0).any()
    assert busy(region, 0.2).any()
    assert region in BUSY


def test_rendering_in_frames_matches_rendering_at_once() -> None:
    spec = RINGBACK["us"]
    whole = render(spec, 0, 16000)
    frames = np.concatenate([render(spec, i, 160) for i in range(0, 16000, 160)])
    assert np.array_equal(whole, frames)
    assert spec.period_samples == 48000
    assert np.array_equal(on_off(render(spec, 48000, 48000)), on_off(render(spec, 0, 48000)))


def test_dtmf_pairs_and_level() -> None:
    assert dtmf_frequencies("1") == (697.0, 1209.0)
    assert dtmf_frequencies("#") == (941.0, 1477.0)
    assert dtmf_frequencies("d") == (941.0, 1633.0)
    with pytest.raises(ValueError):
        dtmf_frequencies("x")
    pcm = dtmf_tone("5", 0.1, level_dbm0=-10)
    assert peaks(pcm, 2) == [770.0, 1340.0] or peaks(pcm, 2) == [770.0, 1330.0]
    rms_each = np.sqrt(np.mean(pcm.astype(np.float64) ** 2) / 2)
    assert rms_each == pytest.approx(level_amplitude(-10) / np.sqrt(2), rel=0.02)


def test_twist_makes_the_high_tone_louder() -> None:
    pcm = dtmf_tone("1", 0.5, level_dbm0=-20, twist_db=6).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm))
    freqs = np.fft.rfftfreq(len(pcm), 1 / 8000)
    low = spectrum[np.argmin(np.abs(freqs - 697))]
    high = spectrum[np.argmin(np.abs(freqs - 1209))]
    assert 20 * np.log10(high / low) == pytest.approx(6, abs=0.5)


def test_continuous_tone_and_clipping() -> None:
    pcm = tone((1000.0,), 0.01, level_dbm0=3.17)
    assert len(pcm) == 80
    assert np.abs(pcm).max() == 32767
