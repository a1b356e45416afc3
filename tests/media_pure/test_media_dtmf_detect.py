"""In-band DTMF detection with generated tones: all keys, noise, twist, level, duration, gaps,
and talk-off (speech-like and music-like audio must not trigger)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.media_pure.signals import add_noise, music_like, speech_like
from voxgate.media import g711
from voxgate.media.dtmf_detect import DetectedKey, DtmfDetector
from voxgate.media.tones import dtmf_frequencies, dtmf_sequence, dtmf_tone, silence

KEYS = "0123456789*#ABCD"


def detect(pcm: np.ndarray, frame: int = 160, **options: float) -> list[DetectedKey]:
    detector = DtmfDetector(**options)  # type: ignore[arg-type]
    found: list[DetectedKey] = []
    for i in range(0, len(pcm), frame):
        found += detector.feed(pcm[i : i + frame])
    return found


def keys(pcm: np.ndarray, **options: float) -> str:
    return "".join(k.key for k in detect(pcm, **options))


def test_all_sixteen_keys_in_order_with_their_start_times() -> None:
    pcm = dtmf_sequence(KEYS, on=0.06, off=0.06)
    found = detect(pcm)
    assert "".join(k.key for k in found) == KEYS
    for i, k in enumerate(found):
        assert k.start_seconds == pytest.approx(i * 0.12, abs=0.006)


@pytest.mark.parametrize("codec", ["pcmu", "pcma"])
def test_all_keys_after_g711_and_noise(codec: g711.Codec) -> None:
    pcm = dtmf_sequence(KEYS, on=0.05, off=0.05, level_dbm0=-20)
    pcm = add_noise(np.concatenate([silence(0.2), pcm]), snr_db=15, seed=3)
    decoded = g711.decode(codec, g711.encode(codec, pcm))
    assert keys(decoded) == KEYS


def test_any_frame_size_gives_the_same_keys() -> None:
    pcm = add_noise(dtmf_sequence("159#", on=0.05, off=0.05), snr_db=25)
    expected = detect(pcm)
    for frame in (1, 37, 80, 160, 333, len(pcm)):
        assert detect(pcm, frame=frame) == expected
    detector = DtmfDetector()
    assert [k.key for k in detector.feed(pcm.tobytes())] == list("159#")


@pytest.mark.parametrize(
    ("twist", "heard"), [(0, True), (6, True), (-3, True), (10, False), (-6, False)]
)
def test_twist_limits(twist: float, heard: bool) -> None:
    pcm = np.concatenate([dtmf_tone("8", 0.08, level_dbm0=-15, twist_db=twist), silence(0.05)])
    assert keys(pcm) == ("8" if heard else "")


@pytest.mark.parametrize(("level", "heard"), [(0, True), (-25, True), (-30, True), (-36, False)])
def test_level_limits(level: float, heard: bool) -> None:
    pcm = np.concatenate([dtmf_tone("4", 0.08, level_dbm0=level), silence(0.05)])
    assert keys(pcm) == ("4" if heard else "")


@pytest.mark.parametrize("offset", range(0, 160, 13))
def test_short_blips_are_rejected_and_40ms_tones_accepted(offset: int) -> None:
    lead = np.zeros(800 + offset, dtype=np.int16)
    for ms, heard in [(15, False), (20, False), (25, False), (40, True), (60, True)]:
        pcm = np.concatenate([lead, dtmf_tone("2", ms / 1000, level_dbm0=-10), silence(0.1)])
        assert keys(pcm) == ("2" if heard else ""), f"{ms} ms at offset {offset}"


def test_long_press_is_one_key_and_a_brief_dropout_does_not_repeat_it() -> None:
    press = dtmf_tone("6", 1.5)
    assert keys(press) == "6"
    dropout = np.concatenate([dtmf_tone("6", 0.3), silence(0.01), dtmf_tone("6", 0.3)])
    assert keys(dropout) == "6"


def test_repeated_key_needs_the_inter_digit_gap() -> None:
    gap = np.concatenate([dtmf_tone("3", 0.06), silence(0.05), dtmf_tone("3", 0.06)])
    assert keys(gap) == "33"
    assert keys(gap, min_gap=0.08) == "3"


def test_key_change_without_a_gap_reports_both() -> None:
    pcm = np.concatenate([dtmf_tone("1", 0.06), dtmf_tone("9", 0.06), silence(0.05)])
    assert keys(pcm) == "19"


def pair(low: float, high: float, seconds: float = 0.1) -> np.ndarray:
    n = np.arange(int(seconds * 8000))
    x = 6000 * (np.sin(2 * np.pi * low * n / 8000) + np.sin(2 * np.pi * high * n / 8000))
    return x.astype(np.int16)


@pytest.mark.parametrize("key", ["1", "5", "9", "D"])
@pytest.mark.parametrize(("low_dev", "high_dev"), [(1.015, 1.015), (0.985, 0.985), (1.015, 0.985)])
def test_frequencies_off_by_the_allowed_1_5_percent_are_heard(
    key: str, low_dev: float, high_dev: float
) -> None:
    low, high = dtmf_frequencies(key)
    assert keys(pair(low * low_dev, high * high_dev)) == key


@pytest.mark.parametrize("key", ["1", "5", "9", "D"])
@pytest.mark.parametrize("dev", [0.965, 1.035])
def test_high_tone_off_by_3_5_percent_is_rejected(key: str, dev: float) -> None:
    low, high = dtmf_frequencies(key)
    assert keys(pair(low, high * dev)) == ""


@pytest.mark.parametrize("seed", range(4))
def test_talk_off_speech_like_audio_triggers_nothing(seed: int) -> None:
    assert keys(speech_like(20, seed=seed)) == ""


@pytest.mark.parametrize("seed", range(4))
def test_talk_off_music_like_audio_triggers_nothing(seed: int) -> None:
    assert keys(music_like(20, seed=seed)) == ""


def test_noise_alone_triggers_nothing() -> None:
    noise = np.random.default_rng(9).normal(0, 4000, 8000 * 10).astype(np.int16)
    assert keys(noise) == ""


def test_keys_over_speech_are_still_heard() -> None:
    speech = speech_like(2.0, seed=7, level=1500)
    tones = np.concatenate([silence(0.3), dtmf_sequence("7#", on=0.08, off=0.3, level_dbm0=-8)])
    mixed = (speech[: len(tones)].astype(np.int32) + tones).clip(-32768, 32767).astype(np.int16)
    assert keys(mixed) == "7#"


def test_reset_and_repr() -> None:
    detector = DtmfDetector()
    half = dtmf_tone("5", 0.03)
    detector.feed(half)
    detector.reset()
    assert detector.feed(dtmf_tone("5", 0.02)) == []  # the two halves do not join up
    assert repr(detector).startswith("<DtmfDetector at=")
