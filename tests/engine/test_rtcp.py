"""RTCP between two engines: reports both ways, loss and round trip, BYE at the end."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.engine.test_engine_pair import connect
from tests.engine.test_lingering import SDP, Caller
from voxgate.engine import Engine, EngineConfig, InboundLeg
from voxgate.engine.testing import engine_pair
from voxgate.rtp.rtcp import Bye, ReceiverReport, RtcpPacket, SenderReport, parse_rtcp

pytestmark = pytest.mark.timeout(30)

FAST = EngineConfig(rtcp_interval=0.2)  # reports every 0.1-0.3 s instead of 2.5-7.5 s


async def test_each_side_reports_what_it_received_and_measures_the_round_trip() -> None:
    async with engine_pair(FAST) as (a, b):
        out, inc = await connect(a, b)
        assert out.rtp.local[1] % 2 == 0  # RTP on the even port, RTCP on the one above
        await asyncio.sleep(1.5)  # silence flows both ways; several reports each
        for leg in (out, inc):
            quality = leg.rtp.quality()
            assert quality is not None
            assert quality.reports_sent >= 3 and quality.reports_received >= 3
            assert quality.packets_received >= 50 and quality.packets_lost == 0
            assert quality.peer_packets_lost == 0  # what the other side says of our stream
            assert quality.round_trip_ms is not None and 0 <= quality.round_trip_ms < 200
            assert quality.jitter_ms < 20
        await out.hangup()
        await inc.wait_ended(3)


async def test_without_rtcp_no_port_is_bound_for_it() -> None:
    async with engine_pair(EngineConfig(rtcp_interval=0)) as (a, b):
        out, _ = await connect(a, b)
        assert out.rtp.quality() is None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", out.rtp.local[1] + 1))  # free: nothing took it
        await out.hangup()
    async with engine_pair(EngineConfig(rtcp_interval=1.0)) as (a, b):
        out, _ = await connect(a, b)
        port = out.rtp.local[1] + 1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", port))  # not yet: a short call costs one socket
        assert out.rtp.rtcp is not None
        await asyncio.sleep(1.6)  # the first report (0.25 - 0.75 s) binds it
        assert out.rtp.rtcp.reports_sent
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, pytest.raises(OSError):
            probe.bind(("127.0.0.1", port))
        await out.hangup()


async def test_a_peer_gets_reports_on_the_port_above_its_rtp_and_a_bye_at_the_end() -> None:
    async with engine_pair(FAST) as (a, b):
        out, inc = await connect(a, b)
        # stand in for the caller's RTCP socket: close it, listen on its port ourselves
        port = out.rtp.local[1] + 1
        if out.rtp._rtcp_transport is not None:
            out.rtp._rtcp_transport.close()
        out.rtp.rtcp = None  # the caller reports no more and binds nothing
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", port))
        sink.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            first = parse_rtcp(await asyncio.wait_for(loop.sock_recv(sink, 2048), 2))
            assert isinstance(first[0], SenderReport | ReceiverReport)
            await inc.hangup()
            packets: list[RtcpPacket] = []
            while not any(isinstance(p, Bye) for p in packets):
                packets = parse_rtcp(await asyncio.wait_for(loop.sock_recv(sink, 2048), 2))
            assert inc.rtp.out is not None
            assert packets[-1] == Bye((inc.rtp.out.ssrc,))
        finally:
            sink.close()


async def test_reports_go_where_the_peers_a_rtcp_says() -> None:
    """RFC 3605: a peer that takes RTCP elsewhere than the port above its RTP says so."""
    async with Engine(EngineConfig(accept_any_source=True, rtcp_interval=0.2)) as engine:

        async def answer(leg: InboundLeg) -> None:
            await leg.answer()
            await leg.wait_ended(10)

        server = asyncio.create_task(engine.serve_incoming(answer))
        caller = Caller(engine.port())
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        sink.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            sdp = SDP.format(port=caller.port + 2) + f"a=rtcp:{sink.getsockname()[1]}\r\n"
            await caller.send(caller.request("INVITE", "rtcp1", 1, sdp))
            ok = await caller.final()
            assert ok.status == 200
            caller.to_tag = ok.to.tag or ""
            await caller.send(caller.request("ACK", "ack1", 1))
            report = parse_rtcp(await asyncio.wait_for(loop.sock_recv(sink, 2048), 3))
            assert isinstance(report[0], SenderReport)  # we send silence: an SR
            await caller.send(caller.request("BYE", "bye1", 2))
            assert (await caller.final()).status == 200
        finally:
            server.cancel()
            sink.close()
            caller.sock.close()
