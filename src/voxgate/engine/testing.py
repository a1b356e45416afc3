"""An in-process pair of engines on loopback that call each other, for tests.

``async with engine_pair() as (a, b):`` gives two started engines on 127.0.0.1 with
ephemeral SIP ports; each lists the other as a trunk, so ``a.dial("100", trunk=a_to_b)``
rings on ``b.incoming()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from voxgate.engine.engine import Engine, EngineConfig


@asynccontextmanager
async def engine_pair(
    config: EngineConfig | None = None, *, host_a: str = "127.0.0.1", host_b: str = "127.0.0.1"
) -> AsyncIterator[tuple[Engine, Engine]]:
    base = config or EngineConfig()
    a = Engine(replace(base, host=host_a))
    b = Engine(replace(base, host=host_b))
    await a.start()
    try:
        await b.start()
        try:
            a.trunks.append(b.trunk_to_me())
            b.trunks.append(a.trunk_to_me())
            yield a, b
        finally:
            await b.close()
    finally:
        await a.close()
