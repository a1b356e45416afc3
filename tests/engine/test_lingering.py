"""A finished server transaction lingers as its key, its echo and its last timer.

A raw UDP caller places a call to an engine, which answers; the caller hangs up. The
engine's transactions for the call then no longer hold the parsed messages, yet each
retransmission still gets what RFC 3261 says: the BYE's 200 again, nothing for the
INVITE, 481 for a CANCEL of it.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref

import pytest

from voxgate.engine import Engine, EngineConfig, InboundLeg, Trunk
from voxgate.engine.endpoint import ServerTxn
from voxgate.sip.message import SipRequest, SipResponse, parse_message
from voxgate.sip.transaction import Timers

pytestmark = pytest.mark.timeout(30)

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


class Caller:
    def __init__(self, engine_port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.target = ("127.0.0.1", engine_port)
        self.to_tag = ""

    def request(self, method: str, branch: str, cseq: int, body: str = "") -> bytes:
        to = "<sip:100@127.0.0.1>" + (f";tag={self.to_tag}" if self.to_tag else "")
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        return (
            f"{method} sip:100@127.0.0.1:{self.target[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{branch}\r\n"
            f"From: <sip:200@127.0.0.1>;tag=caller1\r\nTo: {to}\r\nCall-ID: linger-1\r\n"
            f"CSeq: {cseq} {method}\r\nContact: <sip:200@127.0.0.1:{self.port}>\r\n"
            f"Max-Forwards: 70\r\n{ctype}Content-Length: {len(body)}\r\n\r\n{body}"
        ).encode()

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendto(self.sock, data, self.target)

    async def final(self) -> SipResponse:
        while True:
            data = await asyncio.wait_for(
                asyncio.get_running_loop().sock_recv(self.sock, 65536), 2.0
            )
            msg = parse_message(data)
            if isinstance(msg, SipResponse) and msg.status >= 200:
                return msg

    async def nothing(self, within: float = 0.3) -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.get_running_loop().sock_recv(self.sock, 65536), within)


async def test_a_finished_call_lingers_small_and_still_answers_retransmissions() -> None:
    config = EngineConfig(accept_any_source=True)
    async with Engine(config) as engine:

        async def answer(leg: InboundLeg) -> None:
            await leg.answer()
            await leg.wait_ended(10)

        server = asyncio.create_task(engine.serve_incoming(answer))
        caller = Caller(engine.port())
        try:
            invite = caller.request("INVITE", "inv1", 1, SDP.format(port=caller.port + 2))
            await caller.send(invite)
            ok = await caller.final()
            assert ok.status == 200
            caller.to_tag = ok.to.tag or ""
            await caller.send(caller.request("ACK", "ack1", 1))
            bye = caller.request("BYE", "bye1", 2)
            await caller.send(bye)
            bye_ok = await caller.final()
            assert bye_ok.status == 200 and bye_ok.cseq.method == "BYE"
            await asyncio.sleep(0.1)

            table = engine.endpoint._server
            assert len(table) == 2 and all(isinstance(e, tuple) for e in table.values())
            # neither the table nor the timer heap keeps the transactions themselves
            assert not any(isinstance(o, ServerTxn) for o in engine.heap._due)
            # what lingers is plain values: once seen, the garbage collector no longer
            # walks it (at a thousand calls a second, 32 s of it is most of the heap);
            # a tuple holding a tuple may take a second collection to be let go
            gc.collect()
            gc.collect()
            assert not any(gc.is_tracked(e) for e in table.values())
            entries = engine.endpoint.traces["linger-1"]._entries
            assert len(entries) == 5 and not any(gc.is_tracked(e) for e in entries)

            await caller.send(bye)  # a retransmitted BYE: the same 200 again
            again = await caller.final()
            assert again.to_bytes() == bye_ok.to_bytes()
            await caller.send(invite)  # a retransmitted INVITE after the ACK: absorbed
            await caller.nothing()
            cancel = caller.request("CANCEL", "inv1", 1)
            await caller.send(cancel)  # too late to cancel
            assert (await caller.final()).status == 481
        finally:
            server.cancel()
            caller.sock.close()


async def test_lingering_ends_with_the_transactions_last_timer() -> None:
    fast = Timers(t1=0.01, t2=0.04, t4=0.05)  # Timer J = 64 * T1 = 0.64 s
    async with Engine(EngineConfig(accept_any_source=True, timers=fast)) as engine:
        caller = Caller(engine.port())
        try:
            options = caller.request("OPTIONS", "opt1", 1)
            await caller.send(options)
            assert (await caller.final()).status == 200
            await asyncio.sleep(0.05)
            (entry,) = engine.endpoint._server.values()
            assert isinstance(entry, tuple)  # lingering
            await asyncio.sleep(0.8)
            assert not engine.endpoint._server  # gone with Timer J
        finally:
            caller.sock.close()


class Callee:
    """A raw UDP peer that answers one INVITE itself."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.engine: tuple[str, int] = ("127.0.0.1", 0)

    async def request(self, method: str) -> tuple[SipRequest, bytes]:
        loop = asyncio.get_running_loop()
        while True:
            data, self.engine = await asyncio.wait_for(loop.sock_recvfrom(self.sock, 65536), 2)
            msg = parse_message(data)
            if isinstance(msg, SipRequest) and msg.method == method:
                return msg, data

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendto(self.sock, data, self.engine)

    def ok(self, request: SipRequest, body: str = "") -> bytes:
        head = [
            "SIP/2.0 200 OK",
            *(f"Via: {via}" for via in request.headers.get_all("via")),
            f"From: {request.headers.get('from')}",
            f"To: {request.headers.get('to')}"
            + (";tag=callee1" if request.method == "INVITE" else ""),
            f"Call-ID: {request.call_id}",
            f"CSeq: {request.cseq.number} {request.method}",
            f"Contact: <sip:callee@127.0.0.1:{self.port}>",
        ]
        if body:
            head.append("Content-Type: application/sdp")
        head.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


async def test_an_ended_outbound_call_is_freed_and_a_retransmitted_2xx_still_acked() -> None:
    # the INVITE transaction outlives the call by up to 32 s (RFC 6026); the leg does not
    callee = Callee()
    async with Engine(EngineConfig(transports=("udp",))) as engine:
        try:
            leg = await engine.dial("100", trunk=Trunk("127.0.0.1", callee.port), ring_timeout=5)
            invite, _ = await callee.request("INVITE")
            ok = callee.ok(invite, SDP.format(port=callee.port + 2))
            await callee.send(ok)
            _, ack = await callee.request("ACK")
            assert await leg.wait_answered(2)
            await leg.hangup()
            bye, _ = await callee.request("BYE")
            await callee.send(callee.ok(bye))
            await leg.wait_ended(2)
            await asyncio.sleep(0.05)
            gc.collect()
            gc.disable()
            try:
                gone = weakref.ref(leg)
                del leg
                await asyncio.sleep(0)
                assert gone() is None
            finally:
                gc.enable()
            await callee.send(ok)  # our ACK was lost, as far as the callee knows
            _, again = await callee.request("ACK")
            assert again == ack
        finally:
            callee.sock.close()
