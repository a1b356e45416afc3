"""voxgate places calls to SIPp acting as the callee (scenarios in ``scenarios/``).

Each test checks both views: the leg's events on our side, and SIPp's exit status on
its scenario (0 = every message arrived as scripted).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.interop.sipp import CAPTURES, Sipp, UdpSink, rtp_header, voxgate_call
from voxgate.engine import Answered, EarlyMedia, Engine, EngineConfig, Hangup, LegEvent, Trunk
from voxgate.engine.events import Ringing
from voxgate.media import g711
from voxgate.media.decode import decode_audio
from voxgate.media.render import from_pcm8k
from voxgate.media.wav import pcm_to_wav

pytestmark = pytest.mark.interop


@pytest.fixture
def start_sipp(tmp_path: Path) -> Iterator[Callable[..., Sipp]]:
    """Start SIPp on a scenario in the test's directory; killed at teardown if still running."""
    started: list[Sipp] = []

    def start(scenario: str, **kwargs: Any) -> Sipp:
        sipp = Sipp(scenario, tmp_path, **kwargs).start()
        started.append(sipp)
        return sipp

    yield start
    for sipp in started:
        sipp.stop()


@pytest.fixture
def sink() -> Iterator[UdpSink]:
    s = UdpSink()
    yield s
    s.close()


async def run_call(
    sipp: Sipp,
    *,
    trunk: Trunk | None = None,
    hangup_after: float | None = None,
    ring_timeout: float = 10,
    config: EngineConfig | None = None,
) -> list[LegEvent]:
    """Dial SIPp, collect the leg's events (bounded), optionally hang up once answered."""
    async with Engine(config) as engine:
        leg = await engine.dial(
            "100", trunk=trunk or Trunk.parse(sipp.trunk), ring_timeout=ring_timeout
        )
        async with asyncio.timeout(15):
            async for event in leg.events():
                if isinstance(event, Answered) and hangup_after is not None:
                    await asyncio.sleep(hangup_after)
                    await leg.hangup()
        return leg.history


def finish(sipp: Sipp) -> None:
    code = sipp.wait()
    assert code == 0, f"SIPp failed its scenario (exit {code}):\n{sipp.logs()}"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_answered_call_and_our_bye(start_sipp: Callable[..., Sipp], transport: str) -> None:
    sipp = start_sipp("uas_answer.xml", transport=transport)
    trunk = Trunk.parse(sipp.trunk, transport=transport)
    events = await run_call(sipp, trunk=trunk, hangup_after=0.2)
    assert [type(e) for e in events] == [Ringing, Answered, Hangup]
    assert events[-1] == Hangup(200, 16, "local", "hangup")
    finish(sipp)


@pytest.mark.parametrize(
    ("scenario", "status", "cause"),
    [("uas_reject_486.xml", 486, 17), ("uas_reject_603.xml", 603, 21)],
)
async def test_rejected(
    start_sipp: Callable[..., Sipp], scenario: str, status: int, cause: int
) -> None:
    sipp = start_sipp(scenario)
    events = await run_call(sipp)
    assert len(events) == 1
    hangup = events[0]
    assert isinstance(hangup, Hangup)
    assert (hangup.sip_status, hangup.q850_cause, hangup.side) == (status, cause, "remote")
    finish(sipp)


async def test_ringing_forever_is_cancelled_after_ring_timeout(
    start_sipp: Callable[..., Sipp],
) -> None:
    sipp = start_sipp("uas_ring_forever.xml")
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = await run_call(sipp, ring_timeout=0.8)
    elapsed = loop.time() - started
    assert events == [Ringing(), Hangup(487, 19, "local", "ring_timeout")]
    assert 0.8 <= elapsed < 3
    finish(sipp)


