"""Two engines on loopback calling each other: signalling, media, keys, timeouts, abuse."""

from __future__ import annotations

import asyncio
import gc
import io
import os
import socket
import wave
import weakref
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from voxgate.engine import (
    Answered,
    AtCapacity,
    Dtmf,
    Engine,
    EngineConfig,
    Hangup,
    InboundLeg,
    OutboundLeg,
    Ringing,
    Trunk,
    Trying,
    bridge,
)
from voxgate.engine.engine import TRACE_TAIL
from voxgate.engine.testing import engine_pair
from voxgate.media import g711, tones
from voxgate.media.render import TelephoneAudio

pytestmark = pytest.mark.timeout(60)


def audio_of(pcm: np.ndarray, codec: g711.Codec = "pcmu") -> TelephoneAudio:
    return TelephoneAudio(codec, g711.encode(codec, pcm.astype(np.int16)))


async def connect(
    a: Engine, b: Engine, transport: str = "udp", codec: g711.Codec = "pcmu"
) -> tuple[OutboundLeg, InboundLeg]:
    out = await a.dial("100", trunk=b.trunk_to_me(transport), codec=codec, ring_timeout=5)
    inc = await b.incoming(timeout=3)
    await inc.ring()
    await inc.answer()
    assert await out.wait_answered(3)
    return out, inc


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_dial_answer_keys_play_record_hangup(tmp_path: Path, transport: str) -> None:
    async with engine_pair() as (a, b):
        out, inc = await connect(a, b, transport)
        assert inc.request == "100" and inc.caller == "voxgate"
        assert out.transport.name == transport.upper()
        # keys from caller to callee as RFC 4733
        out.send_dtmf("42#")
        assert await inc.gather(5, 2) == "42"
        # the callee plays a tone; the caller records it
        recording = tmp_path / "caller.wav"
        out.record(recording)
        tone = tones.tone((500.0, 1500.0), 0.5, level_dbm0=-10)  # not a DTMF pair
        await inc.play(audio_of(tone))
        await asyncio.sleep(0.2)
        hangup = await out.hangup()
        assert hangup == Hangup(200, 16, "local", "hangup")
        remote = await inc.wait_ended(3)
        assert remote == Hangup(200, 16, "remote", "bye")
    assert [type(e) for e in out.history] == [Trying, Ringing, Answered, Hangup]
    assert [e for e in inc.history if isinstance(e, Dtmf)] == [
        Dtmf("4", "rfc4733"),
        Dtmf("2", "rfc4733"),
        Dtmf("#", "rfc4733"),
    ]
    with wave.open(io.BytesIO(recording.read_bytes())) as w:
        heard = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    expected = g711.decode("pcmu", g711.encode("pcmu", tone))
    position = _find(heard, expected[:800])
    assert position >= 0, "the played tone is not in the recording"
    assert np.array_equal(heard[position : position + len(expected)], expected)


def _find(haystack: np.ndarray, needle: np.ndarray) -> int:
    for i in range(len(haystack) - len(needle) + 1):
        if haystack[i] == needle[0] and np.array_equal(haystack[i : i + len(needle)], needle):
            return i
    return -1


async def test_inband_and_info_keys() -> None:
    async with engine_pair() as (a, b):
        out, inc = await connect(a, b, codec="pcma")
        await out.play(audio_of(tones.dtmf_sequence("73", on=0.08, off=0.08), "pcma"))
        assert await inc.gather(2, 2) == "73"
        out.send_info_dtmf("9")
        assert await inc.gather(1, 2) == "9"
        await out.hangup()
    keys = [e for e in inc.history if isinstance(e, Dtmf)]
    assert keys == [Dtmf("7", "inband"), Dtmf("3", "inband"), Dtmf("9", "info")]


async def test_caller_cancels_after_ring_timeout() -> None:
    async with engine_pair() as (a, b):
        out = await a.dial("100", trunk=b.trunk_to_me(), ring_timeout=0.5)
        inc = await b.incoming(timeout=3)
        await inc.ring()
        assert await out.wait_ended(3) == Hangup(487, 19, "local", "ring_timeout")
        assert await inc.wait_ended(3) == Hangup(487, 487, "remote", "cancel")


async def test_callee_rejects_busy() -> None:
    async with engine_pair() as (a, b):
        out = await a.dial("100", trunk=b.trunk_to_me("tcp"))
        inc = await b.incoming(timeout=3)
        await inc.reject(486)
        assert await out.wait_ended(3) == Hangup(486, 17, "remote", "Busy Here")
        assert inc.history == [Hangup(486, 17, "local", "rejected")]


async def test_rtp_inactivity_ends_a_dead_call() -> None:
    async with engine_pair(EngineConfig(rtp_timeout=0.5)) as (a, b):
        out, inc = await connect(a, b)
        await asyncio.sleep(0.8)
        assert not out.ended  # both send silence: alive
        inc.rtp.set_sending(False)  # the callee's media dies, signalling does not
        hangup = await out.wait_ended(3)
        assert hangup == Hangup(200, 102, "local", "rtp_timeout")
        assert await inc.wait_ended(3) == Hangup(200, 102, "remote", "bye")


