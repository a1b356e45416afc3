"""``voxgate call``: place one call through a trunk from the command line.

Prints every leg event as one JSON object per line (and ``gathered`` with the keys
collected), hangs up after the script, and exits 0 only when the call was answered and
the script ran to its end; 1 when the call failed or the far end hung up early, 2 for
bad arguments.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated

import typer

from voxgate.engine.engine import Engine, EngineConfig
from voxgate.engine.events import Hangup, event_dict
from voxgate.engine.rtp_session import PortRange
from voxgate.engine.uac import OutboundLeg, Trunk
from voxgate.media.g711 import Codec
from voxgate.media.render import TelephoneAudio
from voxgate.observability.logging import bind_call
from voxgate.sip.errors import SipError


def _emit(obj: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _local_ip(trunk_host: str) -> str:
    """The address this machine uses towards the trunk (loopback for a loopback trunk)."""
    try:
        if ipaddress.ip_address(trunk_host).is_loopback:
            return "127.0.0.1"
    except ValueError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((trunk_host, 9))  # no packet is sent
        return str(probe.getsockname()[0])


def _load_audio(play: Path | None, say: str | None, codec: Codec) -> TelephoneAudio | None:
    if play is not None:
        from voxgate.media.decode import decode_audio
        from voxgate.media.render import from_pcm8k

        return from_pcm8k(decode_audio(play.read_bytes()), codec)
    if say is not None:
        from voxgate.tts.service import Speech

        speech = Speech.default()
        try:
            return speech.say(say, codec=codec)
        finally:
            speech.close()
    return None


async def _call(
    *,
    dest: str,
    trunk: Trunk,
    from_number: str,
    codec: Codec,
    audio: TelephoneAudio | None,
    gather: int,
    gather_timeout: float,
    record: Path | None,
    ring_timeout: float,
    rtp_timeout: float,
    rtp_ports: PortRange,
) -> int:
    host = _local_ip(trunk.host)
    config = EngineConfig(
        host=host, transports=(trunk.transport,), rtp_ports=rtp_ports, rtp_timeout=rtp_timeout
    )
    async with Engine(config) as engine:
        leg = await engine.dial(
            dest, trunk=trunk, from_number=from_number, codec=codec, ring_timeout=ring_timeout
        )

        async def printer() -> None:
            async for event in leg.events():
                line = event_dict(event)
                quality = leg.rtp.quality()
                if isinstance(event, Hangup) and quality is not None:
                    line["media"] = quality.as_json()  # RTCP's view of the call, both ways
                _emit(line)

        with bind_call(leg.call_id):
            return await _script(leg, printer(), audio, gather, gather_timeout, record)


async def _script(
    leg: OutboundLeg,
    printer: Coroutine[None, None, None],
    audio: TelephoneAudio | None,
    gather: int,
    gather_timeout: float,
    record: Path | None,
) -> int:
    """Answered -> record, play, gather -> hang up; 0 only when it all ran."""
    printing = asyncio.ensure_future(printer)
    completed = False
    if await leg.wait_answered():
        if record is not None:
            leg.record(record)
        if audio is not None:
            await leg.play(audio)
        if gather and not leg.ended:
            digits = await leg.gather(gather, gather_timeout)
            _emit({"event": "gathered", "digits": digits})
        completed = not leg.ended
    hangup: Hangup = await leg.hangup()
    await asyncio.wait_for(printing, 5)
    return 0 if completed and hangup.side == "local" else 1


def call_command(
    dest: Annotated[str, typer.Argument(help="Number or user to call.")],
    trunk: Annotated[str, typer.Option(help="Trunk as sip:HOST:PORT.")],
    transport: Annotated[str, typer.Option(help="udp or tcp.")] = "udp",
    from_: Annotated[str, typer.Option("--from", help="Caller number.")] = "voxgate",
    auth: Annotated[str | None, typer.Option(help="Trunk credentials USER:PASS.")] = None,
    codec: Annotated[str, typer.Option(help="pcmu or pcma (offered first).")] = "pcmu",
    play: Annotated[Path | None, typer.Option(help="Audio file to play on answer.")] = None,
    say: Annotated[str | None, typer.Option(help="Text to speak on answer.")] = None,
    gather: Annotated[int, typer.Option(help="Collect up to N keys after the prompt.")] = 0,
    gather_timeout: Annotated[float, typer.Option(help="Seconds to wait for each key.")] = 5.0,
    record: Annotated[Path | None, typer.Option(help="WAV file for what the callee sends.")] = None,
    ring_timeout: Annotated[float, typer.Option(help="CANCEL after this many seconds.")] = 60.0,
    rtp_timeout: Annotated[float, typer.Option(help="End the call after S s without RTP.")] = 30.0,
    rtp_ports: Annotated[str, typer.Option(help="RTP port range LOW-HIGH.")] = "16384-32767",
) -> None:
    """Place one call through a SIP trunk and print its events as JSON lines."""
    if transport not in ("udp", "tcp"):
        raise typer.BadParameter("udp or tcp", param_hint="--transport")
    if codec not in ("pcmu", "pcma"):
        raise typer.BadParameter("pcmu or pcma", param_hint="--codec")
    if play is not None and say is not None:
        raise typer.BadParameter("give --play or --say, not both", param_hint="--play")
    username = password = None
    if auth is not None:
        username, sep, password = auth.partition(":")
        if not sep:
            raise typer.BadParameter("USER:PASS", param_hint="--auth")
    try:
        low, high = (int(p) for p in rtp_ports.split("-", 1))
        parsed = Trunk.parse(trunk, transport=transport, username=username, password=password)
    except (ValueError, SipError) as exc:
        raise typer.BadParameter(str(exc)) from None
    chosen: Codec = "pcma" if codec == "pcma" else "pcmu"
    audio = _load_audio(play, say, chosen)
    code = asyncio.run(
        _call(
            dest=dest,
            trunk=parsed,
            from_number=from_,
            codec=chosen,
            audio=audio,
            gather=gather,
            gather_timeout=gather_timeout,
            record=record,
            ring_timeout=ring_timeout,
            rtp_timeout=rtp_timeout,
            rtp_ports=PortRange(low, high),
        )
    )
    raise typer.Exit(code)
