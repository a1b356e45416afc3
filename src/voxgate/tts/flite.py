"""flite 2.2 (Debian ``libflite1``) in-process through ctypes.

Voices ``slt``, ``rms`` and ``awb`` only: ``kal``/``kal16`` garble digit strings. flite
is BSD-licensed, loads a voice in milliseconds and runs at about 0.02 × real time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from voxgate.tts.base import EngineUnavailable, SpeechChunk, TtsError
from voxgate.tts.text import split_sentences

VOICES = ("slt", "rms", "awb")


class _Wave(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_char_p),
        ("sample_rate", ctypes.c_int),
        ("num_samples", ctypes.c_int),
        ("num_channels", ctypes.c_int),
        ("samples", ctypes.POINTER(ctypes.c_short)),
    ]


def _load(name: str) -> ctypes.CDLL:
    for candidate in (f"lib{name}.so.1", ctypes.util.find_library(name)):
        if candidate:
            try:
                return ctypes.CDLL(candidate)
            except OSError:
                continue
    raise EngineUnavailable(f"lib{name} is not installed")


class FliteEngine:
    name = "flite"

    def __init__(self) -> None:
        self._lib = _load("flite")
        self._lib.flite_init.restype = ctypes.c_int
        self._lib.flite_text_to_wave.restype = ctypes.POINTER(_Wave)
        self._lib.flite_text_to_wave.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        self._lib.delete_wave.argtypes = [ctypes.POINTER(_Wave)]
        self._lib.delete_wave.restype = None
        self._lib.flite_init()
        self._voices: dict[str, tuple[ctypes.CDLL, int]] = {}
        # flite keeps global state: one synthesis at a time per process.
        self._lock = threading.Lock()

    def version(self) -> str:
        return "flite 2.2"

    def voices(self) -> Sequence[str]:
        return VOICES

    def _voice(self, voice: str) -> int:
        if voice not in VOICES:
            raise TtsError(f"flite has no voice {voice!r} (use one of {', '.join(VOICES)})")
        if voice not in self._voices:
            lib = _load(f"flite_cmu_us_{voice}")
            register = getattr(lib, f"register_cmu_us_{voice}")
            register.restype = ctypes.c_void_p
            register.argtypes = [ctypes.c_char_p]
            handle = register(None)
            if not handle:
                raise EngineUnavailable(f"flite voice {voice} failed to load")
            self._voices[voice] = (lib, int(handle))
        return self._voices[voice][1]

    def synthesize(self, text: str, voice: str) -> Iterator[SpeechChunk]:
        for sentence in split_sentences(text):
            samples, rate = self._speak(sentence, voice)
            yield SpeechChunk(samples, rate, sentence)

    def _speak(self, sentence: str, voice: str) -> tuple[npt.NDArray[np.int16], int]:
        with self._lock:
            handle = self._voice(voice)
            wave = self._lib.flite_text_to_wave(sentence.encode("utf-8"), handle)
            if not wave:
                raise TtsError("flite produced no audio")
            try:
                w = wave.contents
                if w.num_channels != 1:
                    raise TtsError("flite produced multi-channel audio")
                if w.num_samples <= 0:
                    return np.zeros(0, dtype=np.int16), w.sample_rate
                samples = np.ctypeslib.as_array(w.samples, (w.num_samples,)).astype(np.int16)
                return samples, w.sample_rate
            finally:
                self._lib.delete_wave(wave)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<FliteEngine voices={sorted(self._voices)}>"
