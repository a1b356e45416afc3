"""The sockets under webhook attempts: an asyncio network backend for httpcore.

httpcore (the connection layer of httpx) reaches the network through a backend. Its default
runs on anyio, whose generic stream, cancel-scope and extra-attribute layers cost about a fifth
of an attempt's CPU here; this one is an ``asyncio.Protocol`` with a buffer, which is all an
HTTP connection needs.

It also decides where a connection may go. ``connect_tcp`` resolves the host once, checks
every address against ``allowed`` and connects to those same addresses: the address checked
is the address connected, so a DNS answer that changes between a check and the connect
(rebinding) cannot move a callback onto a private address. A name with any address
``allowed`` refuses raises :class:`TargetRefused`.
"""

# httpcore's backend interface passes each timeout as an argument
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore

Resolver = Callable[[str, int], Awaitable[list[str]]]

HIGH_WATER = 256 * 1024  # unread bytes buffered before the socket stops being read


class TargetRefused(httpcore.ConnectError):
    """The host resolves only to addresses this backend may not connect to."""


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _Connection(asyncio.Protocol):
    """Buffers what arrives; wakes the one reader or writer waiting."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False  # EOF or connection lost
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.read_waiter: asyncio.Future[None] | None = None
        self.drain_waiter: asyncio.Future[None] | None = None

    @staticmethod
    def _wake(waiter: asyncio.Future[None] | None) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake(self.read_waiter)

    def eof_received(self) -> bool:
        self.closed = True
        self._wake(self.read_waiter)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._wake(self.read_waiter)
        self._wake(self.drain_waiter)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake(self.drain_waiter)

    def take(self, max_bytes: int) -> bytes:
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self.reading_paused and len(self.buffer) <= HIGH_WATER // 4:
            assert self.transport is not None
            self.reading_paused = False
            self.transport.resume_reading()
        return data


async def _wait(
    waiter: asyncio.Future[None],
    timeout: float | None,
    error: type[httpcore.TimeoutException],
    what: str,
) -> None:
    try:
        async with asyncio.timeout(timeout):
            await waiter
    except TimeoutError:
        raise error(f"{what} within {timeout}s") from None


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, connection: _Connection) -> None:
        self._transport = transport
        self._conn = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        conn = self._conn
        if not conn.buffer and not conn.closed:
            conn.read_waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(conn.read_waiter, timeout, httpcore.ReadTimeout, "no data")
            finally:
                conn.read_waiter = None
        if conn.buffer:
            return conn.take(max_bytes)
        if conn.error is not None:
            raise httpcore.ReadError(str(conn.error) or type(conn.error).__name__)
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        conn = self._conn
        if conn.closed or self._transport.is_closing():
            raise httpcore.WriteError("connection closed")
        self._transport.write(buffer)
        if conn.writing_paused:
            conn.drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(conn.drain_waiter, timeout, httpcore.WriteTimeout, "not written")
            finally:
                conn.drain_waiter = None
            if conn.error is not None:
                raise httpcore.WriteError(str(conn.error) or type(conn.error).__name__)

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self._conn, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"TLS handshake not done within {timeout}s") from None
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if transport is None:
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        assert isinstance(transport, asyncio.Transport)
        self._conn.transport = transport
        return AsyncioStream(transport, self._conn)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle connection the server closed or wrote to
            return bool(self._conn.buffer) or self._conn.closed
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connects to what ``allowed`` accepts (everything when it is None)."""

    def __init__(
        self,
        *,
        allowed: Callable[[str], bool] | None = None,
        resolve: Resolver = system_resolve,
    ) -> None:
        self._allowed = allowed
        self._resolve = resolve

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses a connection to ``host`` may use, in order; TargetRefused if any is
        not allowed."""
        literal = _literal(host)
        if literal is not None:
            found = [literal]
        else:
            try:
                found = await self._resolve(host, port)
            except (OSError, UnicodeError) as exc:  # UnicodeError: a name idna cannot encode
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
            if not found:
                raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        blocked = [a for a in found if self._allowed is not None and not self._allowed(a)]
        if blocked:  # one bad answer taints the name (as the media fetcher rules)
            raise TargetRefused(f"host {host} resolves to a non-public address ({blocked[0]})")
        return found

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                last: OSError | None = None
                for address in await self.addresses(host, port):
                    try:
                        sock = await _connected(address, port, local_address, socket_options)
                    except OSError as exc:
                        last = exc
                        continue
                    transport, conn = await loop.create_connection(_Connection, sock=sock)
                    return AsyncioStream(transport, conn)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"not connected within {timeout}s") from None
        assert last is not None
        raise httpcore.ConnectError(str(last) or type(last).__name__) from last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("callbacks go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connected(
    address: str,
    port: int,
    local_address: str | None,
    socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setblocking(False)
        # small writes go out at once (httpcore writes a request's head and body apart)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for option in socket_options or ():
            sock.setsockopt(*option)
        if local_address:
            sock.bind((local_address, 0))
        await asyncio.get_running_loop().sock_connect(sock, (address, port))
    except BaseException:
        sock.close()
        raise
    return sock
