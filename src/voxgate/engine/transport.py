"""SIP transports: UDP datagrams and TCP streams (framed with ``sip.StreamFramer``).

A transport only moves bytes. Every complete message goes to the endpoint's
``on_message(data, source, transport)`` (over UDP by way of the engine, which first
sees how long the datagram waited: see ``engine.overload``); the endpoint parses it,
answers errors and never lets an exception reach the event loop. Over TCP a message to
an address with no open connection opens one; responses go back over the connection the
request came on.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections.abc import Callable
from typing import Protocol

from voxgate.engine.shed_filter import drop_shed_acks
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


# Linux's SO_TIMESTAMPNS (not exported by the socket module): the kernel stamps each
# datagram with its receive time, so we know how long it waited for us.
SO_TIMESTAMPNS = 35
_STAMP = struct.Struct("qq")
_ANCILLARY = socket.CMSG_SPACE(_STAMP.size)
READ_BATCH = 64  # datagrams read per readiness callback before other work gets a turn
MAX_DATAGRAM = 65535

DatagramHandler = Callable[[bytes, Addr, "UdpTransport", float], None]


SO_RCVBUFFORCE = 33  # Linux: past net.core.rmem_max, allowed with CAP_NET_ADMIN


def _ask_receive_buffer(sock: socket.socket, size: int) -> None:
    """Ask for ``size`` bytes of receive queue (Linux grants twice that, for its own
    bookkeeping); past ``net.core.rmem_max`` only a privileged process gets it."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 2 * size:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except OSError:
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        log.warning(
            "the SIP socket got %d bytes of receive queue, not the %d asked for: "
            "raise net.core.rmem_max so bursts wait instead of being dropped",
            granted // 2,
            size,
            extra={"action": "sip_receive_buffer_small"},
        )


class UdpTransport:
    """A UDP socket read in batches straight from the event loop's selector.

    Each datagram goes to ``on_datagram(data, source, transport, waited)`` with the
    seconds it waited in the socket's receive queue. With ``reuse_port`` several
    processes bind the same address and the kernel spreads peers over them. Datagrams
    sent during one pass of the event loop go out together after it (``send``).
    """

    name = "UDP"
    reliable = False

    def __init__(self, sock: socket.socket, on_datagram: DatagramHandler) -> None:
        self._sock = sock
        # what the kernel granted (twice what was asked, at most twice net.core.rmem_max)
        self.receive_buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self._on_datagram = on_datagram
        self._loop = asyncio.get_running_loop()
        name = sock.getsockname()
        self.local: Addr = (str(name[0]), int(name[1]))
        self.received = 0
        self.send_errors = 0
        self._pending: list[tuple[bytes, Addr]] = []  # sends of this pass of the loop
        self._stamped = True
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            self._stamped = False
        self._loop.add_reader(sock.fileno(), self._read_ready)

    @classmethod
    async def bind(
        cls,
        host: str,
        port: int,
        on_datagram: DatagramHandler,
        *,
        reuse_port: bool = False,
        receive_buffer: int = 0,
    ) -> UdpTransport:
        """``receive_buffer``: bytes of receive queue to ask the kernel for (0: its default),
        so a burst or a pause waits in the queue instead of being dropped."""
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
        )
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if receive_buffer:
                _ask_receive_buffer(sock, receive_buffer)
            sock.setblocking(False)
            sock.bind(address)
        except OSError:
            sock.close()
            raise
        return cls(sock, on_datagram)

    def _read_ready(self) -> None:
        recvmsg, handle, sock = self._sock.recvmsg, self._on_datagram, self._sock
        clock, unpack = time.time, _STAMP.unpack_from
        for _ in range(READ_BATCH):
            try:
                data, ancillary, _flags, addr = recvmsg(MAX_DATAGRAM, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # an ICMP error reported on the socket
                log.debug("udp error: %s", exc, extra={"action": "sip_udp_error"})
                if sock.fileno() < 0:
                    return
                continue
            self.received += 1
            waited = 0.0
            if ancillary:  # the one control message asked for: the receive time
                level, kind, raw = ancillary[0]
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= 16:
                    sec, nsec = unpack(raw)
                    waited = max(0.0, clock() - sec - nsec * 1e-9)
            try:  # (host, port), also of an IPv6 source (host, port, flow info, scope)
                handle(data, addr if len(addr) == 2 else addr[:2], self, waited)
            except Exception:  # one bad datagram must not cost the rest of the batch
                log.exception("error handling a datagram", extra={"action": "sip_input_failed"})

    def drop_acks_tagged(self, prefix: bytes) -> int:
        """Have the kernel drop ACKs carrying a tag that starts with ``prefix`` (those of
        stateless refusals; see ``shed_filter``): the bytes of an ACK it searches, 0 if the
        kernel took no filter."""
        return drop_shed_acks(self._sock, prefix)

    def send(self, data: bytes, addr: Addr) -> None:
        """Queue a datagram; the datagrams of one pass of the event loop leave together,
        in order, right after it. A datagram on loopback is delivered in the sender's
        time, and one that wakes a sleeping receiver costs several times one that finds
        it awake: sent together, the first wakes the peer and the rest find it awake."""
        if not self._pending:
            self._loop.call_soon(self._send_pending)
        self._pending.append((data, addr))

    def _send_pending(self) -> None:
        pending, self._pending = self._pending, []
        if self._sock.fileno() < 0:
            return
        sendto = self._sock.sendto
        for data, addr in pending:
            try:
                sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                self.send_errors += 1  # the send buffer is full: SIP retransmits, like a loss
            except OSError as exc:
                self.send_errors += 1
                log.debug("udp send to %s failed: %s", addr, exc, extra={"action": "sip_udp_error"})
            except Exception:  # an address sendto refuses must not cost the rest
                self.send_errors += 1
                log.exception("udp send to %r failed", addr, extra={"action": "sip_send_failed"})

    def close(self) -> None:
        if self._sock.fileno() >= 0:
            self._send_pending()
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()

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
