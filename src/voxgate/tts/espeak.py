"""espeak-ng (Debian CLI) as a subprocess: the last resort, and the engine for other languages.

Tiny and instant but the least intelligible. For Mandarin use ``cmn-latn-pinyin``: Debian's
default ``cmn``/``zh`` voice reads characters as spelled pinyin. Recorded prompts remain
the quality path for Mandarin.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Sequence

from voxgate.media.wav import wav_to_pcm
from voxgate.tts.base import EngineUnavailable, SpeechChunk, TtsError
from voxgate.tts.text import split_sentences

TIMEOUT = 20.0


class EspeakEngine:
    name = "espeak"

    def __init__(self, *, binary: str = "espeak-ng") -> None:
        path = shutil.which(binary)
        if path is None:
            raise EngineUnavailable(f"{binary} is not installed")
        self._binary = path
        self._version: str | None = None
        self._voices: list[str] | None = None

    def version(self) -> str:
        if self._version is None:
            out = self._run(["--version"]).decode("utf-8", "replace")
            # "eSpeak NG text-to-speech: 1.51  Data at: ..."
            self._version = "espeak-ng " + out.split(":", 1)[-1].split()[0]
        return self._version

    def voices(self) -> Sequence[str]:
        if self._voices is None:
            lines = self._run(["--voices"]).decode("utf-8", "replace").splitlines()[1:]
            self._voices = sorted({line.split()[1] for line in lines if len(line.split()) > 1})
        return self._voices

    def synthesize(self, text: str, voice: str) -> Iterator[SpeechChunk]:
        if voice not in self.voices():
            raise TtsError(f"espeak-ng has no voice {voice!r}")
        for sentence in split_sentences(text):
            wav = self._run(["-v", voice, "-b", "1", "--stdout"], stdin=sentence.encode())
            samples, rate = wav_to_pcm(wav)
            yield SpeechChunk(samples, rate, sentence)

    def _run(self, args: list[str], stdin: bytes | None = None) -> bytes:
        try:
            done = subprocess.run(
                [self._binary, *args],
                input=stdin,
                capture_output=True,
                timeout=TIMEOUT,
                check=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise TtsError(f"espeak-ng failed: {exc}") from exc
        return done.stdout

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<EspeakEngine {self._binary}>"
