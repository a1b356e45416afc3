"""SIP transports: UDP datagrams and TCP streams (framed with ``sip.StreamFramer``).

A transport only moves bytes. Every complete message goes to the endpoint's
``on_message(data, source, transport)``; the endpoint parses it, answers errors and
never lets an exception reach the event loop. Over TCP a message to an address with no
open connection opens one; responses go back over the connection the request came on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol, cast

from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.message import StreamFramer

log = logging.getLogger(__name__)

Addr = tuple[str, int]


class SipTransport(Protocol):
    name: str  # "UDP" or "TCP", as written in Via
    reliable: bool
    local: Addr

    def send(self, data: bytes, addr: Addr) -> None: ...

    def close(self) -> None: ...


MessageHandler = Callable[[bytes, Addr, SipTransport], None]
ErrorHandler = Callable[[Addr], None]


class UdpTransport(asyncio.DatagramProtocol):
    name = "UDP"
    reliable = False

    def __init__(self, on_message: MessageHandler) -> None:
        self._on_message = on_message
        self._transport: asyncio.DatagramTransport | None = None
        self.local: Addr = ("0.0.0.0", 0)
        self.received = 0

    @classmethod
    async def bind(cls, host: str, port: int, on_message: MessageHandler) -> UdpTransport:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(
            lambda: cls(on_message), local_addr=(host, port)
        )
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)
        sock = transport.get_extra_info("sockname")
        self.local = (sock[0], sock[1])

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.received += 1
        self._on_message(data, (str(addr[0]), int(addr[1])), self)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error: %s", exc, extra={"action": "sip_udp_error"})

    def send(self, data: bytes, addr: Addr) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, addr)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def __repr__(self) -> str:
        return f"<UdpTransport {self.local[0]}:{self.local[1]} received={self.received}>"


class _TcpConnection(asyncio.Protocol):
    def __init__(self, owner: TcpTransport, peer: Addr | None = None) -> None:
        self._owner = owner
        self._framer = StreamFramer()
        self._transport: asyncio.Transport | None = None
        self._pending: list[bytes] = []
        self.peer = peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self.peer is None:
            name = transport.get_extra_info("peername")
            self.peer = (str(name[0]), int(name[1]))
        self._owner._connections[self.peer] = self
        for data in self._pending:
            transport.write(data)
        self._pending.clear()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._framer.feed(data)
        except RemoteProtocolError as exc:
            log.info("closing TCP connection: %s", exc, extra={"action": "sip_tcp_framing"})
            self.close()
            return
        if self._framer.pings and self._transport is not None:
            self._transport.write(b"\r\n" * self._framer.pings)
            self._framer.pings = 0
        assert self.peer is not None
        for frame in frames:
            self._owner._on_message(frame, self.peer, self._owner)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self._owner._connections.get(self.peer) is self:
            del self._owner._connections[self.peer]

    def write(self, data: bytes) -> None:
        if self._transport is None:
            self._pending.append(data)
        elif not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class TcpTransport:
    name = "TCP"
    reliable = True

    def __init__(self, on_message: MessageHandler, on_error: ErrorHandler | None = None) -> None:
        self._on_message = on_message
        self._on_error = on_error
        self._server: asyncio.Server | None = None
        self._connections: dict[Addr, _TcpConnection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.local: Addr = ("0.0.0.0", 0)

    @classmethod
    async def bind(
        cls,
        host: str,
        port: int,
        on_message: MessageHandler,
        on_error: ErrorHandler | None = None,
    ) -> TcpTransport:
        self = cls(on_message, on_error)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _TcpConnection(self), host, port, reuse_address=True
        )
        sock = self._server.sockets[0].getsockname()
        self.local = (sock[0], sock[1])
        return self

    def send(self, data: bytes, addr: Addr) -> None:
        conn = self._connections.get(addr)
        if conn is None:
            conn = self._connections[addr] = _TcpConnection(self, addr)
            task = asyncio.get_running_loop().create_task(self._connect(conn, addr))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        conn.write(data)

    async def _connect(self, conn: _TcpConnection, addr: Addr) -> None:
        loop = asyncio.get_running_loop()
        host = self.local[0]
        # connect from the address we listen on (a peer that trusts or registered that
        # address sees it), unless we listen on every address
        local = None if host in ("0.0.0.0", "::") else (host, 0)
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: conn, addr[0], addr[1], local_addr=local), 10
            )
        except (OSError, TimeoutError) as exc:
            log.info("tcp connect to %s failed: %s", addr, exc, extra={"action": "sip_tcp_failed"})
            self._connections.pop(addr, None)
            if self._on_error is not None:
                self._on_error(addr)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections.values()):
            conn.close()
        for task in self._tasks:
            task.cancel()

    def __repr__(self) -> str:
        return (
            f"<TcpTransport {self.local[0]}:{self.local[1]} connections={len(self._connections)}>"
        )
