"""Test signals: noise, speech-like and music-like audio at 8 kHz, reproducible by seed."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RATE = 8000


def to_pcm(x: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def add_noise(pcm: npt.NDArray[np.int16], snr_db: float, seed: int = 0) -> npt.NDArray[np.int16]:
    """White Gaussian noise at ``snr_db`` below the signal's mean power (where it is non-zero)."""
    rng = np.random.default_rng(seed)
    x = pcm.astype(np.float64)
    power = np.mean(x[x != 0] ** 2)
    noise = rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(x))
    return to_pcm(x + noise)


def speech_like(seconds: float, seed: int = 0, level: float = 6000) -> npt.NDArray[np.int16]:
    """Voiced syllables: a glottal pulse train with drifting pitch (90–260 Hz) shaped by three
    moving formants, switched on and off at a syllabic rate, plus unvoiced hiss."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    pos = 0
    while pos < n:
        length = int(rng.uniform(0.08, 0.35) * RATE)
        seg = slice(pos, min(n, pos + length))
        tt = t[seg] - t[pos]
        f0 = rng.uniform(90, 260) * (1 + rng.uniform(-0.2, 0.2) * tt / max(tt[-1], 1e-3))
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        formants = [rng.uniform(300, 900), rng.uniform(900, 2300), rng.uniform(2300, 3300)]
        voiced = np.zeros(len(tt))
        for k in range(1, int(3800 / f0.max())):
            freq = k * f0
            gain = sum(1.0 / (1 + ((freq - fm) / 120) ** 2) for fm in formants)
            voiced += gain * np.sin(k * phase) / k**0.5
        envelope = np.sin(np.pi * np.linspace(0, 1, len(tt))) ** 0.7
        hiss = rng.normal(0, 0.05, len(tt)) if rng.random() < 0.3 else 0.0
        out[seg] = (voiced / max(np.abs(voiced).max(), 1e-9) + hiss) * envelope
        pos += length + int(rng.uniform(0.0, 0.15) * RATE)
    return to_pcm(out * level)


def music_like(seconds: float, seed: int = 0, level: float = 5000) -> npt.NDArray[np.int16]:
    """Notes and chords from the equal-tempered scale with harmonics and decaying envelopes."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    out = np.zeros(n)
    pos = 0
    while pos < n:
        length = int(rng.uniform(0.1, 0.6) * RATE)
        tt = np.arange(min(length, n - pos)) / RATE
        note = np.zeros(len(tt))
        for _ in range(rng.integers(1, 4)):  # one to three voices
            freq = 220 * 2 ** (rng.integers(0, 36) / 12)
            for h in range(1, 6):
                if h * freq < 3900:
                    note += rng.uniform(0.2, 1.0) / h * np.sin(2 * np.pi * h * freq * tt)
        note *= np.exp(-tt * rng.uniform(1, 6))
        out[pos : pos + len(tt)] += note / max(np.abs(note).max(), 1e-9)
        pos += length
    return to_pcm(out * level)
