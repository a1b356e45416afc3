"""Bridging with direct media: re-INVITEs we send, glare, fallback to relay, media flowing
peer to peer.

Three engines on three loopback addresses: ``vox`` (the platform, 127.0.0.1) carries both
legs; ``alice`` (127.0.0.2) called it, and it called ``bob`` (127.0.0.3). So vox is the
UAS of one dialog and the UAC of the other, and each engine is told apart by its host.
"""

from __future__ import annotations

import asyncio
import io
import re
import wave
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.interop.sipp import Sipp
from voxgate.engine import Dtmf, Engine, EngineConfig, Leg, Trunk, bridge
from voxgate.engine.endpoint import ServerTxn
from voxgate.engine.reinvite import MediaTarget
from voxgate.media import g711, tones
from voxgate.media.render import TelephoneAudio
from voxgate.sip.message import SipRequest, SipResponse, make_response, parse_message
from voxgate.sip.sdp import PCMU, make_offer, negotiated, parse_sdp

pytestmark = pytest.mark.timeout(120)

VOX, ALICE, BOB = "127.0.0.1", "127.0.0.2", "127.0.0.3"


@dataclass
class Calls:
    vox: Engine
    alice: Engine
    bob: Engine
    alice_leg: Leg  # alice's side of alice -> vox
    vox_a: Leg  # vox's side of alice -> vox (vox is UAS)
    vox_b: Leg  # vox's side of vox -> bob (vox is UAC)
    bob_leg: Leg  # bob's side of vox -> bob


@asynccontextmanager
async def three_engines(vox_timeout: float = 30.0) -> AsyncIterator[Calls]:
    vox = Engine(EngineConfig(host=VOX, rtp_timeout=vox_timeout))
    alice = Engine(EngineConfig(host=ALICE))
    bob = Engine(EngineConfig(host=BOB))
    for engine in (vox, alice, bob):
        await engine.start()
    try:
        vox.trunks += [alice.trunk_to_me(), bob.trunk_to_me()]
        alice.trunks.append(vox.trunk_to_me())
        bob.trunks.append(vox.trunk_to_me())
        alice_leg = await alice.dial("100", trunk=vox.trunk_to_me(), ring_timeout=10)
        vox_a = await vox.incoming(timeout=10)
        await vox_a.answer()
        assert await alice_leg.wait_answered(10)
        vox_b = await vox.dial("200", trunk=bob.trunk_to_me(), ring_timeout=10)
        bob_leg = await bob.incoming(timeout=10)
        await bob_leg.answer()
        assert await vox_b.wait_answered(10)
        yield Calls(vox, alice, bob, alice_leg, vox_a, vox_b, bob_leg)
    finally:
        for engine in (bob, alice, vox):
            await engine.close()


def audio_of(pcm: np.ndarray) -> TelephoneAudio:
    return TelephoneAudio("pcmu", g711.encode("pcmu", pcm.astype(np.int16)))


def heard_in(path: Path, pcm: np.ndarray) -> bool:
    """Whether the WAV at ``path`` holds ``pcm`` (as PCMU carries it) bit for bit."""
    with wave.open(io.BytesIO(path.read_bytes())) as w:
        heard = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    expected = g711.decode("pcmu", g711.encode("pcmu", pcm))
    for i in np.flatnonzero(heard == expected[0]):
        if np.array_equal(heard[i : i + len(expected)], expected):
            return True
    return False


def sent(leg: Leg, method: str) -> list[SipRequest]:
    return [m for m in _messages(leg, "out") if isinstance(m, SipRequest) and m.method == method]


def received(leg: Leg, method: str) -> list[SipRequest]:
    return [m for m in _messages(leg, "in") if isinstance(m, SipRequest) and m.method == method]


def responses_sent(leg: Leg) -> list[int]:
    return [m.status for m in _messages(leg, "out") if isinstance(m, SipResponse)]


def _messages(leg: Leg, direction: str) -> list[SipRequest | SipResponse]:
    """The SIP messages of the leg's trace that went ``out`` or came ``in``."""
    return [parse_message(e.data) for e in leg.trace.entries if e.direction == direction]


