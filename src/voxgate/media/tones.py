"""Call-progress tones and DTMF tone pairs as 8 kHz 16-bit PCM (numpy int16 arrays).

A cadenced tone (ringback, busy) is described by a :class:`ToneSpec`; :func:`render` gives any
stretch of it by sample index, so a player can keep producing 20 ms frames forever without
clicks at frame boundaries: the phase is a function of the absolute sample index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

SAMPLE_RATE: Final = 8000
FULL_SCALE: Final = 32767
# A sine at 0 dBm0 in 16-bit linear PCM (G.711: full-scale sine is +3.17 dBm0).
DBM0_AMPLITUDE: Final = FULL_SCALE * 10 ** (-3.17 / 20)

Pcm = npt.NDArray[np.int16]

DTMF_ROWS: Final = (697.0, 770.0, 852.0, 941.0)
DTMF_COLS: Final = (1209.0, 1336.0, 1477.0, 1633.0)
DTMF_LAYOUT: Final = ("123A", "456B", "789C", "*0#D")


def dtmf_frequencies(key: str) -> tuple[float, float]:
    """(low, high) frequencies of a DTMF key."""
    for row, keys in enumerate(DTMF_LAYOUT):
        col = keys.find(key.upper()) if len(key) == 1 else -1
        if col >= 0:
            return DTMF_ROWS[row], DTMF_COLS[col]
    raise ValueError(f"not a DTMF key: {key!r}")


def level_amplitude(dbm0: float) -> float:
    """Peak amplitude of a sine at ``dbm0`` in 16-bit PCM."""
    return float(DBM0_AMPLITUDE * 10 ** (dbm0 / 20))


@dataclass(frozen=True, slots=True)
class ToneSpec:
    """Frequencies summed at ``level_dbm0`` each, switched on/off by ``cadence`` (seconds,
    alternating on, off, on, off …). An empty cadence is a continuous tone."""

    frequencies: tuple[float, ...]
    cadence: tuple[float, ...] = ()
    level_dbm0: float = -13.0

    @property
    def period_samples(self) -> int:
        return round(sum(self.cadence) * SAMPLE_RATE)


# Region → tone. Sources: ITU-T E.180 supplement 2 and national plans.
RINGBACK: Final[dict[str, ToneSpec]] = {
    "us": ToneSpec((440.0, 480.0), (2.0, 4.0), -19.0),
    "uk": ToneSpec((400.0, 450.0), (0.4, 0.2, 0.4, 2.0), -19.0),
    "eu": ToneSpec((425.0,), (1.0, 4.0)),
    "cn": ToneSpec((450.0,), (1.0, 4.0)),
    "jp": ToneSpec((400.0,), (1.0, 2.0)),
}
BUSY: Final[dict[str, ToneSpec]] = {
    "us": ToneSpec((480.0, 620.0), (0.5, 0.5), -24.0),
    "uk": ToneSpec((400.0,), (0.375, 0.375)),
    "eu": ToneSpec((425.0,), (0.5, 0.5)),
    "cn": ToneSpec((450.0,), (0.35, 0.35)),
    "jp": ToneSpec((400.0,), (0.5, 0.5)),
}


def _sines(frequencies: tuple[float, ...], amplitude: float, start: int, count: int) -> Pcm:
    n = np.arange(start, start + count, dtype=np.float64)
    total = np.zeros(count, dtype=np.float64)
    for freq in frequencies:
        total += np.sin(2 * np.pi * freq / SAMPLE_RATE * n)
    total *= amplitude
    return np.clip(np.rint(total), -32768, 32767).astype(np.int16)


def _gate(cadence: tuple[float, ...], start: int, count: int) -> npt.NDArray[np.bool_]:
    edges = np.cumsum(np.round(np.asarray(cadence) * SAMPLE_RATE).astype(np.int64))
    position = np.arange(start, start + count, dtype=np.int64) % int(edges[-1])
    segment = np.searchsorted(edges, position, side="right")
    return np.asarray(segment % 2 == 0)


def render(spec: ToneSpec, start: int, count: int) -> Pcm:
    """Samples ``start`` … ``start + count - 1`` of the (endless) tone."""
    pcm = _sines(spec.frequencies, level_amplitude(spec.level_dbm0), start, count)
    if spec.cadence:
        pcm[~_gate(spec.cadence, start, count)] = 0
    return pcm


def ringback(region: str = "us", seconds: float = 6.0) -> Pcm:
    """Ringback tone of ``region`` (us, uk, eu, cn, jp) for ``seconds``."""
    return render(RINGBACK[region], 0, round(seconds * SAMPLE_RATE))


def busy(region: str = "us", seconds: float = 1.0) -> Pcm:
    """Busy tone of ``region`` (us, uk, eu, cn, jp) for ``seconds``."""
    return render(BUSY[region], 0, round(seconds * SAMPLE_RATE))


def tone(frequencies: tuple[float, ...], seconds: float, level_dbm0: float = -13.0) -> Pcm:
    """A continuous tone: the given frequencies, each at ``level_dbm0``."""
    return _sines(frequencies, level_amplitude(level_dbm0), 0, round(seconds * SAMPLE_RATE))


def dtmf_tone(
    key: str, seconds: float = 0.1, level_dbm0: float = -7.0, twist_db: float = 0.0
) -> Pcm:
    """The tone pair of a DTMF key; ``twist_db`` > 0 makes the high tone that much louder."""
    low, high = dtmf_frequencies(key)
    count = round(seconds * SAMPLE_RATE)
    pcm = _sines((low,), level_amplitude(level_dbm0), 0, count).astype(np.int32)
    pcm += _sines((high,), level_amplitude(level_dbm0 + twist_db), 0, count)
    return np.clip(pcm, -32768, 32767).astype(np.int16)


def silence(seconds: float) -> Pcm:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def dtmf_sequence(keys: str, on: float = 0.1, off: float = 0.1, level_dbm0: float = -7.0) -> Pcm:
    """Keys as tone pairs, ``on`` seconds each with ``off`` seconds of silence after each."""
    parts = []
    for key in keys:
        parts.append(dtmf_tone(key, on, level_dbm0))
        parts.append(silence(off))
    return np.concatenate(parts) if parts else silence(0)
