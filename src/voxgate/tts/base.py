"""The engine interface every TTS backend implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from voxgate.errors import VoxgateError


class TtsError(VoxgateError):
    """Speech synthesis failed."""

    error_id = "tts_failed"


class EngineUnavailable(TtsError):
    """The TTS engine is not installed or could not be started."""

    error_id = "tts_engine_unavailable"


class UnknownVoice(TtsError):
    """The requested voice does not exist."""

    error_id = "tts_unknown_voice"


@dataclass(frozen=True, repr=False)
class SpeechChunk:
    """One sentence of synthesised speech at the engine's native rate."""

    samples: npt.NDArray[np.int16]
    rate: int
    text: str

    def __repr__(self) -> str:
        return f"<SpeechChunk {self.samples.size / self.rate:.2f}s @{self.rate} {self.text[:30]!r}>"


class Engine(Protocol):
    """A speech engine. ``synthesize`` yields one chunk per sentence, as soon as each is ready."""

    name: str

    def version(self) -> str:
        """Engine and voice data version; part of every cache key."""
        ...

    def voices(self) -> Sequence[str]: ...

    def synthesize(self, text: str, voice: str) -> Iterator[SpeechChunk]: ...

    def close(self) -> None: ...
