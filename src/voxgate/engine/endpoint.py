"""The SIP endpoint: bytes in, transactions and dialogs driven, bytes out.

Every message from a transport is parsed here. Malformed input is answered as the
``RemoteProtocolError`` says (or dropped when no answer may be sent) and never raises
into the event loop. Responses go to their client transaction; requests to their server
transaction (retransmissions, the ACK of a non-2xx) or, when new, to the user agent
(the engine) with a fresh server transaction; CANCEL is matched to its INVITE here.
After each input the touched transaction's deadline is pushed on the one
:class:`~voxgate.engine.timers.TimerHeap`.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Callable
from typing import Literal, NamedTuple, Protocol

from voxgate.engine.timers import TimerHeap
from voxgate.engine.transport import Addr, SipTransport
from voxgate.sip.errors import LocalProtocolError, RemoteProtocolError
from voxgate.sip.events import Event, TransactionTerminated
from voxgate.sip.headers import apply_received
from voxgate.sip.message import (
    SipRequest,
    SipResponse,
    error_response,
    make_response,
    parse_message,
)
from voxgate.sip.transaction import (
    DEFAULT_TIMERS,
    ClientTransaction,
    ServerTransaction,
    Timers,
    invite_key_for_cancel,
    transaction_key,
)

log = logging.getLogger(__name__)

TxnEventHandler = Callable[[Event], None]


class TraceEntry(NamedTuple):
    """One message as sent or received."""

    at: float  # wall clock
    direction: Literal["in", "out"]
    transport: str
    addr: Addr
    data: bytes

    def render(self) -> str:
        stamp = (
            time.strftime("%H:%M:%S", time.gmtime(self.at)) + f".{int(self.at * 1e6) % 1000000:06d}"
        )
        arrow = "<-" if self.direction == "in" else "->"
        head = f"{stamp} {arrow} {self.transport} {self.addr[0]}:{self.addr[1]}"
        return head + "\n" + self.data.decode("utf-8", "replace")


class SipTrace:
    """The raw SIP messages of one call, with timestamps (exportable when a call fails).

    Kept as plain tuples, which the garbage collector stops walking once it has seen
    them: a trace outlives its call by 32 s, and at a thousand calls a second that is
    most of the heap."""

    __slots__ = ("_entries", "limit")

    def __init__(self, limit: int = 500) -> None:
        self.limit = limit
        self._entries: list[tuple[float, Literal["in", "out"], str, Addr, bytes]] = []

    def add(self, direction: Literal["in", "out"], transport: str, addr: Addr, data: bytes) -> None:
        if len(self._entries) < self.limit:
            self._entries.append((time.time(), direction, transport, addr, data))

    @property
    def entries(self) -> list[TraceEntry]:
        return [TraceEntry(*entry) for entry in self._entries]

    def render(self) -> str:
        return "\n".join(entry.render() for entry in self.entries)


class UserAgent(Protocol):
    def on_request(self, request: SipRequest, txn: ServerTxn) -> None: ...

    def on_ack(self, ack: SipRequest, source: Addr) -> None: ...

    def on_cancel(self, invite_txn: ServerTxn) -> None: ...


class _Record:
    """A transaction plus where its messages go; what the timer heap holds."""

    __slots__ = ("addr", "endpoint", "on_event", "transport", "txn")

    def __init__(
        self,
        endpoint: SipEndpoint,
        txn: ClientTransaction | ServerTransaction,
        transport: SipTransport,
        addr: Addr,
    ) -> None:
        self.endpoint = endpoint
        self.txn = txn
        self.transport = transport
        self.addr = addr
        self.on_event: TxnEventHandler | None = None

    def get_timer(self) -> float | None:
        return self.txn.get_timer()

    def handle_timer(self, now: float) -> None:
        self.txn.handle_timer(now)
        self.endpoint._flush(self)


class ClientTxn(_Record):
    __slots__ = ()

    def __init__(
        self,
        endpoint: SipEndpoint,
        txn: ClientTransaction,
        transport: SipTransport,
        addr: Addr,
        on_event: TxnEventHandler,
    ) -> None:
        super().__init__(endpoint, txn, transport, addr)
        self.on_event = on_event


class ServerTxn(_Record):
    __slots__ = ("request", "source")

    def __init__(
        self,
        endpoint: SipEndpoint,
        txn: ServerTransaction,
        transport: SipTransport,
        addr: Addr,
        source: Addr,
    ) -> None:
        super().__init__(endpoint, txn, transport, addr)
        self.request = txn.request
        self.source = source

    def respond(self, response: SipResponse) -> None:
        self.endpoint.respond(self, response)


# A server transaction reduced to what its absorbing state still does (RFC 3261 §17.2:
# non-INVITE Completed, INVITE Confirmed): answer a retransmitted request with its echo,
# if any, until the last timer. It replaces the transaction in the table so the request,
# the responses and the parsed views are freed at once. A plain tuple (until, call id,
# echo, address), on no timer of its own (the endpoint's lingering queue ends it): the
# garbage collector stops walking a tuple of plain values once it has seen it, where
# answered calls would otherwise leave objects behind for 32 s that every full
# collection walks.
Lingering = tuple[float, str, bytes | None, Addr]


class _LingeringQueue:
    """When each lingering transaction ends: one entry on the timer heap for all of them,
    its queue a heap of plain tuples (not walked by the garbage collector either)."""

    __slots__ = ("_queue", "_table")

    def __init__(self, table: dict[tuple[str, ...], ServerTxn | Lingering]) -> None:
        self._table = table
        self._queue: list[tuple[float, tuple[str, ...]]] = []

    def add(self, key: tuple[str, ...], until: float) -> None:
        heapq.heappush(self._queue, (until, key))

    def get_timer(self) -> float | None:
        return self._queue[0][0] if self._queue else None

    def handle_timer(self, now: float) -> None:
        queue, table = self._queue, self._table
        while queue and queue[0][0] <= now:
            until, key = heapq.heappop(queue)
            entry = table.get(key)
            if isinstance(entry, tuple) and entry[0] == until:
                del table[key]


class SipEndpoint:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        timers: Timers = DEFAULT_TIMERS,
        heap: TimerHeap | None = None,
    ) -> None:
        self.loop = loop
        self.timers = timers
        self.heap = heap or TimerHeap(loop)
        self.user_agent: UserAgent | None = None
        self._client: dict[tuple[str, ...], ClientTxn] = {}
        self._server: dict[tuple[str, ...], ServerTxn | Lingering] = {}
        self._lingering = _LingeringQueue(self._server)
        self.traces: dict[str, SipTrace] = {}
        self.malformed = 0
        self.stray = 0

    def __repr__(self) -> str:
        return (
            f"<SipEndpoint client={len(self._client)} server={len(self._server)} "
            f"malformed={self.malformed} stray={self.stray}>"
        )

    # -- input ----------------------------------------------------------------------------
    def on_message(self, data: bytes, source: Addr, transport: SipTransport) -> None:
        """Transport callback: never raises."""
        try:
            self._on_message(data, source, transport)
        except Exception:
            log.exception("error handling a SIP message", extra={"action": "sip_input_failed"})

    def _on_message(self, data: bytes, source: Addr, transport: SipTransport) -> None:
        if not data.strip(b"\r\n\x00 "):
            return  # keep-alive
        try:
            msg = parse_message(data, stream=transport.reliable)
        except RemoteProtocolError as exc:
            self.malformed += 1
            log.debug("malformed from %s: %s", source, exc, extra={"action": "sip_malformed"})
            answer = error_response(exc)
            if answer is not None:
                transport.send(answer.to_bytes(), source)
            return
        self._trace(msg.call_id, "in", transport, source, data)
        now = self.loop.time()
        if isinstance(msg, SipResponse):
            self._on_response(msg, now)
        else:
            self._on_request(msg, source, transport, now)

    def _on_response(self, response: SipResponse, now: float) -> None:
        record = self._client.get(transaction_key(response))
        if record is None:
            self.stray += 1
            return
        assert isinstance(record.txn, ClientTransaction)
        record.txn.handle_response(response, now)
        self._flush(record)

    def _on_request(
        self, request: SipRequest, source: Addr, transport: SipTransport, now: float
    ) -> None:
        via = request.top_via
        updated = apply_received(via, source[0], source[1])
        if updated.params != via.params:
            request.headers.replace_first("Via", str(updated))
        key = transaction_key(request)
        record = self._server.get(key)
        if isinstance(record, tuple):  # lingering
            _, call_id, echo, addr = record
            if echo is not None and request.method != "ACK":
                self._trace(call_id, "out", transport, addr, echo)
                transport.send(echo, addr)
            return
        if record is not None:
            assert isinstance(record.txn, ServerTransaction)
            record.txn.handle_request(request, now)
            self._flush(record)
            return
        if request.method == "ACK":
            if self.user_agent is not None:
                self.user_agent.on_ack(request, source)
            return
        addr = source if transport.reliable else updated.response_address()
        txn = ServerTransaction(
            request,
            reliable=transport.reliable,
            now=now,
            timers=self.timers,
            send_trying=request.method == "INVITE" and not request.to.tag,
        )
        record = ServerTxn(self, txn, transport, addr, source)
        self._server[key] = record
        self._flush(record)
        if request.method == "CANCEL":
            self._on_cancel(request, record)
        elif self.user_agent is None:
            record.respond(make_response(request, 503))
        else:
            self.user_agent.on_request(request, record)

    def _on_cancel(self, cancel: SipRequest, record: ServerTxn) -> None:
        invite = self._server.get(invite_key_for_cancel(cancel))
        if (
            invite is None
            or isinstance(invite, tuple)  # lingering: answered and ACKed long since
            or (invite.txn.last_response is not None and invite.txn.last_response.status >= 200)
        ):
            record.respond(make_response(cancel, 481))
            return
        record.respond(make_response(cancel, 200))
        if self.user_agent is not None:
            self.user_agent.on_cancel(invite)

    # -- output ---------------------------------------------------------------------------
    def send_request(
        self,
        request: SipRequest,
        *,
        transport: SipTransport,
        addr: Addr,
        on_event: TxnEventHandler,
    ) -> ClientTxn:
        txn = ClientTransaction(
            request, reliable=transport.reliable, now=self.loop.time(), timers=self.timers
        )
        record = ClientTxn(self, txn, transport, addr, on_event)
        self._client[txn.key] = record
        self._flush(record)
        return record

    def send_stateless(
        self, msg: SipRequest | SipResponse, transport: SipTransport, addr: Addr
    ) -> None:
        data = msg.to_bytes()
        self._trace(msg.call_id, "out", transport, addr, data)
        transport.send(data, addr)

    def respond(self, record: ServerTxn, response: SipResponse) -> None:
        assert isinstance(record.txn, ServerTransaction)
        try:
            record.txn.send_response(response, self.loop.time())
        except LocalProtocolError as exc:
            log.warning("response not sent: %s", exc, extra={"action": "sip_response_refused"})
            return
        self._flush(record)

    def deliver_ack(self, record: ServerTxn, ack: SipRequest) -> None:
        """The ACK of a 2xx (its own branch) for the INVITE transaction the dialog matched."""
        assert isinstance(record.txn, ServerTransaction)
        record.txn.handle_request(ack, self.loop.time())
        self._flush(record)

    def pending_clients(self, *, ignore: frozenset[str] = frozenset()) -> int:
        """Client transactions still waiting for a final response (but ``ignore``d methods)."""
        return sum(
            1
            for r in self._client.values()
            if r.txn.last_response is None and r.txn.request.method not in ignore
        )

    def transport_failed(self, addr: Addr) -> None:
        """A connection to ``addr`` could not be made: fail the transactions waiting on it."""
        now = self.loop.time()
        live = (r for r in self._server.values() if not isinstance(r, tuple))
        for record in [*self._client.values(), *live]:
            if record.addr == addr and record.transport.reliable:
                record.txn.handle_transport_error(now)
                self._flush(record)

    def _flush(self, record: _Record) -> None:
        txn = record.txn
        call_id = txn.request.call_id
        for data in txn.datagrams_to_send():
            self._trace(call_id, "out", record.transport, record.addr, data)
            record.transport.send(data, record.addr)
        while (event := txn.next_event()) is not None:
            if isinstance(event, TransactionTerminated):
                table = self._client if isinstance(record, ClientTxn) else self._server
                if table.get(txn.key) is record:
                    del table[txn.key]
            handler = record.on_event
            if handler is not None and not isinstance(event, TransactionTerminated):
                try:
                    handler(event)
                except Exception:
                    log.exception("transaction user failed", extra={"action": "sip_tu_failed"})
        if (
            isinstance(txn, ServerTransaction)
            and txn.absorbing
            and self._server.get(txn.key) is record
        ):
            # the record's pending heap entries are for earlier deadlines, so it is not
            # held long; its last deadline is the lingering queue's
            self.heap.discard(record)
            until = txn.get_timer()
            if until is None:
                del self._server[txn.key]
                return
            self._server[txn.key] = (until, call_id, txn.echo, record.addr)
            self._lingering.add(txn.key, until)
            self.heap.update(self._lingering)
            return
        self.heap.update(record)

    def _trace(
        self,
        call_id: str,
        direction: Literal["in", "out"],
        transport: SipTransport,
        addr: Addr,
        data: bytes,
    ) -> None:
        trace = self.traces.get(call_id)
        if trace is not None:
            trace.add(direction, transport.name, addr, data)
