"""OPTIONS keep-alive towards trunks: up while the far end answers, down when it is gone."""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import replace

import pytest

from voxgate.engine import Engine, EngineConfig, Trunk, TrunkState
from voxgate.engine.testing import engine_pair
from voxgate.sip.transaction import Timers

pytestmark = pytest.mark.timeout(60)

# Timer F = 64 x T1 = 1.28 s: an unanswered OPTIONS times out quickly
FAST = EngineConfig(timers=Timers(t1=0.02, t2=0.08, t4=0.1))


async def wait_state(engine: Engine, trunk: Trunk, state: TrunkState, within: float) -> float:
    """Seconds it took ``trunk`` to reach ``state``; fails after ``within`` seconds."""
    start = engine.loop.time()
    while engine.trunk_state(trunk) != state:
        if engine.loop.time() - start > within:
            raise AssertionError(f"trunk still {engine.trunk_state(trunk)} after {within} s")
        await asyncio.sleep(0.02)
    return engine.loop.time() - start


def closed_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens here once the probe is closed


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_trunk_up_while_it_answers_then_down_when_it_goes(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="voxgate.engine.keepalive")
    async with engine_pair(FAST) as (a, b):
        trunk = replace(b.trunk_to_me(transport), keepalive=0.2)
        plain = b.trunk_to_me(transport)  # no keep-alive: never probed
        a.trunks[:] = [trunk, plain]
        assert a.trunk_state(trunk) == "unknown"
        await wait_state(a, trunk, "up", 2)
        assert a.trunk_state(plain) == "unknown"
        monitor = a.trunk_monitors.get(trunk)
        assert monitor is not None and monitor.last_status == 200
        assert list(a.trunk_monitors) == [trunk]
        await asyncio.sleep(0.5)
        assert monitor.probes >= 3  # at once, then every 0.2 s
        await b.close()  # the far end goes away
        # UDP: no answer within Timer F; TCP: the connection is refused
        took = await wait_state(a, trunk, "down", 4)
        if transport == "tcp":
            assert took < 1.0
        await asyncio.sleep(0.5)  # more probes fail: the change is logged once
        changes = [(r.levelname, getattr(r, "action", "")) for r in caplog.records]
        assert changes == [("INFO", "trunk_up"), ("WARNING", "trunk_down")]
        # a trunk taken out of the list is no longer probed
        a.trunks.remove(trunk)
        assert a.trunk_state(trunk) == "unknown" and a.trunk_monitors.get(trunk) is None
        assert monitor._stopped


async def test_trunk_comes_back_up() -> None:
    async with Engine(FAST) as a:
        port = closed_port(socket.SOCK_DGRAM)
        trunk = Trunk("127.0.0.1", port, keepalive=0.2)
        a.trunks.append(trunk)
        await wait_state(a, trunk, "down", 4)  # nothing listens: Timer F fires
        # UDP only: the port was free for UDP, and its TCP twin may since have become
        # some connection's ephemeral port
        async with Engine(replace(FAST, sip_port=port, transports=("udp",))):
            await wait_state(a, trunk, "up", 4)


async def test_any_final_response_means_up() -> None:
    """A far end that answers OPTIONS with an error is still alive."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)

    async def answer_405() -> None:
        while True:
            data, addr = await loop.sock_recvfrom(sock, 65535)
            head = data.decode().split("\r\n\r\n")[0].split("\r\n")[1:]
            keep = [
                h
                for h in head
                if h.split(":")[0].lower() in ("via", "from", "to", "call-id", "cseq")
            ]
            reply = "SIP/2.0 405 Method Not Allowed\r\n" + "\r\n".join(keep)
            await loop.sock_sendto(sock, (reply + "\r\nContent-Length: 0\r\n\r\n").encode(), addr)

    server = asyncio.ensure_future(answer_405())
    try:
        async with Engine(FAST) as a:
            trunk = Trunk("127.0.0.1", sock.getsockname()[1], keepalive=0.2)
            a.trunks.append(trunk)
            await wait_state(a, trunk, "up", 2)
            monitor = a.trunk_monitors.get(trunk)
            assert monitor is not None and monitor.last_status == 405
    finally:
        server.cancel()
        sock.close()


async def test_unresolvable_trunk_is_down() -> None:
    async with Engine(FAST) as a:
        trunk = Trunk("trunk.invalid", 5060, keepalive=0.2)
        a.trunks.append(trunk)
        await wait_state(a, trunk, "down", 10)
