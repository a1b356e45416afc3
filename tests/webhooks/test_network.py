"""The sender's sockets (voxgate's asyncio backend for httpcore) against real servers: where a
connection may go, TLS and HTTP/2, connections the server closes, and a body that floods."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl

import h2.config
import h2.connection
import h2.events
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.webhooks.receiver import running_receiver
from voxgate.webhooks.network import HIGH_WATER, AsyncioBackend
from voxgate.webhooks.sender import AttemptResult, Sender, Timeouts

BODY = b'{"type": "call.completed"}'


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and hooks.test: (certificate, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("hooks.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def make_sender(
    *, public_backend: AsyncioBackend | None = None, ssl_context: ssl.SSLContext | None = None
) -> Sender:
    return Sender.pooled(
        connections=4,
        timeouts=Timeouts(2.0, 2.0, 5.0),
        response_cap=1024,
        public_backend=public_backend,
        ssl_context=ssl_context,
    )


async def no_redirects(url: str) -> str | None:
    return "no redirects here"


async def post(sender: Sender, url: str, *, trusted: bool) -> AttemptResult:
    return await sender.send(
        fmt="native",
        url=url,
        content=BODY,
        headers={"Content-Type": "application/json"},
        trusted=lambda _url: trusted,
        check_redirect=no_redirects,
    )


class Resolver:
    """Answers from a table, in turn when a name has several answers; counts the questions."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        answers = self.table[host]
        return answers[(self.asked.count(host) - 1) % len(answers)]


