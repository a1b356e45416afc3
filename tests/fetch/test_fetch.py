"""SSRF-safe audio fetching against a real HTTP server on loopback.

Only loopback is ever contacted: every request goes through ``LoopbackOnly``, which fails
the test if anything else is about to be connected to, so refusals are proven to
happen before any connection.
"""

from __future__ import annotations

import io
import ipaddress
import threading
import time
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from voxgate.fetch import (
    AddressPolicy,
    BlockedDestination,
    FetchError,
    FetchTimeout,
    NotAudio,
    TooLarge,
    fetch_audio,
)
from voxgate.media.decode import decode_audio


def wav_bytes() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x10" * 16000)
    return buf.getvalue()


WAV = wav_bytes()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path
        if path == "/tone.wav":
            self._send(
                200, WAV, Content_Type="application/octet-stream", X_Host=self.headers["Host"]
            )
        elif path == "/fake.mp3":
            self._send(200, b"<html>not audio</html>", Content_Type="audio/mpeg")
        elif path == "/big.wav":
            self._send(200, WAV[:44] + b"\x00" * (9 * 1024 * 1024))
        elif path == "/chunked-big":
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(WAV[:44] + b"\x00" * 100_000)
            except OSError:
                pass
        elif path == "/slow":
            time.sleep(3)
            self._send(200, WAV)
        elif path == "/missing":
            self._send(404)
        elif path.startswith("/redirect?to="):
            self._send(302, Location=path.split("=", 1)[1])
        elif path == "/loop":
            self._send(302, Location="/loop")
        else:
            self._send(404)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class LoopbackOnly(httpx.AsyncBaseTransport):
    """A real transport that refuses to connect anywhere but loopback."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.hosts: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        assert ipaddress.ip_address(host).is_loopback, f"tried to connect to {host}"
        self.hosts.append(host)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


LOOPBACK = AddressPolicy(["127.0.0.0/8"])


async def test_allow_listed_loopback_is_fetched(server: str) -> None:
    transport = LoopbackOnly()
    got = await fetch_audio(f"{server}/tone.wav", allow=LOOPBACK, transport=transport)
    assert got.format == "wav" and got.data == WAV
    assert transport.hosts == ["127.0.0.1"]
    assert decode_audio(got.data).size == 8000


async def test_name_is_pinned_to_checked_ip_and_host_header_kept(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    transport = LoopbackOnly()
    policy = AddressPolicy(["127.0.0.0/8", "::1"])
    got = await fetch_audio(f"http://localhost:{port}/tone.wav", allow=policy, transport=transport)
    assert got.format == "wav"
    assert transport.hosts[0] in ("127.0.0.1", "::1")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.wav",
        "http://127.1.2.3:8080/a.wav",
        "http://10.0.0.5/a.wav",
        "http://172.16.0.1/a.wav",
        "http://192.168.1.1/a.wav",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/a.wav",
        "http://0.0.0.0/a.wav",
        "http://[::1]/a.wav",
        "http://[fe80::1]/a.wav",
        "http://[fd00::1]/a.wav",
        "http://[::ffff:127.0.0.1]/a.wav",
        "http://localhost/a.wav",
        "https://localhost/a.wav",
    ],
)
async def test_internal_destinations_are_refused_before_connecting(url: str) -> None:
    transport = LoopbackOnly()
    with pytest.raises(BlockedDestination):
        await fetch_audio(url, transport=transport)
    assert transport.hosts == []


@pytest.mark.parametrize("url", ["ftp://example.com/a.wav", "file:///etc/passwd", "gopher://x/"])
async def test_only_http_and_https(url: str) -> None:
    with pytest.raises(FetchError):
        await fetch_audio(url, transport=LoopbackOnly())


@pytest.mark.parametrize("host", ["0" * 64, "a" * 64 + ".example"])
async def test_a_host_name_no_resolver_takes_is_a_fetch_error(host: str) -> None:
    # the system resolver refuses a label over 63 octets before any query: UnicodeError
    # from the idna codec, which reached the API's caller as a 500
    transport = LoopbackOnly()
    with pytest.raises(FetchError, match="cannot resolve"):
        await fetch_audio(f"http://{host}/a.wav", transport=transport)
    assert transport.hosts == []


@pytest.mark.parametrize(
    "target",
    [
        "http://10.1.2.3/a.wav",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/a.wav",
        "http://127.0.0.2/a.wav",
    ],
)
async def test_redirect_to_internal_is_refused(server: str, target: str) -> None:
    transport = LoopbackOnly()
    # 127.0.0.1 itself is allow-listed; the redirect targets are not.
    policy = AddressPolicy(["127.0.0.1/32"])
    with pytest.raises(BlockedDestination):
        await fetch_audio(f"{server}/redirect?to={target}", allow=policy, transport=transport)
    assert transport.hosts == ["127.0.0.1"]


async def test_relative_redirect_followed(server: str) -> None:
    got = await fetch_audio(
        f"{server}/redirect?to=/tone.wav", allow=LOOPBACK, transport=LoopbackOnly()
    )
    assert got.url.endswith("/tone.wav")


async def test_redirect_loop(server: str) -> None:
    with pytest.raises(FetchError, match="redirects"):
        await fetch_audio(f"{server}/loop", allow=LOOPBACK, transport=LoopbackOnly())


async def test_content_is_sniffed_not_trusted(server: str) -> None:
    with pytest.raises(NotAudio):
        await fetch_audio(f"{server}/fake.mp3", allow=LOOPBACK, transport=LoopbackOnly())


@pytest.mark.parametrize("path", ["/big.wav", "/chunked-big"])
async def test_size_cap(server: str, path: str) -> None:
    with pytest.raises(TooLarge):
        await fetch_audio(f"{server}{path}", allow=LOOPBACK, transport=LoopbackOnly())


async def test_time_cap(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        await fetch_audio(
            f"{server}/slow", allow=LOOPBACK, time_limit=0.5, transport=LoopbackOnly()
        )
    assert time.monotonic() - started < 2


async def test_http_error_status(server: str) -> None:
    with pytest.raises(FetchError, match="404"):
        await fetch_audio(f"{server}/missing", allow=LOOPBACK, transport=LoopbackOnly())


async def test_hostname_allow_list_and_mixed_answers() -> None:
    async def rebinding(
        host: str, port: int
    ) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.1")]

    with pytest.raises(BlockedDestination):
        await fetch_audio(
            "http://rebind.example/a.wav", resolver=rebinding, transport=LoopbackOnly()
        )
    policy = AddressPolicy(["media.internal"])
    assert policy.host_allowed("MEDIA.internal.")
    assert repr(policy) == "<AddressPolicy allow=['media.internal']>"
