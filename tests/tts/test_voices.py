"""Engine/voice choice per request and the fallback chain per language."""

from __future__ import annotations

import pytest

from voxgate.tts.base import UnknownVoice
from voxgate.tts.voices import VoiceChoice, chain_for, language_key, parse_voice

PIPER = VoiceChoice("piper", "joe")
FLITE = VoiceChoice("flite", "slt")
ESPEAK_EN = VoiceChoice("espeak", "en-us")


def test_english_default_chain() -> None:
    assert chain_for() == [PIPER, FLITE, ESPEAK_EN]
    assert chain_for(language="en-US") == [PIPER, FLITE, ESPEAK_EN]


@pytest.mark.parametrize("language", ["zh", "zh-CN", "cmn", "zh_CN"])
def test_mandarin_uses_pinyin_voice(language: str) -> None:
    assert chain_for(language=language) == [VoiceChoice("espeak", "cmn-latn-pinyin")]


def test_other_languages_go_to_espeak() -> None:
    assert chain_for(language="fr-FR") == [VoiceChoice("espeak", "fr")]
    assert language_key("pt_BR") == "pt"


def test_requested_voice_first_then_chain() -> None:
    assert chain_for(voice="rms") == [VoiceChoice("flite", "rms"), PIPER, FLITE, ESPEAK_EN]
    assert chain_for(engine="flite") == [FLITE, PIPER, ESPEAK_EN]
    assert chain_for(engine="espeak", voice="en-gb")[0] == VoiceChoice("espeak", "en-gb")


def test_voice_parsing() -> None:
    assert parse_voice("espeak:de") == VoiceChoice("espeak", "de")
    assert str(parse_voice("joe")) == "piper:joe"
    for bad in ("nobody", ":x", "flite:"):
        with pytest.raises(UnknownVoice):
            parse_voice(bad)


def test_engine_without_default_for_language() -> None:
    with pytest.raises(UnknownVoice):
        chain_for(engine="piper", language="zh")