async def test_symmetric_rtp_latches_to_the_real_source() -> None:
    async with engine_pair() as (a, b):
        out, inc = await connect(a, b)
        # the callee's packets come from another port than its SDP says
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind(("127.0.0.1", 0))
        try:
            assert out.rtp.remote == inc.rtp.local  # from the SDP answer
            await asyncio.sleep(0.1)
            assert out.rtp.latched and out.rtp.remote == inc.rtp.local
            # a stranger's packets (valid RTP, right payload type) are ignored once latched
            before = out.rtp.received
            for i in range(20):
                other.sendto(bytes([0x80, 0, 0, i]) + bytes(8) + b"\xff" * 160, out.rtp.local)
            await asyncio.sleep(0.1)
            assert out.rtp.remote == inc.rtp.local
            assert out.rtp.dropped >= 20 and out.rtp.received > before
        finally:
            other.close()
        await out.hangup()


async def test_malformed_flood_and_unknown_invites_do_not_disturb_a_call() -> None:
    async with engine_pair(host_b="127.0.0.2") as (a, b):
        out, inc = await connect(a, b)
        target = ("127.0.0.2", b.port("udp"))
        rng = np.random.default_rng(7)
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stranger.bind(("127.0.0.3", 0))
        invite = (
            "INVITE sip:100@127.0.0.2 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.3:5060;branch=z9hG4bK{n}\r\n"
            "From: <sip:x@127.0.0.3>;tag=t{n}\r\nTo: <sip:100@127.0.0.2>\r\nCall-ID: flood{n}\r\n"
            "CSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.3>\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        try:
            play = asyncio.ensure_future(out.play(audio_of(tones.tone((440.0,), 1.0))))
            for n in range(1500):
                kind = n % 3
                if kind == 0:
                    data = rng.bytes(int(rng.integers(1, 1400)))
                elif kind == 1:
                    data = invite.format(n=n).encode()[: int(rng.integers(10, 300))]
                else:
                    data = invite.format(n=n).encode()  # well formed, unknown source
                stranger.sendto(data, target)
                stranger.sendto(os.urandom(172), inc.rtp.local)  # junk at the RTP port too
                if n % 25 == 0:
                    await asyncio.sleep(0.005)  # let the loop read: UDP buffers are small
            out.send_dtmf("58")
            assert await inc.gather(2, 3) == "58"
            await asyncio.wait_for(play, 3)
        finally:
            stranger.close()
        assert not out.ended and not inc.ended
        # UDP under a flood may drop some datagrams in the socket buffer; most must arrive
        assert b.endpoint.malformed > 500
        assert b.rejected_sources > 250
        assert b._incoming is not None and b._incoming.empty()  # no stranger got through
        await out.hangup()
        assert await inc.wait_ended(3) == Hangup(200, 16, "remote", "bye")


async def test_sip_trace_is_kept_with_the_leg() -> None:
    async with engine_pair() as (a, b):
        out, inc = await connect(a, b)
        await out.hangup()
        await inc.wait_ended(3)
        await asyncio.sleep(0.05)
    text = out.trace.render()
    for line in (
        "INVITE sip:100@",
        "SIP/2.0 180 Ringing",
        "SIP/2.0 200 OK",
        "ACK sip:",
        "BYE sip:",
    ):
        assert line in text
    assert [e.direction for e in inc.trace.entries][:2] == ["in", "out"]


async def test_an_ended_call_is_freed_while_its_transactions_absorb_retransmissions() -> None:
    # The answered INVITE's transaction lives on for 32 s (RFC 6026) and the trace is kept
    # for as long; neither may keep the leg itself (its media session, queues, tasks)
    # alive: at a few hundred calls a second that is most of the heap.
    async with engine_pair() as (a, b):
        out, inc = await connect(a, b)
        txn = inc.invite_txn
        assert txn is not None
        await out.hangup()
        await inc.wait_ended(3)
        await asyncio.sleep(0.05)
        gone = weakref.ref(inc)
        del inc
        gc.collect()
        assert txn.txn.key in b.endpoint._server  # still absorbing retransmissions
        assert b.endpoint.traces  # the trace too
        assert gone() is None
        # both end with their time, each by one queue rather than a timer per call
        later = b.loop.time() + TRACE_TAIL
        b._drop_traces(later - 1)
        assert b.endpoint.traces
        b._drop_traces(later + 0.1)
        assert not b.endpoint.traces
        b.endpoint._lingering.handle_timer(later + 0.1)
        assert txn.txn.key not in b.endpoint._server


@pytest.mark.parametrize("who_hangs_up", ["caller", "callee"])
async def test_an_answered_call_is_freed_by_reference_counting_alone(who_hangs_up: str) -> None:
    # Under load a call lives long enough to reach the collector's oldest generation; a
    # cycle there waits for a full collection, which during a flood took up to 137 ms
    # each and made the engine run late (docs/benchmarks.md). With the collector off,
    # both legs of an ended call must still go (the calling leg's INVITE transaction
    # lives on without it, to ACK a retransmitted 2xx: test_lingering.py).
    async with engine_pair() as (a, b):
        out, inc = await connect(a, b)
        gc.collect()
        gc.disable()
        try:
            await (out if who_hangs_up == "caller" else inc).hangup()
            await out.wait_ended(3)
            await inc.wait_ended(3)
            await asyncio.sleep(0.05)
            gone = weakref.ref(inc)
            gone_out = weakref.ref(out)
            del inc, out
            await asyncio.sleep(0)
            assert gone() is None
            assert gone_out() is None
        finally:
            gc.enable()


async def test_trunk_parse() -> None:
    trunk = Trunk.parse("sip:10.0.0.1:5080;transport=TCP", username="u", password="sekrit")
    assert (trunk.host, trunk.port, trunk.transport, trunk.username) == (
        "10.0.0.1",
        5080,
        "tcp",
        "u",
    )
    assert "sekrit" not in repr(trunk)


async def test_bridge_relays_audio_and_keys_between_two_calls(tmp_path: Path) -> None:
    async with engine_pair() as (a, b):
        out1, inc1 = await connect(a, b)
        out2, inc2 = await connect(a, b)
        joined = bridge(inc1, inc2)
        recording = tmp_path / "far.wav"
        out2.record(recording)
        tone = tones.tone((500.0, 1500.0), 0.4, level_dbm0=-10)
        await out1.play(audio_of(tone))
        out1.send_dtmf("5")
        assert await out2.gather(1, 2) == "5"
        await out1.hangup()
        await inc1.wait_ended(3)
        assert not joined.active and not inc2.ended  # the other leg stays up, unbridged
        await out2.hangup()
    assert Dtmf("5", "rfc4733") in inc1.history  # reported where it came from, and relayed
    with wave.open(io.BytesIO(recording.read_bytes())) as w:
        heard = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    expected = g711.decode("pcmu", g711.encode("pcmu", tone))
    position = _find(heard, expected[:800])
    assert position >= 0, "the tone did not cross the bridge"
    assert np.array_equal(heard[position : position + len(expected)], expected)


async def test_tcp_trunk_that_refuses_connections_fails_the_call() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    async with Engine() as engine:
        leg = await engine.dial("100", trunk=Trunk("127.0.0.1", port, "tcp"))
        assert await leg.wait_ended(5) == Hangup(503, 41, "local", "transport_failed")


@pytest.mark.parametrize(
    ("first_line", "status"),
    [
        ("INVITE sip:100@127.0.0.1 SIP/3.0", 505),
        ("INVITE mailto:x@example.com SIP/2.0", 416),  # parses; refused by check_request
        ("INVITE sip:100@127.0.0.1  SIP/2.0", 400),
    ],
)
async def test_malformed_requests_are_answered_with_the_right_status(
    first_line: str, status: int
) -> None:
    async with Engine(EngineConfig(accept_any_source=True)) as engine:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        port = sock.getsockname()[1]
        request = (
            f"{first_line}\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKbad1\r\n"
            "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: bad1\r\n"
            "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        try:
            await loop.sock_sendto(sock, request.encode(), ("127.0.0.1", engine.port()))
            data = await asyncio.wait_for(loop.sock_recv(sock, 4096), 2)
            if data.startswith(b"SIP/2.0 100 "):
                data = await asyncio.wait_for(loop.sock_recv(sock, 4096), 2)
        finally:
            sock.close()
        assert data.startswith(f"SIP/2.0 {status} ".encode())
        assert engine.endpoint.malformed == (0 if status == 416 else 1)


async def test_past_capacity_invites_get_503_and_calls_up_stay_up() -> None:
    async with engine_pair() as (a, b):
        b.config = replace(b.config, max_calls=2, retry_after=7)
        first = await connect(a, b)
        second = await connect(a, b)
        # a third call is shed at once, with a hint when to come back
        third = await a.dial("100", trunk=b.trunk_to_me(), ring_timeout=5)
        hangup = await third.wait_ended(3)
        assert (hangup.sip_status, hangup.side) == (503, "remote")
        assert "Retry-After: 7" in third.trace.render()
        assert b.shed_invites == 1 and b.active_calls == 2
        # the engine that is full does not place calls either
        with pytest.raises(AtCapacity):
            await b.dial("200", trunk=a.trunk_to_me())
        # the calls already up are undisturbed: keys still cross both of them
        for out, inc in (first, second):
            out.send_dtmf("7")
            assert await inc.gather(1, 2) == "7"
            assert not out.ended and not inc.ended
        # once a call ends there is room again
        await first[0].hangup()
        await first[1].wait_ended(3)
        fourth = await connect(a, b)
        assert not fourth[0].ended and b.active_calls == 2
