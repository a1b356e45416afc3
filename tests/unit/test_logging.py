"""Log records carry the call id bound in their task, as JSON."""

from __future__ import annotations

import asyncio
import json
import logging

from voxgate.observability.logging import CallIdFilter, JsonFormatter, bind_call


def test_call_id_follows_the_task() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = logging.getLogger("voxgate.test.logging")
    handler = Keep()
    handler.addFilter(CallIdFilter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    async def one(call_id: str) -> None:
        with bind_call(call_id):
            await asyncio.sleep(0)
            log.info("ringing", extra={"action": "call_ringing"})

    async def main() -> None:
        await asyncio.gather(one("call-a"), one("call-b"))

    try:
        asyncio.run(main())
        log.info("outside")
    finally:
        log.removeHandler(handler)
    assert sorted(r.call_id for r in records[:2]) == ["call-a", "call-b"]  # type: ignore[attr-defined]
    assert records[2].call_id is None  # type: ignore[attr-defined]
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["action"] == "call_ringing"
    assert line["call_id"] in ("call-a", "call-b")
    assert line["message"] == "ringing"
