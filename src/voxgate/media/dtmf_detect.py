"""In-band DTMF detection on 8 kHz 16-bit PCM, fed in frames of any length.

Each 20 ms analysis window (160 samples) is evaluated every 5 ms. The eight DTMF frequencies are
measured with the Goertzel algorithm in its closed form — the power of one DFT term at the exact
tone frequency, which is what the Goertzel recurrence computes — for all windows and frequencies
in one matrix product. Each frequency is probed at its nominal value and 1.2 % either side, and
the strongest probe counts, so senders off by the allowed 1.5 % are heard.

A window holds a key when:

- the strongest low-group and high-group tones are each above ``min_level_dbm0``;
- twist is within limits: the high tone is at most ``max_high_over_low_db`` above the low one,
  and at most ``max_low_over_high_db`` below it;
- each of the two is ``min_peak_ratio_db`` above every other tone of its group;
- the two tones carry at least ``min_tone_fraction`` of the window's energy (speech and music
  spread energy over many frequencies);
- the high tone's second harmonic is at least ``-max_harmonic_db`` below it (a DTMF generator
  makes pure tones; voices and instruments that happen to hit two DTMF frequencies carry
  harmonics), and
- the window is steady: each of its four 5 ms quarters holds at least ``min_steadiness`` of the
  mean quarter energy, so windows that catch only the start or end of a tone do not count.

A key is reported once, when ``min_windows`` consecutive windows hold it (the default of 3 accepts
every tone of 40 ms or more and rejects every tone of 25 ms or less). The same key is reported
again only after ``min_gap`` seconds without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from voxgate.media.tones import DTMF_COLS, DTMF_LAYOUT, DTMF_ROWS, SAMPLE_RATE, level_amplitude

HOP: Final = 40  # 5 ms
WINDOW: Final = 4 * HOP  # 20 ms

# The eight DTMF frequencies, then the second harmonics of the four high-group ones; each probed
# at its nominal value and PROBE above and below, so tones off by the 1.5 % a sender may deviate
# lose under 1 dB (a 20 ms window's bins are 50 Hz wide).
PROBE: Final = 0.012
_NOMINAL = np.array(DTMF_ROWS + DTMF_COLS + tuple(2 * f for f in DTMF_COLS))
_F = len(_NOMINAL)
_FREQS = np.concatenate([_NOMINAL * (1 - PROBE), _NOMINAL, _NOMINAL * (1 + PROBE)])
_OMEGA = 2 * np.pi * _FREQS / SAMPLE_RATE  # rad per sample
_BASIS = np.hstack(
    [np.cos(_OMEGA * np.arange(WINDOW)[:, None]), np.sin(_OMEGA * np.arange(WINDOW)[:, None])]
)  # (WINDOW, 72): the real and imaginary parts of each probe's DFT term
_P = len(_FREQS)
_KEYS = [DTMF_LAYOUT[r][c] for r in range(4) for c in range(4)]

Samples = npt.NDArray[np.int16] | bytes


@dataclass(frozen=True, slots=True)
class DetectedKey:
    """A DTMF key heard in-band. ``start`` is the sample index (from the first sample fed)
    of the first window that held it."""

    key: str
    start: int

    @property
    def start_seconds(self) -> float:
        return self.start / SAMPLE_RATE


class DtmfDetector:
    """Goertzel DTMF detector for one audio stream (keep one per leg and direction)."""

    def __init__(
        self,
        *,
        min_level_dbm0: float = -32.0,
        max_high_over_low_db: float = 8.0,
        max_low_over_high_db: float = 4.0,
        min_peak_ratio_db: float = 10.0,
        min_tone_fraction: float = 0.75,
        min_steadiness: float = 0.7,
        max_harmonic_db: float = -20.0,
        min_windows: int = 3,
        min_gap: float = 0.04,
    ) -> None:
        # Window power of a sine of amplitude A at its own frequency is (A * WINDOW / 2) ** 2.
        self._min_power = (level_amplitude(min_level_dbm0) * WINDOW / 2) ** 2
        self._high_over_low = 10 ** (max_high_over_low_db / 10)
        self._low_over_high = 10 ** (max_low_over_high_db / 10)
        self._peak_ratio = 10 ** (min_peak_ratio_db / 10)
        self._fraction = min_tone_fraction
        self._steadiness = min_steadiness
        self._harmonic = 10 ** (max_harmonic_db / 10)
        self.min_windows = min_windows
        self._gap_windows = max(1, round(min_gap * SAMPLE_RATE / HOP))
        self._start = 0  # sample index where the next window starts
        self._clear()

    def _clear(self) -> None:
        self._tail = np.zeros(0, dtype=np.int16)  # samples not yet in a complete window
        self._candidate = -1
        self._run = 0
        self._run_start = 0
        self._held = -1  # key reported and not yet released
        self._since_held = 0

    def feed(self, pcm: Samples) -> list[DetectedKey]:
        """Analyse the next samples; return the keys that became certain.

        Each call costs a few tens of microseconds whatever its length, so feeding 40–100 ms
        at a time is cheaper than 20 ms frames when detection latency allows.
        """
        samples = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, bytes | bytearray) else pcm
        buf = np.concatenate([self._tail, samples]) if len(self._tail) else samples
        count = len(buf) // HOP - 3  # complete windows
        if count <= 0:
            self._tail = buf
            return []
        used = (count + 3) * HOP
        quarters = buf[:used].reshape(-1, HOP).astype(np.float64)
        self._tail = buf[count * HOP :]
        first = self._start
        self._start += count * HOP
        windows = np.concatenate([quarters[:-3], quarters[1:-2], quarters[2:-1], quarters[3:]], 1)
        keys = self._classify(windows @ _BASIS, np.einsum("ij,ij->i", quarters, quarters))
        if self._held < 0 and self._candidate < 0 and not keys.any():
            return []  # nothing held, nothing starting: the common case
        found = []
        for i, key in enumerate((keys - 1).tolist()):
            detected = self._step(key, first + i * HOP)
            if detected is not None:
                found.append(detected)
        return found

    def _classify(
        self, spectrum: npt.NDArray[np.float64], energy: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        """Key index + 1 (1..16) per window, or 0. ``energy`` is per quarter."""
        probes = spectrum[:, :_P] ** 2 + spectrum[:, _P:] ** 2  # (windows, 36)
        power = probes.reshape(-1, 3, _F).max(axis=1)  # (windows, 12): best probe each
        e0, e1, e2, e3 = energy[:-3], energy[1:-2], energy[2:-1], energy[3:]
        total = e0 + e1 + e2 + e3
        row_p = power[:, :4].max(axis=1)
        col_p = power[:, 4:8].max(axis=1)
        # Level and energy share first: they fail for almost every window of speech or silence.
        ok = np.minimum(row_p, col_p) >= self._min_power
        ok &= (row_p + col_p) * (2 / WINDOW) >= self._fraction * total
        if not ok.any():
            return np.zeros(len(power), dtype=np.int64)

        ranked = np.sort(power[:, :8].reshape(-1, 2, 4), axis=2)  # per group, ascending
        rows_other, cols_other = ranked[:, 0, 2], ranked[:, 1, 2]
        row = power[:, :4].argmax(axis=1)
        col = power[:, 4:8].argmax(axis=1)
        harmonic = power[np.arange(len(power)), col + 8]
        steady = np.minimum(np.minimum(e0, e1), np.minimum(e2, e3))

        ok &= (col_p <= row_p * self._high_over_low) & (row_p <= col_p * self._low_over_high)
        ok &= (rows_other * self._peak_ratio <= row_p) & (cols_other * self._peak_ratio <= col_p)
        ok &= steady * 4 >= self._steadiness * total
        ok &= harmonic <= col_p * self._harmonic
        return np.where(ok, row * 4 + col + 1, 0)

    def _step(self, key: int, start: int) -> DetectedKey | None:
        if key >= 0 and key == self._candidate:
            self._run += 1
        else:
            self._candidate, self._run, self._run_start = key, 1, start
        if self._held >= 0:
            if key == self._held:
                self._since_held = 0
                return None
            self._since_held += 1
            if self._since_held >= self._gap_windows:
                self._held = -1
        if key < 0 or self._run < self.min_windows or key == self._held:
            return None
        self._held, self._since_held = key, 0
        return DetectedKey(_KEYS[key], self._run_start)

    def reset(self) -> None:
        """Forget buffered audio and any key in progress (the stream was interrupted)."""
        self._start += len(self._tail)
        self._clear()

    def __repr__(self) -> str:
        held = "-" if self._held < 0 else _KEYS[self._held]
        return f"<DtmfDetector at={self._start + len(self._tail)} held={held}>"
