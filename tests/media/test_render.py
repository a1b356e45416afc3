"""Telephone audio objects: rendering, framing, joining, transcoding."""

from __future__ import annotations

import numpy as np
import pytest
from audio_files import tone

from voxgate.media import g711
from voxgate.media.render import (
    TelephoneAudio,
    from_pcm8k,
    join,
    silence,
    to_telephone,
    transcode,
)


@pytest.mark.parametrize("codec", g711.CODECS)
def test_to_telephone_resamples_and_encodes(codec: g711.Codec) -> None:
    audio = to_telephone(tone(1000, 22050, seconds=0.5), 22050, codec)
    assert audio.codec == codec
    assert len(audio.payload) == 4000
    assert audio.duration == pytest.approx(0.5)
    assert repr(audio) == f"<TelephoneAudio {codec} 0.50s>"
    pcm = audio.pcm()
    assert pcm.dtype == np.int16 and pcm.size == 4000


def test_frames_are_20ms_and_padded_with_silence() -> None:
    audio = TelephoneAudio("pcmu", b"\x01" * 170)
    frames = list(audio.frames())
    assert [len(f) for f in frames] == [160, 160]
    assert frames[1] == b"\x01" * 10 + b"\xff" * 150


def test_join_inserts_gaps() -> None:
    a = TelephoneAudio("pcma", b"\x01" * 8)
    b = TelephoneAudio("pcma", b"\x02" * 8)
    joined = join([a, b], codec="pcma", gap_ms=1)
    assert joined.payload == b"\x01" * 8 + b"\xd5" * 8 + b"\x02" * 8
    with pytest.raises(ValueError):
        join([a, TelephoneAudio("pcmu", b"")], codec="pcma")


def test_silence_and_transcode() -> None:
    assert silence("pcmu", 20).payload == b"\xff" * 160
    src = from_pcm8k(np.array([0, 1000, -1000], np.int16), "pcmu")
    other = transcode(src, "pcma")
    assert other.codec == "pcma"
    assert np.allclose(other.pcm(), src.pcm(), atol=64)
    assert transcode(src, "pcmu") is src
