"""Loudness normalisation to telephone level, never clipping.

The level measured is the *active* speech level: the RMS over 20 ms frames that are no
more than 40 dB below the loudest frame (a simplified ITU-T P.56), so pauses between
sentences do not pull the gain up. The gain that reaches ``TARGET_DBFS`` is capped so
that the peak stays at or below ``PEAK_CEILING_DBFS``: quiet, peaky material ends up a
little below target rather than clipped.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voxgate.media.resample import FloatArray, to_float

# Active speech RMS relative to full scale. About -14 dBm0 on a G.711 line: a clear,
# comfortable prompt level with headroom for the codec's +3 dBm0 overload point.
TARGET_DBFS = -20.0
PEAK_CEILING_DBFS = -1.0
_FRAME = 160
_ACTIVE_RANGE_DB = 40.0
_SILENCE_DBFS = -70.0
_MAX_GAIN_DB = 30.0


def db_to_ratio(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def ratio_to_db(ratio: float) -> float:
    return float(20.0 * np.log10(max(ratio, 1e-12)))


def active_rms(samples: npt.ArrayLike, frame: int = _FRAME) -> float:
    """RMS of the active frames (see module docstring); 0.0 for silence."""
    x = to_float(samples).astype(np.float64)
    if x.size == 0:
        return 0.0
    pad = (-x.size) % frame
    frames = np.pad(x, (0, pad)).reshape(-1, frame)
    energy = np.mean(frames * frames, axis=1)
    loudest = float(energy.max())
    if loudest <= db_to_ratio(2 * _SILENCE_DBFS):
        return 0.0
    active = energy[energy >= loudest * db_to_ratio(-2 * _ACTIVE_RANGE_DB)]
    return float(np.sqrt(active.mean()))


def normalise(
    samples: npt.ArrayLike,
    target_dbfs: float = TARGET_DBFS,
    peak_dbfs: float = PEAK_CEILING_DBFS,
) -> FloatArray:
    """Scale toward ``target_dbfs`` active level; the peak never exceeds ``peak_dbfs``."""
    x = to_float(samples)
    level = active_rms(x)
    if level == 0.0:
        return x
    gain = db_to_ratio(target_dbfs) / level
    gain = min(gain, db_to_ratio(_MAX_GAIN_DB))
    peak = float(np.max(np.abs(x)))
    if peak > 0:
        gain = min(gain, db_to_ratio(peak_dbfs) / peak)
    return (x * np.float32(gain)).astype(np.float32)


def to_int16(samples: npt.ArrayLike) -> npt.NDArray[np.int16]:
    """float samples in [-1, 1] to int16, saturating rather than wrapping."""
    x = to_float(samples)
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
