"""``voxgate tts say`` writes what the callee hears: 16-bit 8 kHz WAV of decoded G.711."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from voxgate.media import g711
from voxgate.media.wav import wav_to_pcm
from voxgate.tts.cli import tts_app


@pytest.mark.parametrize("codec", ["pcmu", "pcma"])
def test_say_writes_g711_rendering(tmp_path: Path, codec: g711.Codec) -> None:
    out = tmp_path / "out.wav"
    result = CliRunner().invoke(
        tts_app, ["say", "Hello there.", "-o", str(out), "--engine", "flite", "--codec", codec]
    )
    assert result.exit_code == 0, result.output
    pcm, rate = wav_to_pcm(out.read_bytes())
    assert rate == 8000 and pcm.size > 4000
    # Every sample is exactly a G.711 decoded level: re-encoding round-trips bit for bit.
    assert np.array_equal(g711.decode(codec, g711.encode(codec, pcm)), pcm)


def test_say_rejects_unknown_codec(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        tts_app, ["say", "x", "-o", str(tmp_path / "x.wav"), "--codec", "g729"]
    )
    assert result.exit_code != 0


def test_say_reports_unknown_voice(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        tts_app, ["say", "x", "-o", str(tmp_path / "x.wav"), "--voice", "nobody"]
    )
    assert result.exit_code != 0
