"""Accepting calls: validation done by the dialect, then one durable transaction.

Every accepted request becomes call rows plus queued call jobs in the same transaction,
before the answer is sent. Placing the call is the dispatcher's job.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from voxgate.calls.events import EventSink, RecordedEvent
from voxgate.calls.script import CallScript
from voxgate.errors import Conflict
from voxgate.store import calls as repo
from voxgate.store import pg_accept
from voxgate.store.db import Database

log = logging.getLogger(__name__)

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


@dataclass
class _Pending:
    """One accept request waiting for the next group commit."""

    tenant_id: str
    now: float
    rows: list[dict[str, Any]]
    duplicate: Duplicate | None
    daily_limit: DailyLimit | None
    run_at: float | None
    in_transaction: InTransaction | None
    announce: EventSink | None
    done: asyncio.Future[None]


class CallAcceptor:
    """Accepts calls durably, many requests to a transaction (group commit).

    Concurrent ``accept`` calls queue; one flusher writes everything queued in a single
    transaction (the duplicate check one query for the batch, daily counts one per slot,
    inserts one statement per table, or one for all three on PostgreSQL) and answers each
    request once that transaction has committed.
    A refusal (duplicate, daily limit) refuses only its own request. Any other failure
    rolls the whole batch back and each request is then written alone, so one bad
    request never fails another.
    """

    def __init__(self, *, db: Database, max_batch_rows: int = 500) -> None:
        self.db = db
        self.max_batch_rows = max_batch_rows
        self._queue: deque[_Pending] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self.commits = 0  # transactions committed, however many requests each carried

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
        pending = _Pending(
            tenant_id=tenant_id,
            now=now,
            rows=rows,
            duplicate=duplicate,
            daily_limit=daily_limit,
            run_at=run_at,
            in_transaction=in_transaction,
            announce=announce,
            done=asyncio.get_running_loop().create_future(),
        )
        self._queue.append(pending)
        if self._flusher is None or self._flusher.done():
            # a context of its own: the flusher serves many requests, not the first one's call
            self._flusher = asyncio.create_task(
                self._flush(), name="call-acceptor", context=contextvars.Context()
            )
        # shielded: a request cancelled mid-commit must not cancel the batch's bookkeeping
        await asyncio.shield(pending.done)
        return Accepted(ref, [AcceptedCall(r["id"], r["serial_no"]) for r in rows])

    async def _flush(self) -> None:
        batch: list[_Pending] = []
        try:
            while self._queue:
                batch = self._next_batch()
                answers: list[BaseException | None]
                try:
                    answers = await self._write(batch)
                except Exception as exc:
                    if len(batch) == 1:
                        answers = [exc]
                    else:
                        log.warning(
                            "a batch of %d accepts failed (%r); writing each alone", len(batch), exc
                        )
                        answers = [await self._alone(i) for i in batch]
                for item, answer in zip(batch, answers, strict=True):
                    if not item.done.done():
                        if answer is None:
                            item.done.set_result(None)
                        else:
                            item.done.set_exception(answer)
        finally:
            # cancelled (shutdown): whoever still waits learns the outcome is unknown
            for item in [*batch, *self._queue]:
                if not item.done.done():
                    item.done.set_exception(RuntimeError("call acceptor stopped"))

    def _next_batch(self) -> list[_Pending]:
        batch: list[_Pending] = []
        size = 0
        while self._queue and (not batch or size + len(self._queue[0].rows) <= self.max_batch_rows):
            item = self._queue.popleft()
            batch.append(item)
            size += len(item.rows)
        return batch

    async def _alone(self, item: _Pending) -> BaseException | None:
        try:
            return (await self._write([item]))[0]
        except Exception as exc:
            return exc

    async def _write(self, batch: Sequence[_Pending]) -> list[BaseException | None]:
        """One transaction for the batch; returns each request's refusal, or None.

        On SQLite checks and inserts are one synchronous function, run whole on the
        store's writer thread; on PostgreSQL fixed statements on the asyncpg connection
        (``store.pg_accept``). Requests with work of their own in the transaction (an
        idempotency record, webhook deliveries) take an async SQLAlchemy transaction.
        """
        if not any(i.announce is not None or i.in_transaction is not None for i in batch):
            if self.db.is_sqlite:
                answers, _ = await self.db.run_write(lambda conn: _decide_and_insert(conn, batch))
            else:
                answers, _ = await self.db.run_driver_write(
                    lambda conn: _decide_and_insert_pg(conn, batch)
                )
            self.commits += 1
            return answers
        async with self.db.begin() as conn:
            answers, accepted = await conn.run_sync(_decide_and_insert, batch)
            for item in accepted:
                if item.announce is not None:
                    for row in item.rows:
                        queued = RecordedEvent(row["id"], 1, "call.queued", item.now, {})
                        await item.announce.enqueue(conn, row, queued)
                if item.in_transaction is not None:
                    await item.in_transaction(conn, item.rows)
        self.commits += 1
        return answers


def _decide_and_insert(
    conn: Connection, batch: Sequence[_Pending]
) -> tuple[list[BaseException | None], list[_Pending]]:
    """Refuse duplicates and requests over their daily limit, insert the rest."""
    keys, since, slots = _lookups(batch)
    if conn.dialect.name == "postgresql":  # as in _decide_and_insert_pg
        pg_accept.lock_on(conn, _lock_ids(keys, slots))
    held = _held(repo.key_holders(conn, keys, since)) if keys else {}
    used = {slot: repo.count_since(conn, *slot) for slot in slots}
    answers, accepted = _decide(batch, held, used)
    if accepted:
        repo.insert_calls(conn, *_rows_and_due(accepted))
    return answers, accepted


async def _decide_and_insert_pg(
    conn: Any, batch: Sequence[_Pending]
) -> tuple[list[BaseException | None], list[_Pending]]:
    """The same on PostgreSQL, as fixed statements on the asyncpg connection.

    Other workers' batches may be checking the same keys and slots at this moment (on
    SQLite the single writer rules that out): the batch first locks them, so whichever
    commits second sees the first's calls.
    """
    keys, since, slots = _lookups(batch)
    await pg_accept.lock(conn, _lock_ids(keys, slots))
    held = _held(await pg_accept.key_holders(conn, keys, since)) if keys else {}
    used = {slot: await pg_accept.count_since(conn, *slot) for slot in slots}
    answers, accepted = _decide(batch, held, used)
    if accepted:
        await pg_accept.insert_calls(conn, *_rows_and_due(accepted))
    return answers, accepted


def _lock_ids(keys: set[str], slots: set[tuple[str, str, float]]) -> list[int]:
    """The advisory locks a batch holds on PostgreSQL: its duplicate keys, its daily slots."""
    return [pg_accept.lock_id("key", key) for key in keys] + [
        pg_accept.lock_id("day", tenant, kind, str(day)) for tenant, kind, day in slots
    ]


def _decide(
    batch: Sequence[_Pending],
    held: dict[tuple[str, str], _Held],
    used: dict[tuple[str, str, float], int],
) -> tuple[list[BaseException | None], list[_Pending]]:
    """Each request's refusal or None, given what the store holds; the accepted ones."""
    answers: list[BaseException | None] = []
    accepted: list[_Pending] = []
    for item in batch:
        keys = {(item.tenant_id, r["dedupe_key"]) for r in item.rows if r["dedupe_key"] is not None}
        if item.duplicate is not None and any(
            _holds(held.get(key), item.duplicate, item.now) for key in keys
        ):
            answers.append(DuplicateCall())
            continue
        if item.daily_limit is not None:
            slot = _limit_slot(item, item.daily_limit)
            if used[slot] + len(item.rows) > item.daily_limit.limit:
                answers.append(DailyLimitReached(limit=item.daily_limit.limit, used=used[slot]))
                continue
            used[slot] += len(item.rows)
        for key in keys:  # later requests of the batch see this one's calls
            held[key] = _Held(unfinished=True, newest=item.now)
        accepted.append(item)
        answers.append(None)
    return answers, accepted


