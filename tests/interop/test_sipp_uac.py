"""SIPp places calls (its built-in ``uac`` scenario) and voxgate answers them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.interop.sipp import Sipp
from voxgate.engine import Answered, Engine, EngineConfig, Hangup

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_sipp_calls_voxgate_which_answers(tmp_path: Path, transport: str) -> None:
    async with Engine(EngineConfig(accept_any_source=True)) as engine:
        target = f"127.0.0.1:{engine.port(transport)}"
        sipp = Sipp("builtin:uac", tmp_path, transport=transport, remote=target)
        await asyncio.to_thread(sipp.start_caller)
        try:
            leg = await engine.incoming(timeout=10)
            assert leg.request == "service"  # SIPp's default -s
            await leg.ring()
            await leg.answer()
            hangup = await leg.wait_ended(15)
            code = await asyncio.to_thread(sipp.wait)
        finally:
            sipp.stop()
    assert code == 0, sipp.logs()
    assert [type(e) for e in leg.history] == [Answered, Hangup]
    assert hangup == Hangup(200, 16, "remote", "bye")