def media_of(request: SipRequest) -> tuple[str | None, int]:
    sdp = parse_sdp(request.body)
    audio = sdp.media[0]
    return audio.connection or sdp.connection, audio.port


async def until(check: Callable[[], bool], within: float = 10.0) -> None:
    for _ in range(int(within / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not true within {within} s")


async def test_direct_bridge_moves_media_peer_to_peer_and_back(tmp_path: Path) -> None:
    async with three_engines(vox_timeout=1.0) as c:
        vox_a_port, vox_b_port = c.vox_a.rtp.local[1], c.vox_b.rtp.local[1]
        assert c.alice_leg.rtp.remote == (VOX, vox_a_port)
        cseq_a, cseq_b = c.vox_a.dialog.local_cseq, c.vox_b.dialog.local_cseq  # type: ignore[union-attr]
        joined = bridge(c.vox_a, c.vox_b, media="direct")
        assert await joined.settled(20) == "direct", joined.reason

        # each peer got one re-INVITE pointing at the other peer's RTP socket
        (to_alice,) = sent(c.vox_a, "INVITE")
        (to_bob,) = [r for r in sent(c.vox_b, "INVITE") if r.cseq.number > 1]
        assert media_of(to_alice) == (BOB, c.bob_leg.rtp.local[1])
        assert media_of(to_bob) == (ALICE, c.alice_leg.rtp.local[1])
        # inside the dialog: next CSeq, same Call-ID and tags, our Contact
        for leg, request, before in ((c.vox_a, to_alice, cseq_a), (c.vox_b, to_bob, cseq_b)):
            dialog = leg.dialog
            assert dialog is not None
            assert request.cseq.number == before + 1 == dialog.local_cseq
            assert request.call_id == leg.call_id
            assert request.from_.tag == dialog.local_tag and request.to.tag == dialog.remote_tag
            assert request.contact[0].uri == dialog.local_contact.uri
            # its o= line: ours (session id and host), one version up
            origin = parse_sdp(request.body)
            assert origin.session_id == leg.session_id and origin.origin.endswith(f" {VOX}")
        assert parse_sdp(to_bob.body).version == 2  # vox offered version 1 to bob
        # each 200 was ACKed with the re-INVITE's CSeq, and the peer saw that ACK
        for leg, peer, request in ((c.vox_a, c.alice_leg, to_alice), (c.vox_b, c.bob_leg, to_bob)):
            acks = [a.cseq.number for a in sent(leg, "ACK")]
            assert request.cseq.number in acks
            assert request.cseq.number in [a.cseq.number for a in received(peer, "ACK")]
            assert peer.reinvites.acked.is_set()

        # audio from alice reaches bob straight from alice's socket, none through vox
        await until(lambda: c.bob_leg.rtp.latched and c.alice_leg.rtp.latched)
        assert c.bob_leg.rtp.remote == (ALICE, c.alice_leg.rtp.local[1])
        assert c.alice_leg.rtp.remote == (BOB, c.bob_leg.rtp.local[1])
        through_vox = c.vox_a.rtp.received + c.vox_b.rtp.received
        recording = tmp_path / "bob.wav"
        c.bob_leg.record(recording)
        tone = tones.tone((500.0, 1500.0), 0.4, level_dbm0=-10)
        await c.alice_leg.play(audio_of(tone))
        # vox hears nothing and sends nothing, yet its 1 s RTP timeout does not end the calls
        sent_by_vox = [leg.rtp.out.packets_sent for leg in (c.vox_a, c.vox_b)]  # type: ignore[union-attr]
        await asyncio.sleep(1.6)
        assert not c.vox_a.ended and not c.vox_b.ended
        assert c.vox_a.rtp.received + c.vox_b.rtp.received <= through_vox + 3  # in flight
        assert [leg.rtp.out.packets_sent for leg in (c.vox_a, c.vox_b)] == sent_by_vox  # type: ignore[union-attr]

        # unbridge: both peers are re-INVITEd back to vox before vox's own media resumes
        joined.unbridge()
        assert await joined.settled(20) == "relay"
        assert media_of(sent(c.vox_a, "INVITE")[-1]) == (VOX, vox_a_port)
        assert media_of(sent(c.vox_b, "INVITE")[-1]) == (VOX, vox_b_port)
        assert not c.vox_a.rtp.direct and not c.vox_b.rtp.direct
        before = c.alice_leg.rtp.received
        await until(lambda: c.alice_leg.rtp.received > before + 10)
        assert c.alice_leg.rtp.remote == (VOX, vox_a_port)
        assert c.bob_leg.rtp.remote == (VOX, vox_b_port)
        assert c.vox_a.dialog.local_cseq == cseq_a + 2  # type: ignore[union-attr]
        await c.alice_leg.hangup()
        await c.bob_leg.hangup()
    assert heard_in(recording, tone), "alice's tone did not reach bob"


@pytest.mark.parametrize("status", [488, 500])
@pytest.mark.parametrize("refuser", ["first", "second"])
async def test_refused_reinvite_falls_back_to_relay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, refuser: str
) -> None:
    async with three_engines() as c:
        # vox re-INVITEs its leg to alice first, then its leg to bob
        peer = c.alice_leg if refuser == "first" else c.bob_leg

        def refuse(request: SipRequest, txn: ServerTxn) -> None:
            txn.respond(make_response(request, status))

        monkeypatch.setattr(peer, "_on_reinvite", refuse)
        joined = bridge(c.vox_a, c.vox_b, media="direct")
        assert await joined.settled(20) == "relay"
        assert joined.reason is not None and str(status) in joined.reason
        if refuser == "first":
            assert len(sent(c.vox_a, "INVITE")) == 1  # refused: nothing to undo
            assert [r.cseq.number for r in sent(c.vox_b, "INVITE")] == [1]  # bob never asked
        else:
            # alice took hers, bob refused: alice is pointed back at vox
            direct, back = sent(c.vox_a, "INVITE")
            assert media_of(direct) == (BOB, c.bob_leg.rtp.local[1])
            assert media_of(back) == (VOX, c.vox_a.rtp.local[1])
            assert back.cseq.number == direct.cseq.number + 1
        assert not c.vox_a.rtp.direct and not c.vox_b.rtp.direct
        # the relay carries alice's audio to bob
        await until(lambda: c.alice_leg.rtp.remote == (VOX, c.vox_a.rtp.local[1]))
        recording = tmp_path / "bob.wav"
        c.bob_leg.record(recording)
        tone = tones.tone((700.0, 1100.0), 0.4, level_dbm0=-10)
        await c.alice_leg.play(audio_of(tone))
        await asyncio.sleep(0.2)
        assert c.bob_leg.rtp.remote == (VOX, c.vox_b.rtp.local[1])
        assert not c.vox_a.ended and not c.vox_b.ended
        await c.alice_leg.hangup()
        await c.bob_leg.hangup()
    assert heard_in(recording, tone), "the relay did not carry the tone"


async def test_glare_is_answered_491_and_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    async with three_engines() as c:
        held: list[tuple[SipRequest, ServerTxn]] = []
        monkeypatch.setattr(c.bob_leg, "_on_reinvite", lambda r, t: held.append((r, t)))
        ours = asyncio.ensure_future(c.vox_b.reinvite())
        await until(lambda: bool(held))
        assert c.vox_b.reinvites.pending
        # bob re-INVITEs too while vox's waits: vox answers 491, bob tries again later
        theirs = asyncio.ensure_future(c.bob_leg.reinvite())
        await until(lambda: 491 in responses_sent(c.vox_b))
        monkeypatch.undo()
        request, txn = held[0]
        c.bob_leg._on_reinvite(request, txn)  # bob answers vox's re-INVITE at last
        result = await asyncio.wait_for(ours, 20)
        assert result.ok and result.attempts == 1
        retried = await asyncio.wait_for(theirs, 20)
        assert retried.ok and retried.attempts == 2
        assert [r.cseq.number for r in sent(c.bob_leg, "INVITE")] == [1, 2]  # CSeq goes up
        assert not c.vox_b.ended and not c.bob_leg.ended
        await c.bob_leg.hangup()


async def test_491_to_our_reinvite_is_retried_then_given_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with three_engines() as c:
        monkeypatch.setattr(
            c.alice_leg, "_on_reinvite", lambda r, t: t.respond(make_response(r, 491))
        )
        joined = bridge(c.vox_a, c.vox_b, media="direct")
        assert await joined.settled(30) == "relay"
        assert joined.reason is not None and "491" in joined.reason
        assert len(sent(c.vox_a, "INVITE")) == 3  # the first and two retries
        assert not c.vox_a.ended and c.vox_a.rtp.direct is False
        await c.alice_leg.hangup()


async def test_recording_moves_a_direct_bridge_back_to_relay(tmp_path: Path) -> None:
    async with three_engines() as c:
        joined = bridge(c.vox_a, c.vox_b, media="direct")
        assert await joined.settled(20) == "direct"
        recording = tmp_path / "vox_a.wav"
        c.vox_a.record(recording)
        assert await joined.settled(20) == "relay"
        assert joined.reason == f"recording on {c.vox_a.call_id}"
        await until(lambda: c.alice_leg.rtp.remote == (VOX, c.vox_a.rtp.local[1]))
        tone = tones.tone((600.0, 1300.0), 0.4, level_dbm0=-10)
        await c.alice_leg.play(audio_of(tone))
        await asyncio.sleep(0.2)
        await c.alice_leg.hangup()
        await c.vox_a.wait_ended(10)
    assert heard_in(recording, tone)


async def test_direct_media_is_not_asked_for_while_a_leg_records(tmp_path: Path) -> None:
    async with three_engines() as c:
        c.vox_b.record(tmp_path / "b.wav")
        joined = bridge(c.vox_a, c.vox_b, media="direct")
        assert await joined.settled(5) == "relay"
        assert joined.reason == "a leg records"
        assert c.vox_a.reinvites.sent == c.vox_b.reinvites.sent == 0
        await c.alice_leg.hangup()


async def test_a_peer_reinvite_ends_direct_media(tmp_path: Path) -> None:
    async with three_engines() as c:
        joined = bridge(c.vox_a, c.vox_b, media="direct")
        assert await joined.settled(20) == "direct"
        # alice re-INVITEs (a new address, a refresh...): vox answers with its own socket
        result = await c.alice_leg.reinvite()
        assert result.ok and result.params is not None
        assert (result.params.remote_address, result.params.remote_port) == (
            VOX,
            c.vox_a.rtp.local[1],
        )
        assert await joined.settled(20) == "relay"
        assert media_of(sent(c.vox_b, "INVITE")[-1]) == (VOX, c.vox_b.rtp.local[1])
        await until(lambda: c.bob_leg.rtp.remote == (VOX, c.vox_b.rtp.local[1]))
        await c.alice_leg.hangup()
        await c.bob_leg.hangup()


async def test_when_one_leg_ends_the_other_peer_is_pointed_back() -> None:
    async with three_engines() as c:
        joined = bridge(c.vox_a, c.vox_b, media="direct")
        assert await joined.settled(20) == "direct"
        await c.alice_leg.hangup()
        await c.vox_a.wait_ended(10)
        assert await joined.settled(20) == "relay" and not joined.active
        assert media_of(sent(c.vox_b, "INVITE")[-1]) == (VOX, c.vox_b.rtp.local[1])
        before = c.bob_leg.rtp.received
        await until(lambda: c.bob_leg.rtp.received > before + 10)  # vox's silence again
        assert c.bob_leg.rtp.remote == (VOX, c.vox_b.rtp.local[1])
        assert not c.vox_b.ended and not c.vox_b.rtp.direct
        await c.bob_leg.hangup()


async def test_keys_go_peer_to_peer_and_info_keys_still_arrive() -> None:
    async with three_engines() as c:
        joined = bridge(c.vox_a, c.vox_b, media="direct")
        assert await joined.settled(20) == "direct"
        await until(lambda: c.bob_leg.rtp.latched)
        c.alice_leg.send_dtmf("7")
        assert await c.bob_leg.gather(1, 5) == "7"  # straight from alice
        c.alice_leg.send_info_dtmf("9")
        assert await c.vox_a.gather(1, 5) == "9"
        await c.alice_leg.hangup()
    assert [e for e in c.vox_a.history if isinstance(e, Dtmf)] == [Dtmf("9", "info")]


def test_media_target_of_a_peer_and_sdp_origin() -> None:
    offer = make_offer(address="10.0.0.1", port=2000, session_id=1)
    answer = parse_sdp(
        b"v=0\r\no=x 5 7 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
    )
    assert (answer.session_id, answer.version) == (5, 7)
    target = MediaTarget.peer_of(negotiated(offer, answer))
    assert target == MediaTarget("10.0.0.9", 4000, PCMU, 96)


# -- SIPp as both peers -------------------------------------------------------------------
@pytest.mark.interop
@pytest.mark.parametrize("second", ["accept", "488"])
async def test_sipp_peers_get_each_others_media(tmp_path: Path, second: str) -> None:
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    # the first peer takes the direct re-INVITE and then the one back to us; the second
    # takes it too, or refuses it (then the first is pointed back at once)
    first = Sipp("uas_reinvite_twice.xml", first_dir)
    if second == "accept":
        other = Sipp("uas_reinvite_twice.xml", second_dir)
    else:
        other = Sipp("uas_reinvite_488.xml", second_dir)
    await asyncio.to_thread(first.start)
    await asyncio.to_thread(other.start)
    try:
        async with Engine(EngineConfig(host=VOX)) as vox:
            legs = []
            for peer in (first, other):
                leg = await vox.dial("peer", trunk=Trunk.parse(peer.trunk), ring_timeout=10)
                assert await leg.wait_answered(10)
                legs.append(leg)
            joined = bridge(legs[0], legs[1], media="direct")
            mode = await joined.settled(30)
            assert mode == ("direct" if second == "accept" else "relay"), joined.reason
            joined.unbridge()
            assert await joined.settled(30) == "relay"
            for leg in legs:
                await leg.hangup()
            codes = [await asyncio.to_thread(p.wait) for p in (first, other)]
    finally:
        first.stop()
        other.stop()
    assert codes == [0, 0], first.logs() + other.logs()
    # SIPp exited 0: every 200 it sent was ACKed (its scenario waits for each ACK)
    vox_a, vox_b = (leg.rtp.local[1] for leg in legs)
    assert reinvites_seen(first_dir) == [
        (2, VOX, other.media_port),  # the other peer's media address
        (3, VOX, vox_a),  # back to vox (after unbridge, or at once when the other refused)
    ]
    if second == "accept":
        assert reinvites_seen(second_dir) == [(2, VOX, first.media_port), (3, VOX, vox_b)]
    else:
        # it refused the direct offer: nothing to undo there
        assert reinvites_seen(second_dir) == [(2, VOX, first.media_port)]


def reinvites_seen(workdir: Path) -> list[tuple[int, str, int]]:
    """(CSeq, c= address, m= port) of each re-INVITE SIPp logged as received."""
    log = (workdir / "sipp_messages.log").read_text(errors="replace")
    found = []
    for block in re.split(r"^-{20,} .*$", log, flags=re.MULTILINE):
        lines = [ln.strip() for ln in block.splitlines() if ln.strip()]
        if len(lines) < 2 or "message received" not in lines[0]:
            continue
        if not lines[1].startswith("INVITE ") or "CSeq: 1 INVITE" in lines:
            continue
        cseq = next(int(ln.split()[1]) for ln in lines if ln.startswith("CSeq:"))
        conn = [ln.split()[-1] for ln in lines if ln.startswith("c=IN IP4")]
        port = next(int(ln.split()[1]) for ln in lines if ln.startswith("m=audio"))
        found.append((cseq, conn[-1], port))
    return found
