"""Accepting calls: validation done by the dialect, then one durable transaction.

Every accepted request becomes call rows plus queued call jobs in the same transaction,
before the answer is sent. Placing the call is the dispatcher's job.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from voxgate.calls.events import EventSink, RecordedEvent
from voxgate.calls.script import CallScript
from voxgate.errors import Conflict
from voxgate.store import calls as repo
from voxgate.store.db import Database

# Called inside the accepting transaction with the inserted call rows, to write rows of
# its own (e.g. an idempotency record) that must commit or roll back with the calls.
InTransaction = Callable[[AsyncConnection, Sequence[dict[str, Any]]], Awaitable[None]]


def new_serial_no() -> str:
    """A 16-digit call serial number, exact as a JSON number in any client (< 2**53)."""
    return str(10**15 + secrets.randbelow(8 * 10**15))


def new_ref() -> str:
    return uuid.uuid4().hex


def dedupe_key(*parts: Any) -> str:
    raw = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class NewCall:
    callee: str
    caller: str | None
    script: CallScript
    dialect_data: dict[str, Any] = field(default_factory=dict)
    serial_no: str | None = None
    id: str | None = None
    dedupe_key: str | None = None  # this call's own duplicate key, checked with Duplicate


@dataclass(frozen=True)
class Duplicate:
    """Refuse when a matching call exists: unfinished (window None) or created within window.

    A call that carries its own ``NewCall.dedupe_key`` is checked and stored under that key
    instead of ``key`` (one key per callee of a group call).
    """

    key: str
    window: float | None = None


@dataclass(frozen=True)
class DailyLimit:
    kind: str
    limit: int


@dataclass(frozen=True)
class AcceptedCall:
    id: str
    serial_no: str


@dataclass(frozen=True)
class Accepted:
    request_ref: str
    calls: list[AcceptedCall]


class DuplicateCall(Conflict):
    """An unfinished call with the same parameters exists."""

    error_id = "duplicate_call"


class DailyLimitReached(Conflict):
    """The tenant reached its daily call limit."""

    error_id = "daily_limit"


def _day_start(now: float) -> float:
    return now - (now % 86400)


class CallAcceptor:
    def __init__(self, *, db: Database) -> None:
        self.db = db

    async def accept(
        self,
        *,
        tenant_id: str,
        app_id: str | None,
        dialect: str,
        kind: str,
        new_calls: Sequence[NewCall],
        callback_url: str | None = None,
        priority: int = 9,
        request_ref: str | None = None,
        duplicate: Duplicate | None = None,
        daily_limit: DailyLimit | None = None,
        run_at: float | None = None,
        in_transaction: InTransaction | None = None,
        announce: EventSink | None = None,
    ) -> Accepted:
        """Write the calls, their jobs and their ``call.queued`` events in one transaction.

        ``announce`` (the webhook outbox) also turns each ``call.queued`` into deliveries in
        that transaction; formats with no queued callback (the vendors') write none.
        """
        now = time.time()
        ref = request_ref or new_ref()
        rows: list[dict[str, Any]] = []
        for call in new_calls:
            rows.append(
                {
                    "id": call.id or uuid.uuid4().hex,
                    "tenant_id": tenant_id,
                    "app_id": app_id,
                    "dialect": dialect,
                    "kind": kind,
                    "serial_no": call.serial_no or new_serial_no(),
                    "request_ref": ref,
                    "status": "queued",
                    "caller": call.caller,
                    "callee": call.callee,
                    "script": call.script.model_dump(mode="json", by_alias=True),
                    "callback_url": callback_url,
                    "dialect_data": call.dialect_data,
                    "priority": priority,
                    "dedupe_key": (call.dedupe_key or duplicate.key) if duplicate else None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        async with self.db.begin() as conn:
            if duplicate is not None:
                since = None if duplicate.window is None else now - duplicate.window
                for key in dict.fromkeys(r["dedupe_key"] for r in rows):
                    if await repo.unfinished_duplicate(conn, tenant_id, key, since):
                        raise DuplicateCall()
            if daily_limit is not None:
                used = await repo.count_since(conn, tenant_id, daily_limit.kind, _day_start(now))
                if used + len(rows) > daily_limit.limit:
                    raise DailyLimitReached(limit=daily_limit.limit, used=used)
            await repo.insert_calls(conn, rows, now=now, run_at=run_at)
            if announce is not None:
                for row in rows:
                    queued = RecordedEvent(row["id"], 1, "call.queued", now, {})
                    await announce.enqueue(conn, row, queued)
            if in_transaction is not None:
                await in_transaction(conn, rows)
        return Accepted(ref, [AcceptedCall(r["id"], r["serial_no"]) for r in rows])
