"""The kernel filter dropping the ACKs of stateless refusals: run by the real kernel on a
real socket, and through an engine refusing a real INVITE."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from tests.engine.test_lingering import SDP, Caller
from voxgate.engine import Engine, EngineConfig
from voxgate.engine.engine import SHED_TAG
from voxgate.engine.shed_filter import UDP_HEADER, WINDOWS, attach, drop_shed_acks, shed_ack_program


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    yield sock
    sock.close()


def passes(receiver: socket.socket, data: bytes) -> bool:
    """Whether ``data`` sent to ``receiver`` gets through its filter (loopback loses none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(data, receiver.getsockname())
        sender.sendto(b"MARK", receiver.getsockname())  # what follows it always passes
    first = receiver.recv(4096)
    if first == b"MARK":
        return False
    assert (first, receiver.recv(4096)) == (data, b"MARK")
    return True


def ack(to_tag: bytes, *, uri_pad: int = 0) -> bytes:
    """An ACK like SIPp's for a refused INVITE; ``uri_pad`` shifts where its To tag falls."""
    return (
        b"ACK sip:100" + b"0" * uri_pad + b"@127.0.0.1:5060 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-1-0\r\n"
        b"From: sipp <sip:sipp@127.0.0.1:5061>;tag=1SIPpTag001\r\n"
        b"To: <sip:100@127.0.0.1:5060>;tag=" + to_tag + b"\r\n"
        b"Call-ID: 1-1@127.0.0.1\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )


def test_the_ack_of_a_refusal_is_dropped_wherever_its_tag_falls(receiver: socket.socket) -> None:
    window = drop_shed_acks(receiver, SHED_TAG)
    assert window == WINDOWS[0], "the widest filter refused: raise net.core.optmem_max"
    for pad in range(8):  # every alignment of the tag against the filter's word loads
        assert not passes(receiver, ack(SHED_TAG + b"0a1b2c", uri_pad=pad)), pad
    for start in range(4, 8):  # the needle right after "ACK ", at each alignment
        assert not passes(receiver, b"ACK " + b"x" * (start - 4) + b"tag=" + SHED_TAG)


def test_everything_else_gets_through(receiver: socket.socket) -> None:
    drop_shed_acks(receiver, SHED_TAG)
    others = [
        ack(b"9f3a0c11d2e4"),  # the ACK of a call we answered
        ack(SHED_TAG).replace(b"ACK ", b"INVITE ", 1),  # not an ACK
        ack(SHED_TAG).replace(b";tag=", b";TAG="),  # upper case: the engine tells it
        ack(b"x" + SHED_TAG),  # the prefix, not at the tag's start
        ack(b"vxshe"),  # the prefix cut short
        b"ACK " + b"x" * 100 + b"=vxshed",  # an anchor the verifier rejects: no tag=
        b"ACK tag=vxshe",  # the pattern would run past the end
        b"ACK " + b"x" * 1200 + b";tag=" + SHED_TAG + b"1\r\n\r\n",  # past the window
        b"",
        b"A",
        b"ACK",
        b"ACK ",
        b"\r\n\r\n",
    ]
    for data in others:
        assert passes(receiver, data), data


def test_the_search_stops_at_an_anchor_that_does_not_verify(receiver: socket.socket) -> None:
    """ "shed" in the branch, where a word load sees it whole, ends the search there: the
    ACK is passed, and the engine recognises it itself. Elsewhere it is no anchor."""
    drop_shed_acks(receiver, SHED_TAG)
    seen = set()
    for pad in range(4):
        data = ack(SHED_TAG + b"0a1b2c").replace(
            b"z9hG4bK-1-1-0", b"z9hG4bK" + b"y" * pad + b"shed"
        )
        aligned = (data.find(b"shed") + UDP_HEADER) % 4 == 0
        assert passes(receiver, data) == aligned, pad
        seen.add(aligned)
    assert seen == {True, False}


def test_each_window_builds_and_the_kernel_takes_it(receiver: socket.socket) -> None:
    """The fallbacks are real programs too: each drops at its own window's edge."""
    for window in WINDOWS:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(0.2)
            attach(sock, shed_ack_program(SHED_TAG, window=window))
            inside = b"ACK " + b"x" * (window - 20) + b"tag=" + SHED_TAG
            outside = b"ACK " + b"x" * (window + 8) + b"tag=" + SHED_TAG
            assert not passes(sock, inside), window
            assert passes(sock, outside), window


def test_a_prefix_too_short_to_tell_apart_is_refused() -> None:
    with pytest.raises(ValueError, match="6 bytes"):
        shed_ack_program(b"vx", window=256)


async def test_an_engine_never_reads_the_ack_of_its_refusal() -> None:
    async with Engine(EngineConfig(accept_any_source=True)) as engine:
        assert engine.shed_filter_window == WINDOWS[0]
        udp = engine.transports["UDP"]
        caller = Caller(engine.port())
        try:
            engine.admission.target = 1e-6  # every new INVITE waited too long
            invite = caller.request("INVITE", "refused1", 1, SDP.format(port=caller.port + 2))
            await caller.send(invite)
            refusal = await caller.final()
            assert refusal.status == 503 and (refusal.to.tag or "").startswith("vxshed")
            read = udp.received
            caller.to_tag = refusal.to.tag or ""
            await caller.send(caller.request("ACK", "refused1", 1))
            caller.to_tag = ""
            await caller.send(caller.request("OPTIONS", "opt1", 2))  # read, and answered
            assert (await caller.final()).status == 200
            assert udp.received == read + 1  # the OPTIONS only
        finally:
            caller.sock.close()


async def test_an_engine_without_overload_control_keeps_no_filter() -> None:
    async with Engine(EngineConfig(shed_delay=0.0, accept_any_source=True)) as engine:
        assert engine.shed_filter_window == 0
        await asyncio.sleep(0)


def test_an_ipv6_socket_sees_the_same_offsets() -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(("::1", 0))
        sock.settimeout(0.2)
        assert drop_shed_acks(sock, SHED_TAG) == WINDOWS[0]
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sender:
            sender.sendto(ack(SHED_TAG + b"0a1b2c"), sock.getsockname())
            sender.sendto(ack(b"9f3a0c11d2e4"), sock.getsockname())
        assert sock.recv(4096) == ack(b"9f3a0c11d2e4")
        with pytest.raises(TimeoutError):
            sock.recv(4096)
