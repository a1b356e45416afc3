"""The three real engines, the piper worker process and the fallback chain."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from voxgate.tts.base import EngineUnavailable, TtsError, UnknownVoice
from voxgate.tts.cache import AudioCache
from voxgate.tts.espeak import EspeakEngine
from voxgate.tts.flite import FliteEngine
from voxgate.tts.piper import PiperEngine
from voxgate.tts.service import DIGITS, Speech


def test_piper_is_never_imported_into_this_process(piper: PiperEngine) -> None:
    assert list(piper.synthesize("Hello.", "joe"))
    assert "piper" not in sys.modules
    assert piper.version().startswith("piper-tts 1.8")
    assert piper.voices() == ["joe"]


def test_piper_streams_sentence_by_sentence(piper: PiperEngine) -> None:
    chunks = list(piper.synthesize("One. Two. Three.", "joe"))
    assert len(chunks) == 3
    assert all(c.rate == 22050 and c.samples.size > 0 for c in chunks)


def test_piper_survives_abandoned_stream_and_bad_voice(piper: PiperEngine) -> None:
    stream = piper.synthesize("First. Second. Third.", "joe")
    next(stream)
    stream.close()  # the rest of the reply is drained
    with pytest.raises(TtsError):
        list(piper.synthesize("x", "nobody"))
    assert len(list(piper.synthesize("Still here.", "joe"))) == 1


def test_piper_worker_restarts_after_crash(piper: PiperEngine) -> None:
    pid = piper.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(EngineUnavailable):
        list(piper.synthesize("Are you there?", "joe"))
    assert len(list(piper.synthesize("Back again.", "joe"))) == 1
    assert piper.pid != pid


def test_piper_unavailable_when_worker_cannot_start() -> None:
    engine = PiperEngine(python="/nonexistent/python")
    with pytest.raises(EngineUnavailable):
        engine.start()


def test_flite_voices_and_refuses_kal(flite: FliteEngine) -> None:
    assert set(flite.voices()) == {"slt", "rms", "awb"}
    with pytest.raises(TtsError):
        list(flite.synthesize("hello", "kal"))
    chunks = list(flite.synthesize("Hello there. How are you?", "awb"))
    assert [c.text for c in chunks] == ["Hello there.", "How are you?"]
    assert chunks[0].rate == 16000


def test_espeak_languages(espeak: EspeakEngine) -> None:
    assert {"en-us", "cmn-latn-pinyin", "de"} <= set(espeak.voices())
    assert espeak.version().startswith("espeak-ng 1.")
    with pytest.raises(TtsError):
        list(espeak.synthesize("hello", "no-such-voice"))


def test_fallback_when_preferred_engine_is_down(flite: FliteEngine, espeak: EspeakEngine) -> None:
    broken = PiperEngine(python="/nonexistent/python")
    speech = Speech(engines={"piper": broken, "flite": flite, "espeak": espeak})
    audio = speech.say("Hello.")  # English chain: piper → flite
    assert audio.duration > 0.3
    assert speech.check_voice(None, "en").engine == "piper"
    assert Speech(engines={"espeak": espeak}).check_voice(None, "en").engine == "espeak"
    with pytest.raises(UnknownVoice):
        Speech(engines={}).check_voice(None, "en")


def test_all_engines_failing_is_an_error() -> None:
    with pytest.raises(TtsError, match="no TTS engine"):
        Speech(engines={}).say("Hello.")
    with pytest.raises(TtsError, match="empty"):
        Speech(engines={}).say("   ")


def test_cache_hit_skips_synthesis_and_force_regenerates(
    tmp_path: Path, flite: FliteEngine
) -> None:
    cache = AudioCache(tmp_path)
    speech = Speech(engines={"flite": flite}, cache=cache)
    first = speech.say("Cache me. Twice.", engine="flite", codec="pcma")
    assert cache.misses == 2 and len(cache) == 2
    again = speech.say("Cache me. Twice.", engine="flite", codec="pcma")
    assert again == first and cache.hits == 2
    speech.say("Cache me. Twice.", engine="flite", codec="pcma", force=True)
    assert cache.hits == 2 and len(cache) == 2


def test_prewarm_digits(tmp_path: Path, flite: FliteEngine) -> None:
    cache = AudioCache(tmp_path)
    speech = Speech(engines={"flite": flite}, cache=cache)
    assert speech.prewarm(DIGITS, voice="slt", codecs=("pcmu",)) == 10
    assert len(cache) == 10
    speech.say("7", voice="slt")
    assert cache.hits == 1
