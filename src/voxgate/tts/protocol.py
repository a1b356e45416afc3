"""Length-prefixed framing between voxgate and the piper worker process.

Every message is a 4-byte big-endian length followed by that many bytes. The first byte
of a worker message is its kind:

- ``H`` + JSON: hello, sent once the default voice is loaded (``version``, ``voices``)
- ``A`` + 4-byte big-endian rate + int16 little-endian PCM: one synthesised sentence
- ``E``: end of the current request
- ``X`` + UTF-8 text: the request failed (the worker stays up)

Requests from voxgate are JSON objects: ``{"text": ..., "voice": ...}``.
"""

from __future__ import annotations

import json
import struct
from typing import IO, Any

HELLO = b"H"
AUDIO = b"A"
END = b"E"
ERROR = b"X"
MAX_MESSAGE = 64 * 1024 * 1024

_LEN = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer broke the framing rules or went away."""


def frame(payload: bytes) -> bytes:
    if len(payload) > MAX_MESSAGE:
        raise ProtocolError("message too large")
    return _LEN.pack(len(payload)) + payload


def read_exact(stream: IO[bytes], size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise ProtocolError("stream closed")
        data += chunk
    return data


def read_message(stream: IO[bytes]) -> bytes:
    (size,) = _LEN.unpack(read_exact(stream, _LEN.size))
    if size > MAX_MESSAGE:
        raise ProtocolError("message too large")
    return read_exact(stream, size)


def encode_json(kind: bytes, obj: dict[str, Any]) -> bytes:
    return frame(kind + json.dumps(obj).encode("utf-8"))


def encode_audio(rate: int, pcm: bytes) -> bytes:
    return frame(AUDIO + _LEN.pack(rate) + pcm)


def decode_audio(message: bytes) -> tuple[int, bytes]:
    (rate,) = _LEN.unpack(message[1:5])
    return rate, message[5:]