async def test_401_challenge_verified_by_sipp(start_sipp: Callable[..., Sipp]) -> None:
    sipp = start_sipp("uas_auth_401.xml", keys={"user": "alice", "password": "s3cret"})
    trunk = Trunk.parse(sipp.trunk, username="alice", password="s3cret")
    events = await run_call(sipp, trunk=trunk, hangup_after=0.1)
    assert [type(e) for e in events] == [Answered, Hangup]
    finish(sipp)


async def test_407_challenge_answered_with_proxy_authorization(
    start_sipp: Callable[..., Sipp], tmp_path: Path
) -> None:
    sipp = start_sipp("uas_auth_407.xml", keys={"user": "alice", "password": "s3cret"})
    trunk = Trunk.parse(sipp.trunk, username="alice", password="s3cret")
    events = await run_call(sipp, trunk=trunk, hangup_after=0.1)
    assert [type(e) for e in events] == [Answered, Hangup]
    finish(sipp)
    # SIPp verifies only Authorization: recompute the MD5 digest (RFC 2617) from its log
    log = (tmp_path / "sipp_messages.log").read_text()
    header = re.search(r"Proxy-Authorization: Digest (.*)", log)
    assert header is not None
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', header.group(1)))
    ha1 = hashlib.md5(f"alice:{params['realm']}:s3cret".encode()).hexdigest()
    ha2 = hashlib.md5(f"INVITE:{params['uri']}".encode()).hexdigest()
    expected = hashlib.md5(f"{ha1}:{params['nonce']}:{ha2}".encode()).hexdigest()
    assert params["response"] == expected


async def test_wrong_password_is_refused(start_sipp: Callable[..., Sipp]) -> None:
    sipp = start_sipp("uas_auth_401.xml", keys={"user": "alice", "password": "s3cret"})
    trunk = Trunk.parse(sipp.trunk, username="alice", password="wrong")
    events = await run_call(sipp, trunk=trunk)
    assert events == [Hangup(403, 21, "remote", "Forbidden")]
    sipp.wait()


async def test_redirect_followed_once(start_sipp: Callable[..., Sipp], tmp_path: Path) -> None:
    sipp = start_sipp("uas_redirect.xml")
    events = await run_call(sipp, hangup_after=0.1)
    assert [type(e) for e in events] == [Answered, Hangup]
    finish(sipp)
    assert "INVITE sip:moved@127.0.0.1" in (tmp_path / "sipp_messages.log").read_text()


async def test_redirect_elsewhere_is_refused(start_sipp: Callable[..., Sipp]) -> None:
    sipp = start_sipp("uas_redirect.xml")
    trunk = Trunk("localhost", sipp.port)  # the 302 points at 127.0.0.1: not this trunk's host
    events = await run_call(sipp, trunk=trunk)
    assert isinstance(events[-1], Hangup) and events[-1].sip_status == 302
    sipp.stop()


async def test_early_media_then_answer(start_sipp: Callable[..., Sipp]) -> None:
    sipp = start_sipp("uas_early_media.xml")
    events = await run_call(sipp, hangup_after=0.1)
    assert [type(e) for e in events] == [EarlyMedia, Answered, Hangup]
    finish(sipp)


async def test_hold_reinvite_accepted_then_remote_bye(start_sipp: Callable[..., Sipp]) -> None:
    sipp = start_sipp("uas_hold_then_bye.xml")
    events = await run_call(sipp)
    assert [type(e) for e in events] == [Answered, Hangup]
    assert events[-1] == Hangup(200, 16, "remote", "bye")
    finish(sipp)  # the scenario checks our answer to the hold said a=recvonly


