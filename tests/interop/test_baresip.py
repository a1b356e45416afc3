"""baresip as a registered extension: digest REGISTER, a call to it, its keys, our hangup.

baresip's side is read from its captured log (SIP trace included); ours from the engine:
the registrar's recent attempts, the location table and the leg's SIP trace and events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.interop.baresip import Baresip
from voxgate.engine import Dtmf, Engine, EngineConfig, Hangup, Leg, NotRegistered
from voxgate.rtp.reporting import MediaQuality
from voxgate.sip.message import SipRequest, SipResponse, parse_message

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

SECRET = "s3cret-1001"
T = TypeVar("T")


@pytest.fixture
async def start_baresip(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Baresip]]]:
    """Start baresip in the test's directory; stopped at teardown whatever happened."""
    started: list[Baresip] = []

    async def start(**kwargs: Any) -> Baresip:
        phone = Baresip(tmp_path, **kwargs)
        started.append(phone)
        return await phone.start()

    yield start
    for phone in started:
        await phone.stop()


async def until(check: Callable[[], T | None], within: float, what: str, phone: Baresip) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not (result := check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {what} within {within} s\n{phone.tail()}")
        await asyncio.sleep(0.05)
    return result


def traced(leg: Leg, direction: str) -> list[SipRequest | SipResponse]:
    return [parse_message(e.data) for e in leg.trace.entries if e.direction == direction]


def reinvite_cseq(leg: Leg) -> int | None:
    """CSeq of the first INVITE the peer sent inside the call, once we have its ACK."""
    received = traced(leg, "in")
    for msg in received:
        if isinstance(msg, SipRequest) and msg.method == "INVITE":
            number = msg.cseq.number
            acked = any(
                isinstance(m, SipRequest) and m.method == "ACK" and m.cseq.number == number
                for m in received
            )
            return number if acked else None
    return None


def answers(leg: Leg, cseq: int, method: str, direction: str = "out") -> list[int]:
    """Statuses of the responses to ``method`` with ``cseq``, in ``direction``."""
    return [
        m.status
        for m in traced(leg, direction)
        if isinstance(m, SipResponse) and m.cseq.number == cseq and m.cseq.method == method
    ]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_baresip_registers_answers_sends_keys_and_is_hung_up(
    start_baresip: Callable[..., Awaitable[Baresip]], transport: str
) -> None:
    async with Engine(EngineConfig(host="127.0.0.1")) as engine:
        engine.extension_password = {"1001": SECRET}.get
        phone = await start_baresip(
            registrar=("127.0.0.1", engine.port(transport)), password=SECRET, transport=transport
        )

        # registration: challenged first, then authenticated as 1001
        bindings = await until(
            lambda: engine.registrations.lookup("1001", engine.loop.time()),
            10,
            "registration",
            phone,
        )
        [binding] = bindings
        attempts = [(a.status, a.username) for a in engine.registrar.recent]
        assert attempts[:2] == [(401, None), (200, "1001")], attempts
        assert binding.transport == transport.upper()
        assert binding.contact.host == "127.0.0.1" and (binding.contact.user or "").startswith(
            "1001"
        )
        assert binding.remaining(engine.loop.time()) > 50  # regint=60

        # we call the extension; baresip answers by itself
        leg = await engine.dial_extension("1001", from_number="4155550100", ring_timeout=10)
        assert await leg.wait_answered(10), phone.tail()
        assert traced(leg, "out")[0].uri == binding.contact  # type: ignore[union-attr]

        # baresip re-INVITEs; we answer once and its ACK stops our 200's retransmissions
        await asyncio.to_thread(phone.command, "/reinvite\n")
        cseq = await until(lambda: reinvite_cseq(leg), 5, "re-INVITE and its ACK", phone)
        await asyncio.sleep(1.2)  # past the first two retransmission intervals (T1, 2 x T1)
        assert answers(leg, cseq, "INVITE") == [200]
        assert not leg.ended

        # keys pressed on baresip's console: RFC 4733 events, each reported exactly once
        keys = "5*0#9"
        for key in keys:
            await phone.press(key)
        assert await leg.gather(len(keys), 3, terminators="") == keys, phone.tail()
        await asyncio.sleep(0.6)  # longer than the receiver's end timeout: repeats would show
        dtmf = [e for e in leg.history if isinstance(e, Dtmf)]
        assert dtmf == [Dtmf(k, "rfc4733") for k in keys]

        # we hang up; baresip answers the BYE
        assert await leg.hangup() == Hangup(200, 16, "local", "hangup")
        await until(lambda: answers(leg, 2, "BYE", "in"), 5, "answer to our BYE", phone)
        assert answers(leg, 2, "BYE", "in") == [200]

        # baresip quits, unregistering on its way out
        assert await phone.quit() == 0, phone.tail()
        assert engine.registrations.lookup("1001", engine.loop.time()) == []
        with pytest.raises(NotRegistered):
            await engine.dial_extension("1001")

    log = phone.log()
    assert "1001@127.0.0.1: {0/%s/v4} 200 OK" % transport.upper() in log, phone.tail()  # noqa: UP031
    assert "Call established: sip:4155550100@127.0.0.1" in log, phone.tail()
    for key in keys:
        assert f"send DTMF digit: '{key}'" in log and f"send DTMF digit end: '{key}'" in log
    assert "Call with sip:4155550100@127.0.0.1 terminated" in log, phone.tail()


async def test_baresip_with_a_wrong_password_is_refused(
    start_baresip: Callable[..., Awaitable[Baresip]],
) -> None:
    async with Engine(EngineConfig(host="127.0.0.1")) as engine:
        engine.extension_password = {"1001": SECRET}.get
        phone = await start_baresip(registrar=("127.0.0.1", engine.port()), password="wrong")
        refused = await until(
            lambda: [a for a in engine.registrar.recent if a.status == 403],
            10,
            "refusal",
            phone,
        )
        assert refused[0].extension == "1001" and refused[0].username == "1001"
        await asyncio.sleep(1.0)  # whatever baresip tries next, it does not get in
        assert len(engine.registrations) == 0
        assert engine.registrar.answered[200] == 0
        assert [a.status for a in engine.registrar.recent][:2] == [401, 403]
        with pytest.raises(NotRegistered):
            await engine.dial_extension("1001")
        await phone.stop()
    assert "403 Forbidden" in phone.log(), phone.tail()


async def test_baresip_and_we_exchange_rtcp_reports_on_each_others_stream(
    start_baresip: Callable[..., Awaitable[Baresip]],
) -> None:
    async with Engine(EngineConfig(host="127.0.0.1", rtcp_interval=0.5)) as engine:
        engine.extension_password = {"1001": SECRET}.get
        phone = await start_baresip(registrar=("127.0.0.1", engine.port()), password=SECRET)
        await until(
            lambda: engine.registrations.lookup("1001", engine.loop.time()),
            10,
            "registration",
            phone,
        )
        leg = await engine.dial_extension("1001", from_number="4155550100", ring_timeout=10)
        assert await leg.wait_answered(10), phone.tail()

        def reported() -> MediaQuality | None:
            quality = leg.rtp.quality()
            if quality is None or quality.peer_packets_lost is None:
                return None
            return quality

        # baresip reports every few seconds; its report blocks cover the stream we send
        quality = await until(reported, 15, "baresip's report on our stream", phone)
        assert quality.reports_sent >= 2 and quality.reports_received >= 1
        assert quality.peer_packets_lost == 0  # loopback: baresip lost none of ours
        assert quality.packets_received > 50 and quality.packets_lost == 0
        assert leg.rtp.rtcp_remote is not None and leg.rtp._rtcp_latched
        await leg.hangup()
        assert await phone.quit() == 0, phone.tail()
