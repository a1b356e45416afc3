"""Content-addressed cache of final telephone audio on the filesystem.

The key is (engine, voice, engine version, normalised text, codec); the file name is the
SHA-256 of the key, and the file holds raw G.711 bytes. Reading a hit is one ``open`` and
one ``read``; ``mtime`` is bumped on every hit and the least recently used files are
evicted when the directory grows past ``max_bytes``. Writes are atomic (temp file +
rename), so several processes may share one directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from voxgate.media.g711 import Codec
from voxgate.media.render import TelephoneAudio

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
_SUFFIX = ".g711"


@dataclass(frozen=True)
class CacheKey:
    engine: str
    voice: str
    engine_version: str
    text: str
    codec: Codec

    def digest(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()


class AudioCache:
    def __init__(self, directory: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._total = sum(size for _path, size, _mtime in self._entries())
        self.hits = 0
        self.misses = 0

    def _path(self, key: CacheKey) -> Path:
        digest = key.digest()
        return self.directory / digest[:2] / (digest + _SUFFIX)

    def get(self, key: CacheKey) -> TelephoneAudio | None:
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                payload = f.read()
            os.utime(path)
        except FileNotFoundError:
            self.misses += 1
            return None
        self.hits += 1
        return TelephoneAudio(key.codec, payload)

    def put(self, key: CacheKey, audio: TelephoneAudio) -> None:
        if audio.codec != key.codec:
            raise ValueError("audio codec does not match the key")
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(audio.payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        with self._lock:
            self._total += len(audio.payload)
            if self._total > self.max_bytes:
                self._evict()

    def get_or_render(
        self, key: CacheKey, render: Callable[[], TelephoneAudio], *, force: bool = False
    ) -> TelephoneAudio:
        """The cached audio, or ``render()`` stored under ``key``; ``force`` re-renders."""
        if not force:
            cached = self.get(key)
            if cached is not None:
                return cached
        audio = render()
        self.put(key, audio)
        return audio

    def _entries(self) -> list[tuple[Path, int, float]]:
        out: list[tuple[Path, int, float]] = []
        for sub in os.scandir(self.directory):
            if not sub.is_dir():
                continue
            for entry in os.scandir(sub.path):
                if entry.name.endswith(_SUFFIX):
                    try:
                        st = entry.stat()
                    except FileNotFoundError:
                        continue
                    out.append((Path(entry.path), st.st_size, st.st_mtime))
        return out

    def _evict(self) -> None:
        """Drop least recently used files until the cache is at 90% of its cap."""
        entries = sorted(self._entries(), key=lambda e: e[2])
        total = sum(size for _p, size, _m in entries)
        target = int(self.max_bytes * 0.9)
        for path, size, _mtime in entries:
            if total <= target:
                break
            path.unlink(missing_ok=True)
            total -= size
        self._total = total

    def clear(self) -> None:
        with self._lock:
            for path, _size, _mtime in self._entries():
                path.unlink(missing_ok=True)
            self._total = 0

    @property
    def size(self) -> int:
        return self._total

    def __len__(self) -> int:
        return len(self._entries())

    def __repr__(self) -> str:
        return (
            f"<AudioCache {self.directory} {self._total}/{self.max_bytes} bytes "
            f"hits={self.hits} misses={self.misses}>"
        )