async def test_rtp_inactivity_ends_the_call(start_sipp: Callable[..., Sipp], sink: UdpSink) -> None:
    # SIPp answers with media pointing at a sink that never sends: no RTP arrives
    sipp = start_sipp("uas_answer.xml", keys={"media_to": str(sink.port)})
    events = await run_call(sipp, config=EngineConfig(rtp_timeout=0.6))
    assert [type(e) for e in events] == [Ringing, Answered, Hangup]
    assert events[-1] == Hangup(200, 102, "local", "rtp_timeout")
    finish(sipp)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_cli_receives_rfc4733_digits_exactly_once(
    start_sipp: Callable[..., Sipp], tmp_path: Path, transport: str
) -> None:
    assert (CAPTURES / "dtmf_2833_1.pcap").exists(), "SIPp's DTMF captures are missing"
    sipp = start_sipp("uas_dtmf.xml", transport=transport)
    result = voxgate_call(
        "100",
        "--trunk",
        sipp.trunk,
        "--transport",
        transport,
        "--gather",
        "4",
        "--gather-timeout",
        "2",
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0, result.stdout + result.stderr
    digits = [(e["key"], e["source"]) for e in lines if e["event"] == "dtmf"]
    assert digits == [("1", "rfc4733"), ("2", "rfc4733"), ("3", "rfc4733")]
    assert {"event": "gathered", "digits": "123"} in lines
    assert lines[-1]["event"] == "hangup" and lines[-1]["side"] == "local"
    finish(sipp)


def test_cli_plays_the_prompt_sample_for_sample(
    start_sipp: Callable[..., Sipp], tmp_path: Path, sink: UdpSink
) -> None:
    # a prompt with structure everywhere: a chirp with a ramp, 1.37 s (not whole frames)
    n = 10960
    t = np.arange(n) / 8000
    pcm = (9000 * np.sin(2 * np.pi * (300 + 900 * t) * t) * np.linspace(0.2, 1, n)).astype(np.int16)
    wav = tmp_path / "prompt.wav"
    wav.write_bytes(pcm_to_wav(pcm, 8000))
    expected = from_pcm8k(decode_audio(wav.read_bytes()), "pcma").payload
    keys = {"media_to": str(sink.port), "formats": "8 101"}  # the answer picks A-law
    sipp = start_sipp("uas_answer.xml", keys=keys)
    result = voxgate_call(
        "100", "--trunk", sipp.trunk, "--codec", "pcma", "--play", str(wav), "--rtp-timeout", "0"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    finish(sipp)
    packets = [(at, rtp_header(data), data[12:]) for at, data, _ in sink.packets]
    assert packets, "no RTP reached the sink"
    ssrcs = {h[4] for _, h, _ in packets}
    assert len(ssrcs) == 1
    assert {h[0] for _, h, _ in packets} == {8}  # PCMA, as negotiated
    # in order, no gaps, 160 samples per packet
    for (_, a, _), (_, b, _) in itertools.pairwise(packets):
        assert (b[2] - a[2]) & 0xFFFF == 1
        assert (b[3] - a[3]) & 0xFFFFFFFF == 160
    stream = b"".join(p for _, _, p in packets)
    silence = bytes([g711.silence_byte("pcma")])
    start = stream.find(expected[:160])
    assert start >= 0 and start % 160 == 0, "prompt not found on a frame boundary"
    assert stream[start : start + len(expected)] == expected
    tail = stream[start + len(expected) : start + len(expected) + (-len(expected)) % 160]
    assert tail == silence * len(tail)  # the last frame is padded with silence
    assert stream[:start] == silence * start  # only silence before the prompt
    # paced in real time: 20 ms per packet over the prompt
    first = start // 160
    count = -(-len(expected) // 160)
    span = packets[first + count - 1][0] - packets[first][0]
    assert abs(span - (count - 1) * 0.02) < 0.1


async def test_second_forked_answer_is_acked_and_ended(
    start_sipp: Callable[..., Sipp], tmp_path: Path
) -> None:
    sipp = start_sipp("uas_forked.xml")
    events = await run_call(sipp, hangup_after=0.3)
    assert [type(e) for e in events] == [Answered, Hangup]
    finish(sipp)
    log = (tmp_path / "sipp_messages.log").read_text()
    byes = re.findall(r"^BYE .*?^To: (.*?)$", log, re.M | re.S)
    assert len(byes) == 2 and "SIPpFork02" in byes[0] and "SIPpTag01" in byes[1]