def _http_reply(body: bytes, *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\n%bContent-Length: %d\r\n\r\n%b" % (extra, len(body), body)


def test_the_address_checked_is_the_address_connected() -> None:
    # The name rebinds on every lookup: 127.0.0.1 plays a public address, 127.0.0.2 (where a
    # decoy listens on the same port) a private one. Each connection resolves once and goes
    # where that answer said, or nowhere: the decoy never sees a connection.
    resolver = Resolver({"hooks.test": [["127.0.0.1"], ["127.0.0.2"]]})
    backend = AsyncioBackend(allowed=lambda a: a == "127.0.0.1", resolve=resolver)

    async def main() -> tuple[list[AttemptResult], list[bytes], int]:
        heads: list[bytes] = []
        decoy_hits = 0

        async def real(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            await reader.readexactly(len(BODY))
            writer.write(_http_reply(b"success", close=True))
            writer.close()

        async def decoy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal decoy_hits
            decoy_hits += 1
            writer.write(_http_reply(b"success", close=True))
            writer.close()

        server = await asyncio.start_server(real, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        decoy_server = await asyncio.start_server(decoy, "127.0.0.2", port)
        sender = make_sender(public_backend=backend)
        try:
            results = [
                await post(sender, f"http://hooks.test:{port}/pin/{i}", trusted=False)
                for i in range(4)
            ]
        finally:
            await sender.aclose()
            server.close()
            decoy_server.close()
        return results, heads, decoy_hits

    results, heads, decoy_hits = asyncio.run(main())
    assert [r.ok for r in results] == [True, False, True, False], results
    assert all(r.permanent for r in results[1::2])
    assert decoy_hits == 0
    assert resolver.asked == ["hooks.test"] * 4  # one lookup per connection, no second one
    assert [h.split(b"\r\n")[0] for h in heads] == [
        b"POST /pin/0 HTTP/1.1",
        b"POST /pin/2 HTTP/1.1",
    ]
    assert all(b"Host: hooks.test:" in h for h in heads)


def test_a_kept_alive_connection_is_not_resolved_again() -> None:
    resolver = Resolver({"hooks.test": [["127.0.0.1"]]})
    backend = AsyncioBackend(allowed=lambda a: a == "127.0.0.1", resolve=resolver)

    async def main(base: str) -> list[AttemptResult]:
        sender = make_sender(public_backend=backend)
        port = base.rsplit(":", 1)[1]
        try:
            return [
                await post(sender, f"http://hooks.test:{port}/alive/{i}", trusted=False)
                for i in range(3)
            ]
        finally:
            await sender.aclose()

    with running_receiver() as rx:
        results = asyncio.run(main(rx.base_url))
        got = rx.received("/alive/")
    assert [r.ok for r in results] == [True] * 3, results
    assert [r.body for r in got] == [BODY] * 3
    assert resolver.asked == ["hooks.test"]


def test_a_host_with_any_private_address_is_refused_for_good_before_connecting() -> None:
    # 127.0.0.1 stands for a public address, 127.0.0.2 for a private one (nothing may
    # leave this machine); the default backend refuses what really is private
    resolver = Resolver({"hooks.test": [["127.0.0.1", "127.0.0.2"]]})
    backend = AsyncioBackend(allowed=lambda a: a == "127.0.0.1", resolve=resolver)

    async def main() -> tuple[AttemptResult, AttemptResult]:
        sender, default = make_sender(public_backend=backend), make_sender()
        try:
            named = await post(sender, "http://hooks.test:8080/x", trusted=False)
            # the system resolver, for a name that means loopback
            local = await post(default, "http://localhost:9/x", trusted=False)
            return named, local
        finally:
            await sender.aclose()
            await default.aclose()

    named, local = asyncio.run(main())
    assert named.permanent and not named.ok
    assert named.error == (
        "target refused: host hooks.test resolves to a non-public address (127.0.0.2)"
    )
    assert local.permanent and local.error is not None
    assert "localhost resolves to a non-public address" in local.error


def test_https_with_the_certificate_checked(cert: tuple[str, str]) -> None:
    async def main(base: str) -> tuple[AttemptResult, AttemptResult]:
        trusting = make_sender(ssl_context=ssl.create_default_context(cafile=cert[0]))
        system = make_sender()
        try:
            ok = await post(trusting, f"{base}/tls/ok", trusted=True)
            refused = await post(system, f"{base}/tls/unknown-ca", trusted=True)
            return ok, refused
        finally:
            await trusting.aclose()
            await system.aclose()

    with running_receiver(tls=cert) as rx:
        assert rx.base_url.startswith("https://")
        ok, refused = asyncio.run(main(rx.base_url))
        got = rx.received("/tls/")
    assert ok.ok and ok.status_code == 200 and ok.response_head == "success"
    assert not refused.ok and not refused.permanent  # a certificate can be fixed
    assert refused.error is not None and "CERTIFICATE_VERIFY_FAILED" in refused.error
    assert [r.path for r in got] == ["/tls/ok"]


class H2Receiver(asyncio.Protocol):
    """An HTTP/2-only server (TLS with ALPN ``h2``): answers each request ``success``."""

    requests: list[tuple[dict[bytes, bytes], bytes]]

    def __init__(self, requests: list[tuple[dict[bytes, bytes], bytes]]) -> None:
        self.requests = requests
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        self.bodies: dict[int, bytes] = {}
        self.heads: dict[int, dict[bytes, bytes]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.heads[event.stream_id] = {bytes(k): bytes(v) for k, v in event.headers}
                self.bodies[event.stream_id] = b""
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                self.bodies[event.stream_id] += event.data
            elif isinstance(event, h2.events.StreamEnded):
                sid = event.stream_id
                self.requests.append((self.heads[sid], self.bodies[sid]))
                self.conn.send_headers(sid, [(":status", "200"), ("content-length", "7")])
                self.conn.send_data(sid, b"success", end_stream=True)
        self.transport.write(self.conn.data_to_send())


def test_http2_is_negotiated_over_tls(cert: tuple[str, str]) -> None:
    async def main() -> tuple[list[AttemptResult], list[tuple[dict[bytes, bytes], bytes]]]:
        server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_tls.load_cert_chain(*cert)
        server_tls.set_alpn_protocols(["h2"])
        requests: list[tuple[dict[bytes, bytes], bytes]] = []
        server = await asyncio.get_running_loop().create_server(
            lambda: H2Receiver(requests), "127.0.0.1", 0, ssl=server_tls
        )
        port = server.sockets[0].getsockname()[1]
        sender = make_sender(ssl_context=ssl.create_default_context(cafile=cert[0]))
        try:
            results = await asyncio.gather(
                *(post(sender, f"https://127.0.0.1:{port}/h2/{i}", trusted=True) for i in range(4))
            )
        finally:
            await sender.aclose()
            server.close()
        return list(results), requests

    results, requests = asyncio.run(main())
    assert [r.ok for r in results] == [True] * 4, results
    assert sorted(h[b":path"] for h, _ in requests) == [b"/h2/0", b"/h2/1", b"/h2/2", b"/h2/3"]
    assert {body for _, body in requests} == {BODY}
    assert {h[b":method"] for h, _ in requests} == {b"POST"}


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    # The server answers keep-alive, then closes each connection 50 ms later. The next
    # attempt must notice (the socket reads as readable) and open a new connection.
    async def main() -> tuple[list[AttemptResult], int]:
        connections = 0

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(len(BODY))
            writer.write(_http_reply(b"success"))
            await asyncio.sleep(0.05)
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sender = make_sender()
        try:
            results = []
            for i in range(3):
                results.append(await post(sender, f"http://127.0.0.1:{port}/c/{i}", trusted=True))
                await asyncio.sleep(0.2)
        finally:
            await sender.aclose()
            server.close()
        return results, connections

    results, connections = asyncio.run(main())
    assert [r.ok for r in results] == [True] * 3, results
    assert connections == 3


def test_a_flooding_peer_is_buffered_up_to_the_high_water_mark_then_read_in_full() -> None:
    size = 16 * HIGH_WATER

    async def main() -> tuple[int, int]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"x" * size)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2)
        total = 0
        try:
            await asyncio.sleep(0.3)  # the server writes all it can; nobody reads
            buffered = len(stream._conn.buffer)  # type: ignore[attr-defined]
            while chunk := await stream.read(65536, timeout=2):
                total += len(chunk)
        finally:
            await stream.aclose()
            server.close()
        return buffered, total

    buffered, total = asyncio.run(main())
    assert HIGH_WATER <= buffered < 2 * HIGH_WATER
    assert total == size


def test_a_host_name_that_cannot_be_encoded_fails_the_attempt_for_good() -> None:
    # a label over 63 octets: the idna codec refuses it before any lookup; it was an
    # exception out of send() instead of an attempt that failed
    async def main() -> list[AttemptResult]:
        sender = make_sender()
        try:
            host = "a" * 64 + ".example"
            return [
                await post(sender, f"http://{host}/hook", trusted=trusted)
                for trusted in (False, True)
            ]
        finally:
            await sender.aclose()

    for result in asyncio.run(main()):
        assert not result.ok and result.permanent, result
        assert result.error is not None and "host" in result.error, result
