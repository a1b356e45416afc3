"""A real HTTP server on loopback that serves audio, for the dialects' audio URLs.

``AUDIO`` starts once per test process. Any path answers a short WAV tone, except:
``/missing…`` 404, ``/page…`` an HTML page, ``/slow…`` a WAV after ``SLOW_SECONDS``,
``/redirect?to=<url>`` a 302 to ``url``. ``hits(path)`` counts requests per path.

The voxgate under test refuses loopback URLs unless ``fetch_allow`` lets them through:
``loopback_platform()`` builds a ``platform`` fixture whose settings allow 127.0.0.1.
"""

from __future__ import annotations

import io
import threading
import time
import wave
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest

from tests.support.harness import Platform, test_settings
from tests.support.server import running_server
from tests.support.store import fresh_store

SLOW_SECONDS = 3.0
LOOPBACK = ("127.0.0.1/32",)


def tone_wav(rate: int = 16000, seconds: float = 0.5, freq: float = 440.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    pcm = (np.sin(2 * np.pi * freq * t) * 8000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


WAV = tone_wav()


class AudioServer:
    def __init__(self) -> None:
        self._hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str, **headers: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                with server._lock:
                    server._hits[parts.path] += 1
                if parts.path.startswith("/missing"):
                    self._send(404, b"not found", "text/plain")
                elif parts.path.startswith("/page"):
                    self._send(200, b"<html><body>hello</body></html>", "audio/wav")
                elif parts.path.startswith("/redirect"):
                    to = parse_qs(parts.query).get("to", ["/"])[0]
                    self._send(302, b"", "text/plain", Location=to)
                else:
                    if parts.path.startswith("/slow"):
                        time.sleep(SLOW_SECONDS)
                    self._send(200, WAV, "application/octet-stream")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits["/" + path.lstrip("/")]


AUDIO = AudioServer()


def loopback_platform(name: str = "platform", **extra: Any) -> Callable[..., Iterator[Platform]]:
    """A module-scoped fixture ``name`` (SQLite and PostgreSQL) like ``platform``, with extra
    settings; audio URLs on 127.0.0.1 are allowed unless ``fetch_allow`` says otherwise."""
    extra.setdefault("fetch_allow", LOOPBACK)

    @pytest.fixture(scope="module", params=["sqlite", "postgres"], name=name)
    def platform(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Platform]:
        tmp = tmp_path_factory.mktemp(f"voxgate-{request.param}")
        with fresh_store(request.param, tmp) as store:
            settings = test_settings(store, tmp / "data", **extra)
            with (
                running_server(settings, schema=store.schema) as base_url,
                httpx.Client(base_url=base_url, timeout=30) as http,
            ):
                yield Platform(base_url=base_url, settings=settings, store=store, http=http)

    return platform
