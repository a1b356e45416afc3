"""The outbox: turns a recorded call event into delivery rows, in the caller's transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.ext.asyncio import AsyncConnection

from voxgate.calls.events import RecordedEvent
from voxgate.clock import Clock, SystemClock
from voxgate.store import webhooks as store
from voxgate.webhooks import formats
from voxgate.webhooks.formats import EventContext, Platform
from voxgate.webhooks.targets import host_key

log = logging.getLogger(__name__)

WAKE_KEY = "voxgate.webhooks.enqueued"


class Outbox:
    """The :class:`~voxgate.calls.events.EventSink` the call flows write events through."""

    def __init__(self, *, platform: Platform, clock: Clock | None = None) -> None:
        self.platform = platform
        self.clock = clock or SystemClock()

    async def enqueue(
        self, conn: AsyncConnection, call: Mapping[str, Any], event: RecordedEvent
    ) -> int:
        target = await store.hook_target(conn, call["tenant_id"])
        if target is None:
            return 0
        app = await store.app_urls(conn, call.get("app_id"))
        history = [
            RecordedEvent(call["id"], h["seq"], h["type"], h["created_at"], h["data"] or {})
            for h in await store.call_history(conn, call["id"])
        ]
        ctx = EventContext(call, event, history, target, app, self.platform)
        outgoing = formats.build(ctx)
        now = self.clock.now()
        rows = [
            {
                "id": uuid.uuid4().hex,
                "tenant_id": call["tenant_id"],
                "call_id": call["id"],
                "event_id": event.id,
                "event_type": event.type,
                "seq": event.seq,
                "format": out.format,
                "url": out.url,
                "host": host_key(out.url),
                "url_from_request": out.url_from_request,
                "content_type": out.content_type,
                "body": out.body,
                "headers": {},
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for out in outgoing
        ]
        await store.insert_deliveries(conn, rows)
        if rows:
            conn.info[WAKE_KEY] = True
            log.debug(
                "webhook deliveries enqueued",
                extra={
                    "action": "webhook_enqueued",
                    "call_id": call["id"],
                    "event": event.type,
                    "count": len(rows),
                },
            )
        return len(rows)

    def __repr__(self) -> str:
        return f"<Outbox host={self.platform.public_host}>"


def on_enqueue_commit(engines: Sequence[Engine], wake: Callable[[], object]) -> Callable[[], None]:
    """Call ``wake()`` after each commit that enqueued deliveries; return the remover.

    ``wake`` may be called from another thread (a store's writer thread).
    """

    def _commit(conn: Connection) -> None:
        if conn.info.pop(WAKE_KEY, False):
            wake()

    def _rollback(conn: Connection) -> None:
        conn.info.pop(WAKE_KEY, None)

    for engine in engines:
        event.listen(engine, "commit", _commit)
        event.listen(engine, "rollback", _rollback)

    def remove() -> None:
        for engine in engines:
            event.remove(engine, "commit", _commit)
            event.remove(engine, "rollback", _rollback)

    return remove
