"""Choosing engine and voice per request: defaults and the fallback chain per language."""

from __future__ import annotations

from dataclasses import dataclass

from voxgate.tts.base import UnknownVoice


@dataclass(frozen=True)
class VoiceChoice:
    engine: str
    voice: str

    def __str__(self) -> str:
        return f"{self.engine}:{self.voice}"


DEFAULT_LANGUAGE = "en"

# Tried in order until one engine is available and succeeds.
CHAINS: dict[str, tuple[VoiceChoice, ...]] = {
    "en": (
        VoiceChoice("piper", "joe"),
        VoiceChoice("flite", "slt"),
        VoiceChoice("espeak", "en-us"),
    ),
    "cmn": (VoiceChoice("espeak", "cmn-latn-pinyin"),),
}

# Language tags as clients send them → the chain key (or an espeak-ng voice).
_ALIASES = {
    "zh": "cmn",
    "zh-cn": "cmn",
    "zh_cn": "cmn",
    "cmn": "cmn",
    "cn": "cmn",
    "en-us": "en",
    "en_us": "en",
    "en-gb": "en",
    "en_gb": "en",
    "english": "en",
}

# Bare voice names accepted without an engine prefix.
KNOWN_VOICES = {
    "joe": "piper",
    "slt": "flite",
    "rms": "flite",
    "awb": "flite",
}


def language_key(language: str | None) -> str:
    tag = (language or DEFAULT_LANGUAGE).strip().lower()
    return _ALIASES.get(tag, tag.split("-")[0].split("_")[0] if tag not in CHAINS else tag)


def parse_voice(voice: str) -> VoiceChoice:
    """``"flite:slt"`` or a bare known name (``"slt"``) → a :class:`VoiceChoice`."""
    if ":" in voice:
        engine, _, name = voice.partition(":")
        if not engine or not name:
            raise UnknownVoice(f"malformed voice {voice!r}; use ENGINE:VOICE")
        return VoiceChoice(engine.strip().lower(), name.strip())
    if voice in KNOWN_VOICES:
        return VoiceChoice(KNOWN_VOICES[voice], voice)
    raise UnknownVoice(f"unknown voice {voice!r}; use ENGINE:VOICE, e.g. espeak:{voice}")


def chain_for(
    *, voice: str | None = None, language: str | None = None, engine: str | None = None
) -> list[VoiceChoice]:
    """The voices to try, best first: the requested one, then the language's chain."""
    key = language_key(language)
    chain = list(CHAINS.get(key, (VoiceChoice("espeak", key),)))
    if voice:
        first = parse_voice(voice if ":" in voice or not engine else f"{engine}:{voice}")
    elif engine:
        defaults = [c for c in chain if c.engine == engine]
        if not defaults:
            raise UnknownVoice(f"no default {engine} voice for language {key!r}; pass a voice")
        first = defaults[0]
    else:
        return chain
    return [first, *(c for c in chain if c != first)]
