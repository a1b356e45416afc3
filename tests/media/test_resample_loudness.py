"""Resampler anti-aliasing and loudness normalisation."""

from __future__ import annotations

import numpy as np
import pytest
from audio_files import tone

from voxgate.media.loudness import (
    PEAK_CEILING_DBFS,
    TARGET_DBFS,
    active_rms,
    normalise,
    ratio_to_db,
    to_int16,
)
from voxgate.media.resample import resample, to_mono


def level_db(x: np.ndarray) -> float:
    """RMS level of the steady middle half, relative to a full-scale sine."""
    mid = x[x.size // 4 : -x.size // 4].astype(np.float64)
    return ratio_to_db(float(np.sqrt(np.mean(mid**2))) * np.sqrt(2))


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000])
def test_5khz_is_attenuated_at_least_40db(rate: int) -> None:
    out = resample(tone(5000, rate, amp=1.0), rate)
    assert out.size == 8000
    assert level_db(out) <= -40.0


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000])
@pytest.mark.parametrize("freq", [300, 1000, 3000])
def test_telephone_band_passes(rate: int, freq: int) -> None:
    assert level_db(resample(tone(freq, rate, amp=1.0), rate)) == pytest.approx(0.0, abs=0.5)


def test_same_rate_is_untouched_and_int16_is_scaled() -> None:
    pcm = np.array([0, 16384, -32768], dtype=np.int16)
    assert resample(pcm, 8000).tolist() == [0.0, 0.5, -1.0]


def test_to_mono_averages_channels() -> None:
    stereo = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    assert to_mono(stereo).tolist() == [0.5, 0.5]


def test_normalise_reaches_target_level() -> None:
    quiet = tone(1000, 8000, amp=0.01)
    out = normalise(quiet)
    assert ratio_to_db(active_rms(out)) == pytest.approx(TARGET_DBFS, abs=0.1)


def test_normalise_never_clips_peaky_audio() -> None:
    # Mostly quiet with one full-scale click: reaching the target would clip.
    x = tone(1000, 8000, amp=0.02)
    x[4000] = 1.0
    out = normalise(x)
    assert float(np.max(np.abs(out))) <= 10 ** (PEAK_CEILING_DBFS / 20) + 1e-6
    assert np.max(np.abs(to_int16(out))) < 32767


def test_normalise_ignores_pauses() -> None:
    speech = tone(1000, 8000, amp=0.1)
    with_pause = np.concatenate([speech, np.zeros(16000, np.float32), speech])
    assert active_rms(with_pause) == pytest.approx(active_rms(speech), rel=0.01)


def test_silence_stays_silent() -> None:
    assert not normalise(np.zeros(800, np.float32)).any()


def test_to_int16_saturates() -> None:
    assert to_int16(np.array([2.0, -2.0, 0.5], np.float32)).tolist() == [32767, -32768, 16384]
