"""What the callee hears, checked by a real offline listener: the code comes back exact."""

from __future__ import annotations

import pytest

from conftest import Listener
from voxgate.media.g711 import Codec
from voxgate.tts.espeak import EspeakEngine
from voxgate.tts.flite import FliteEngine
from voxgate.tts.piper import PiperEngine
from voxgate.tts.service import Speech

PROMPT = "Your verification code is 4 8 2 7 1 9"


def test_piper_code_survives_mulaw(piper: PiperEngine, listener: Listener) -> None:
    speech = Speech(engines={"piper": piper})
    audio = speech.say(PROMPT, codec="pcmu")
    assert audio.codec == "pcmu"
    heard = listener.hear(audio)
    assert "verification" in heard.lower()
    assert listener.digits(heard).endswith("482719"), heard


@pytest.mark.parametrize(("voice", "codec"), [("slt", "pcmu"), ("rms", "pcma")])
def test_flite_code_survives_g711(
    flite: FliteEngine, listener: Listener, voice: str, codec: Codec
) -> None:
    speech = Speech(engines={"flite": flite})
    audio = speech.say(PROMPT, voice=f"flite:{voice}", codec=codec)
    heard = listener.hear(audio)
    assert listener.digits(heard).endswith("482719"), heard


def test_spelled_digit_segment_is_heard(piper: PiperEngine, listener: Listener) -> None:
    from voxgate.media.voicecontent import parse_voice_content

    speech = Speech(engines={"piper": piper})
    segments = parse_voice_content("$Your code is$~$5307$", lambda _id: None)
    audio = speech.render(segments, load_file=lambda ref: ref, codec="pcma")
    assert listener.digits(listener.hear(audio)).endswith("5307")


def test_mandarin_pinyin_voice_speaks(espeak: EspeakEngine) -> None:
    # No Mandarin listener in the suite: check the chain picks the pinyin voice and speaks.
    speech = Speech(engines={"espeak": espeak})
    audio = speech.say("您的验证码是四八二七一九", language="zh-CN")
    assert audio.duration > 1.5
