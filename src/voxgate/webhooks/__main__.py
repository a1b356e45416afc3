"""Run only the webhook delivery worker: ``python -m voxgate.webhooks [--schema NAME]``.

Settings come from the environment and voxgate.toml, as for ``voxgate serve``. Any number of
these may run against one PostgreSQL store (claims skip each other's rows). SIGTERM or SIGINT
stops it after the attempts in flight are recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from voxgate.api.services import Services
from voxgate.settings import load_settings


async def run(schema: str | None) -> None:
    settings = load_settings()
    services = Services.build(settings, schema=schema)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await services.webhooks.start()
    try:
        await stop.wait()
    finally:
        await services.webhooks.stop()
        await services.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m voxgate.webhooks")
    parser.add_argument("--schema", help="PostgreSQL schema (search path), for tests")
    args = parser.parse_args()
    logging.basicConfig(level=load_settings().log_level)
    asyncio.run(run(args.schema))


if __name__ == "__main__":
    main()
