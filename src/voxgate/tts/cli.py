"""``voxgate tts say``: write exactly what a callee would hear to a WAV file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from voxgate.media.g711 import CODECS, Codec
from voxgate.media.wav import pcm_to_wav
from voxgate.tts.base import TtsError
from voxgate.tts.service import Speech

tts_app = typer.Typer(help="Text to speech.", no_args_is_help=True)


@tts_app.callback()
def _tts() -> None:
    """Text to speech."""


@tts_app.command()
def say(
    text: Annotated[str, typer.Argument(help="Text to speak.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="WAV file to write.")],
    engine: Annotated[str | None, typer.Option(help="piper, flite or espeak.")] = None,
    voice: Annotated[str | None, typer.Option(help="Voice, e.g. joe, slt, espeak:de.")] = None,
    language: Annotated[str | None, typer.Option(help="Language, e.g. en, zh.")] = None,
    codec: Annotated[str, typer.Option(help="pcmu (µ-law) or pcma (A-law).")] = "pcmu",
    cache_dir: Annotated[Path | None, typer.Option(help="Telephone-audio cache.")] = None,
) -> None:
    """Synthesise TEXT, encode it as 8 kHz G.711 and write it decoded as a 16-bit 8 kHz WAV."""
    if codec not in CODECS:
        raise typer.BadParameter(f"codec must be one of {', '.join(CODECS)}", param_hint="--codec")
    chosen: Codec = "pcmu" if codec == "pcmu" else "pcma"
    speech = Speech.default(cache_dir=cache_dir, piper=engine in (None, "piper"))
    try:
        audio = speech.say(text, voice=voice, language=language, engine=engine, codec=chosen)
    except TtsError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        speech.close()
    output.write_bytes(pcm_to_wav(audio.pcm(), 8000))
    typer.echo(f"{output}: {audio.duration:.2f} s, {chosen}")
