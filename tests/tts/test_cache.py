"""The content-addressed telephone-audio cache."""

from __future__ import annotations

import os
from pathlib import Path

from voxgate.media.render import TelephoneAudio
from voxgate.tts.cache import AudioCache, CacheKey


def key(text: str, **kw: str) -> CacheKey:
    fields = {"engine": "flite", "voice": "slt", "engine_version": "flite 2.2", "codec": "pcmu"}
    fields.update(kw)
    return CacheKey(text=text, **fields)  # type: ignore[arg-type]


def test_put_get_and_key_fields(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path)
    audio = TelephoneAudio("pcmu", b"\x01\x02")
    assert cache.get(key("hi")) is None
    cache.put(key("hi"), audio)
    assert cache.get(key("hi")) == audio
    for other in (
        key("hi", engine="piper"),
        key("hi", voice="rms"),
        key("hi", engine_version="flite 2.3"),
        key("hi", codec="pcma"),
        key("hi!"),
    ):
        assert cache.get(other) is None
    assert cache.hits == 1 and cache.misses == 6
    assert repr(cache).startswith(f"<AudioCache {tmp_path} 2/")


def test_get_or_render_and_force(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path)
    calls: list[int] = []

    def render() -> TelephoneAudio:
        calls.append(1)
        return TelephoneAudio("pcmu", bytes([len(calls)]))

    assert cache.get_or_render(key("x"), render).payload == b"\x01"
    assert cache.get_or_render(key("x"), render).payload == b"\x01"
    assert cache.get_or_render(key("x"), render, force=True).payload == b"\x02"
    assert cache.get(key("x")) == TelephoneAudio("pcmu", b"\x02")
    assert len(calls) == 2


def test_lru_eviction_keeps_recently_used(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path, max_bytes=3000)
    for i, name in enumerate(["a", "b", "c"]):
        cache.put(key(name), TelephoneAudio("pcmu", b"\x00" * 1000))
        os.utime(cache._path(key(name)), (1000 + i, 1000 + i))
    assert cache.get(key("a")) is not None  # a becomes the most recently used
    cache.put(key("d"), TelephoneAudio("pcmu", b"\x00" * 1000))
    # Over the cap: the oldest go until the cache is at 90% (2700 bytes).
    assert cache.get(key("b")) is None
    assert cache.get(key("c")) is None
    assert cache.get(key("a")) is not None
    assert cache.get(key("d")) is not None
    assert cache.size == 2000


def test_size_survives_restart(tmp_path: Path) -> None:
    AudioCache(tmp_path).put(key("x"), TelephoneAudio("pcmu", b"\x00" * 10))
    reopened = AudioCache(tmp_path)
    assert reopened.size == 10 and len(reopened) == 1
    reopened.clear()
    assert reopened.size == 0 and len(reopened) == 0
