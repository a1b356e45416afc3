"""piper (neural, English default) through a kept-warm worker process.

piper-tts is GPL-3.0-or-later: it is never imported here. :class:`PiperEngine` starts
``python -m voxgate.tts.piper_worker`` once, keeps it (and its loaded voice) warm, and
restarts it if it dies. One request at a time per worker; build several engines for
more parallelism.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import IO, Any

import numpy as np

from voxgate.tts import protocol
from voxgate.tts.base import EngineUnavailable, SpeechChunk, TtsError
from voxgate.tts.text import normalise_text

log = logging.getLogger(__name__)
DEFAULT_VOICE = "joe"


class PiperEngine:
    name = "piper"

    def __init__(self, *, python: str = sys.executable, default_voice: str = DEFAULT_VOICE):
        self._python = python
        self._default_voice = default_voice
        self._proc: subprocess.Popen[bytes] | None = None
        self._hello: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- process management -------------------------------------------------------------
    def start(self) -> None:
        """Start the worker now (otherwise it starts on first use) and wait until warm."""
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._proc = None
        try:
            proc = subprocess.Popen(
                [self._python, "-m", "voxgate.tts.piper_worker", "--voice", self._default_voice],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise EngineUnavailable(f"cannot start the piper worker: {exc}") from exc
        try:
            hello = protocol.read_message(self._out(proc))
        except protocol.ProtocolError as exc:
            proc.kill()
            proc.wait()
            raise EngineUnavailable("the piper worker failed to start") from exc
        if hello[:1] != protocol.HELLO:
            proc.kill()
            proc.wait()
            raise EngineUnavailable("the piper worker spoke out of turn")
        self._hello = json.loads(hello[1:])
        self._proc = proc
        log.info("piper worker ready", extra={"action": "tts_worker_started", "pid": proc.pid})
        return proc

    @staticmethod
    def _out(proc: subprocess.Popen[bytes]) -> IO[bytes]:
        assert proc.stdout is not None
        return proc.stdout

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is None:
                return
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- Engine -------------------------------------------------------------------------
    def version(self) -> str:
        if not self._hello:
            self.start()
        return str(self._hello["version"])

    def voices(self) -> Sequence[str]:
        if not self._hello:
            self.start()
        return list(self._hello["voices"])

    def synthesize(self, text: str, voice: str) -> Iterator[SpeechChunk]:
        text = normalise_text(text)
        if not text:
            return
        with self._lock:
            proc = self._ensure_started()
            if voice not in self._hello["voices"]:
                raise TtsError(f"piper has no voice {voice!r}")
            yield from self._exchange(proc, text, voice)

    def _exchange(
        self, proc: subprocess.Popen[bytes], text: str, voice: str
    ) -> Iterator[SpeechChunk]:
        assert proc.stdin is not None
        done = False
        try:
            proc.stdin.write(protocol.encode_json(b"", {"text": text, "voice": voice}))
            proc.stdin.flush()
            while True:
                message = protocol.read_message(self._out(proc))
                kind = message[:1]
                if kind == protocol.END:
                    done = True
                    return
                if kind == protocol.ERROR:
                    done = True
                    raise TtsError(f"piper: {message[1:].decode('utf-8', 'replace')}")
                if kind != protocol.AUDIO:
                    raise protocol.ProtocolError(f"unexpected message kind {kind!r}")
                rate, pcm = protocol.decode_audio(message)
                yield SpeechChunk(np.frombuffer(pcm, dtype="<i2").astype(np.int16), rate, text)
        except (OSError, protocol.ProtocolError) as exc:
            self._kill(proc)
            done = True
            raise EngineUnavailable(f"the piper worker failed: {exc}") from exc
        finally:
            if not done:
                # The consumer stopped early: the rest of this reply is still in the pipe.
                self._drain(proc)

    def _drain(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            while protocol.read_message(self._out(proc))[:1] not in (protocol.END, protocol.ERROR):
                pass
        except (OSError, protocol.ProtocolError):
            self._kill(proc)

    def _kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()
        proc.wait()
        if self._proc is proc:
            self._proc = None

    def __repr__(self) -> str:
        state = f"pid={self._proc.pid}" if self._proc is not None else "stopped"
        return f"<PiperEngine {state}>"
