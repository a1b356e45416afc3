"""What each engine process runs in the media-worker tests (imported by spawned workers)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from voxgate.engine import Engine, InboundLeg, Trunk


def _note(path: Path, line: str) -> None:
    with path.open("a") as out:
        out.write(line + "\n")


async def answer_and_dial(engine: Engine, arg: tuple[str, int]) -> None:
    """Answer every call (noting which worker got it in the file ``arg[0]``); place one
    call to the SIPp callee on port ``arg[1]`` on SIGUSR1."""
    log, callee = Path(arg[0]), arg[1]
    slot = engine.config.worker
    assert slot is not None

    async def serve(leg: InboundLeg) -> None:
        await leg.answer()
        hangup = await leg.wait_ended()
        _note(log, f"answered {slot.index} {leg.call_id} {hangup.side}")

    go = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, go.set)

    async def dial() -> None:
        await go.wait()
        leg = await engine.dial("100", trunk=Trunk("127.0.0.1", callee))
        answered = await leg.wait_answered(10)
        await leg.hangup()
        _note(log, f"dialed {slot.index} {leg.call_id} {answered}")

    dialer = asyncio.create_task(dial())
    _note(log, f"ready {slot.index}")
    try:
        await engine.serve_incoming(serve)
    finally:
        dialer.cancel()
