"""The SIP UDP socket holds a burst that arrives while the engine is busy, and sends what
one pass of the event loop sends together."""

from __future__ import annotations

import asyncio
import socket

from voxgate.engine import EngineConfig
from voxgate.engine.transport import Addr, UdpTransport

BURST = 3000  # datagrams of the size of an INVITE, sent while the loop is blocked
SIZE = 900


def kernel_default() -> int:
    with open("/proc/sys/net/core/rmem_default") as f:
        return int(f.read())


async def _received_after_a_pause(receive_buffer: int) -> tuple[int, int]:
    got: list[float] = []

    def on_datagram(data: bytes, source: Addr, transport: UdpTransport, waited: float) -> None:
        got.append(waited)

    udp = await UdpTransport.bind("127.0.0.1", 0, on_datagram, receive_buffer=receive_buffer)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        payload = b"x" * SIZE
        for _ in range(BURST):  # the loop is not running meanwhile: a pause, as in a GC
            sender.sendto(payload, udp.local)
        seen = -1
        while len(got) != seen:  # the loop runs again: read until nothing more comes
            seen = len(got)
            await asyncio.sleep(0.1)
        return len(got), udp.receive_buffer
    finally:
        sender.close()
        udp.close()


async def test_a_burst_during_a_pause_waits_in_the_socket_instead_of_being_dropped() -> None:
    asked = EngineConfig().sip_receive_buffer
    received, granted = await _received_after_a_pause(asked)
    assert granted >= 2 * asked, (
        f"the kernel granted {granted // 2} bytes of the {asked} asked for: "
        "raise net.core.rmem_max to at least that, or run as root (SO_RCVBUFFORCE)"
    )
    assert received == BURST
    # the burst is one the kernel's default queue drops most of: the test is not idle
    assert 2 * kernel_default() < BURST * SIZE
    received, _ = await _received_after_a_pause(0)
    assert received < BURST // 2


def _drain(sock: socket.socket) -> list[bytes]:
    got = []
    while True:
        try:
            got.append(sock.recv(2048))
        except BlockingIOError:
            return got


async def test_the_sends_of_one_pass_of_the_loop_leave_together_after_it_in_order() -> None:
    def ignore(data: bytes, source: Addr, transport: UdpTransport, waited: float) -> None:
        pass

    udp = await UdpTransport.bind("127.0.0.1", 0, ignore)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.setblocking(False)
    try:
        to: Addr = peer.getsockname()
        for i in range(5):
            udp.send(b"first pass %d" % i, to)
        assert _drain(peer) == []  # nothing left during the pass
        await asyncio.sleep(0)  # the pass ends; the next one sends
        await asyncio.sleep(0.05)
        assert _drain(peer) == [b"first pass %d" % i for i in range(5)]
        udp.send(b"nowhere", ("127.0.0.1", 70000))  # refused by sendto itself
        udp.send(b"after it", to)
        await asyncio.sleep(0.05)
        assert _drain(peer) == [b"after it"] and udp.send_errors == 1
        udp.send(b"sent by close", to)
        udp.close()  # what is queued leaves before the socket closes
        await asyncio.sleep(0.05)
        assert _drain(peer) == [b"sent by close"]
        await asyncio.sleep(0)  # the pass's own send finds the socket closed: no error
    finally:
        peer.close()
        udp.close()
