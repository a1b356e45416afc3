"""Speech: text → cached telephone audio, with per-language fallback across engines.

Rendering happens when a call job is created, so nothing is synthesised after answer.
Audio is cached per sentence, so a prompt's sentences are shared across notifications
and :meth:`Speech.stream` can hand the first sentence to the caller while the rest is
still being synthesised. All methods block; async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from voxgate.media.g711 import Codec
from voxgate.media.render import TelephoneAudio, join, render_segments, to_telephone
from voxgate.media.voicecontent import FileSegment, SpeakSegment
from voxgate.tts.base import Engine, EngineUnavailable, TtsError, UnknownVoice
from voxgate.tts.cache import AudioCache, CacheKey
from voxgate.tts.text import spell_digits, split_sentences
from voxgate.tts.voices import VoiceChoice, chain_for

log = logging.getLogger(__name__)
T = TypeVar("T")

SENTENCE_GAP_MS = 0
# The first chunk of a text is kept short so that playback can start sooner.
FIRST_CHUNK_CHARS = 80
DIGITS = [str(d) for d in range(10)]
COMMON_PHRASES = [
    "Your verification code is",
    "I repeat.",
    "Thank you. Goodbye.",
    "Please hold while we connect your call.",
    "Sorry, that is not a valid choice.",
]


class Speech:
    """The TTS entry point the call flows use. Build one per process; close it at shutdown."""

    def __init__(self, *, engines: Mapping[str, Engine], cache: AudioCache | None = None):
        self.engines = dict(engines)
        self.cache = cache

    @classmethod
    def default(cls, *, cache_dir: Path | None = None, piper: bool = True) -> Speech:
        """Every engine installed on this machine; engines that fail to load are skipped."""
        from voxgate.tts.espeak import EspeakEngine
        from voxgate.tts.flite import FliteEngine
        from voxgate.tts.piper import PiperEngine

        factories: dict[str, Callable[[], Engine]] = {
            "flite": FliteEngine,
            "espeak": EspeakEngine,
        }
        if piper:
            factories = {"piper": PiperEngine, **factories}
        engines: dict[str, Engine] = {}
        for name, factory in factories.items():
            try:
                engines[name] = factory()
            except EngineUnavailable as exc:
                log.warning("%s unavailable: %s", name, exc, extra={"action": "tts_engine_missing"})
        cache = AudioCache(cache_dir) if cache_dir is not None else None
        return cls(engines=engines, cache=cache)

    def start(self) -> None:
        """Start worker processes and load voices now, so the first request is not slow."""
        for engine in self.engines.values():
            start = getattr(engine, "start", None)
            if callable(start):
                start()

    def close(self) -> None:
        for engine in self.engines.values():
            engine.close()

    # -- one sentence -----------------------------------------------------------------
    def _key(self, choice: VoiceChoice, engine: Engine, text: str, codec: Codec) -> CacheKey:
        return CacheKey(choice.engine, choice.voice, engine.version(), text, codec)

    def _render_sentence(
        self, engine: Engine, voice: str, text: str, codec: Codec
    ) -> TelephoneAudio:
        chunks = list(engine.synthesize(text, voice))
        if not chunks:
            raise TtsError(f"{engine.name} produced no audio")
        rate = chunks[0].rate
        if any(c.rate != rate for c in chunks):
            raise TtsError(f"{engine.name} changed sample rate mid-utterance")
        return to_telephone(np.concatenate([c.samples for c in chunks]), rate, codec)

    def _sentence(
        self, chain: Sequence[VoiceChoice], text: str, codec: Codec, force: bool
    ) -> TelephoneAudio:
        errors: list[str] = []
        for choice in chain:
            engine = self.engines.get(choice.engine)
            if engine is None:
                errors.append(f"{choice}: engine not available")
                continue
            try:
                key = self._key(choice, engine, text, codec)
                if self.cache is None:
                    return self._render_sentence(engine, choice.voice, text, codec)

                def render(engine: Engine = engine, voice: str = choice.voice) -> TelephoneAudio:
                    return self._render_sentence(engine, voice, text, codec)

                return self.cache.get_or_render(key, render, force=force)
            except TtsError as exc:
                log.warning(
                    "tts fallback from %s: %s", choice, exc, extra={"action": "tts_fallback"}
                )
                errors.append(f"{choice}: {exc.message}")
        raise TtsError("no TTS engine could speak the text: " + "; ".join(errors))

    # -- public API -------------------------------------------------------------------
    def stream(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        engine: str | None = None,
        codec: Codec = "pcmu",
        force: bool = False,
    ) -> Iterator[TelephoneAudio]:
        """Telephone audio sentence by sentence, each yielded as soon as it is ready."""
        chain = chain_for(voice=voice, language=language, engine=engine)
        for sentence in split_sentences(text, first_max_chars=FIRST_CHUNK_CHARS):
            yield self._sentence(chain, sentence, codec, force)

    def say(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        engine: str | None = None,
        codec: Codec = "pcmu",
        force: bool = False,
    ) -> TelephoneAudio:
        """The whole text as one piece of telephone audio (cached per sentence)."""
        parts = list(
            self.stream(
                text, voice=voice, language=language, engine=engine, codec=codec, force=force
            )
        )
        if not parts:
            raise TtsError("nothing to say: the text is empty")
        return join(parts, codec=codec, gap_ms=SENTENCE_GAP_MS)

    def render(
        self,
        segments: Iterable[SpeakSegment | FileSegment[T]],
        *,
        load_file: Callable[[T], TelephoneAudio],
        voice: str | None = None,
        language: str | None = None,
        codec: Codec = "pcmu",
        force: bool = False,
    ) -> TelephoneAudio:
        """Huawei-style segments (text and voice files) back to back, as the callee hears them.

        ``load_file`` turns a file segment's ``ref`` into telephone audio; digit-only text
        segments are read one digit at a time.
        """

        def speak(segment: SpeakSegment) -> TelephoneAudio:
            text = spell_digits(segment.text) if segment.digits else segment.text
            return self.say(text, voice=voice, language=language, codec=codec, force=force)

        return render_segments(segments, speak=speak, play=load_file, codec=codec)

    def prewarm(
        self,
        phrases: Iterable[str] = (*DIGITS, *COMMON_PHRASES),
        *,
        voice: str | None = None,
        language: str | None = None,
        codecs: Sequence[Codec] = ("pcmu", "pcma"),
    ) -> int:
        """Render popular prompts into the cache ahead of time; returns how many."""
        count = 0
        for phrase in phrases:
            for codec in codecs:
                self.say(phrase, voice=voice, language=language, codec=codec)
                count += 1
        return count

    def check_voice(self, voice: str | None, language: str | None) -> VoiceChoice:
        """Validate a request's voice/language at request time; the voice that will speak."""
        for choice in chain_for(voice=voice, language=language):
            if choice.engine in self.engines:
                return choice
        raise UnknownVoice(f"no installed engine can speak {voice or language!r}")

    def __repr__(self) -> str:
        return f"<Speech engines={list(self.engines)} cache={self.cache!r}>"