def _rows_and_due(accepted: Sequence[_Pending]) -> tuple[list[dict[str, Any]], list[float]]:
    rows = [r for item in accepted for r in item.rows]
    due = [item.now if item.run_at is None else item.run_at for item in accepted for _ in item.rows]
    return rows, due


@dataclass
class _Held:
    """What the stored calls under one (tenant, key) say: any unfinished, newest created."""

    unfinished: bool
    newest: float


def _holds(held: _Held | None, duplicate: Duplicate, now: float) -> bool:
    if held is None:
        return False
    if duplicate.window is None:
        return held.unfinished
    return held.newest >= now - duplicate.window


def _lookups(
    batch: Sequence[_Pending],
) -> tuple[set[str], float | None, set[tuple[str, str, float]]]:
    """What the batch's checks must read: the duplicate keys (one query for the whole
    batch, whatever its tenants and windows: since the oldest window start) and the
    daily-limit slots."""
    keys: set[str] = set()
    since: float | None = None
    slots: set[tuple[str, str, float]] = set()
    for item in batch:
        if item.daily_limit is not None:
            slots.add(_limit_slot(item, item.daily_limit))
        if item.duplicate is None:
            continue
        keys.update(r["dedupe_key"] for r in item.rows if r["dedupe_key"] is not None)
        if item.duplicate.window is not None:
            start = item.now - item.duplicate.window
            since = start if since is None else min(since, start)
    return keys, since, slots


def _held(
    holders: Sequence[tuple[str, str, bool, float]],
) -> dict[tuple[str, str], _Held]:
    """Per (tenant, key), what the stored calls found hold."""
    held: dict[tuple[str, str], _Held] = {}
    for tenant_id, key, unfinished, created_at in holders:
        found = held.setdefault((tenant_id, key), _Held(unfinished=False, newest=created_at))
        found.unfinished |= unfinished
        found.newest = max(found.newest, created_at)
    return held


def _limit_slot(item: _Pending, limit: DailyLimit) -> tuple[str, str, float]:
    """What a daily limit counts: the tenant's calls of one kind since the day began."""
    return item.tenant_id, limit.kind, _day_start(item.now)
