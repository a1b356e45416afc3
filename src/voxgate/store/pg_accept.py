"""Accepting calls on PostgreSQL: each batch is three fixed statements sent by asyncpg.

The same work as ``store.calls.key_holders``/``count_since``/``insert_calls``, which
accepting runs on SQLite. Through SQLAlchemy a batch cost about 45 % of an API worker's
CPU (statement construction and compilation, per-row parameter processing, one
``executemany`` row per call and table). Here each statement is fixed text, prepared once
per connection: the duplicate lookup takes its keys as one array, and the calls, their
jobs and their first events are one INSERT of unnested arrays (the three tables in one
statement, by data-modifying CTEs). Column lists come from the declared schema.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
from sqlalchemy import JSON, Column, Connection, Float, Integer, String

from voxgate.store.calls import UNFINISHED
from voxgate.store.schema import calls

# the calls columns an accepted row fills (everything else is set later by the dialler)
CALL_COLUMNS = (
    "id",
    "tenant_id",
    "app_id",
    "dialect",
    "kind",
    "serial_no",
    "request_ref",
    "status",
    "caller",
    "callee",
    "script",
    "callback_url",
    "dialect_data",
    "priority",
    "dedupe_key",
    "created_at",
    "updated_at",
)


def _array_type(column: Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, JSON):
        return "json[]"
    if isinstance(kind, Integer):
        return "int8[]"
    if isinstance(kind, Float):
        return "float8[]"
    if isinstance(kind, String):
        return "text[]"
    raise TypeError(f"no array type for {column.name}: {kind!r}")


def _insert_sql() -> str:
    arrays = [_array_type(calls.c[name]) for name in CALL_COLUMNS] + ["float8[]"]
    params = ", ".join(f"${i}::{kind}" for i, kind in enumerate(arrays, start=1))
    names = ", ".join(CALL_COLUMNS)
    return (
        f"WITH r AS (SELECT * FROM unnest({params}) AS r({names}, run_at)), "
        f"c AS (INSERT INTO calls ({names}) SELECT {names} FROM r), "
        "j AS (INSERT INTO call_jobs (call_id, tenant_id, status, priority, run_at, attempts, "
        "created_at) SELECT id, tenant_id, 'queued', priority, run_at, 0, created_at FROM r) "
        "INSERT INTO call_events (call_id, seq, type, data, created_at) "
        "SELECT id, 1, 'call.queued', '{}'::json, created_at FROM r"
    )


INSERT_SQL = _insert_sql()

# by key alone, as ``store.calls.key_holders_query`` explains; a NULL ``since`` leaves
# only the unfinished calls
KEY_HOLDERS_SQL = (
    "SELECT tenant_id, dedupe_key, status = ANY($2::text[]), created_at FROM calls "
    "WHERE dedupe_key = ANY($1::text[]) AND (status = ANY($2::text[]) OR created_at >= $3)"
)

# transaction-scoped advisory locks, taken in the order given (sorted by the caller, so two
# batches never wait for each other in a cycle)
LOCK_SQL = "SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::int8[]) AS k"

COUNT_SINCE_SQL = (
    "SELECT count(*) FROM calls WHERE tenant_id = $1 AND kind = $2 AND created_at >= $3"
)


def lock_id(*parts: str) -> int:
    """A 64-bit advisory lock id for what ``parts`` name (a duplicate key, a daily slot)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def lock(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    """Hold ``ids`` until the transaction ends: another batch checking the same duplicate
    keys or daily slots waits here, then sees what this one wrote. A statement of its
    own, so the checks after it read a snapshot taken once the locks are held."""
    if ids:
        await conn.fetchval(LOCK_SQL, sorted(set(ids)))


def lock_on(conn: Connection, ids: Sequence[int]) -> None:
    """As ``lock``, on a SQLAlchemy connection (the accepting path that also writes an
    idempotency record or webhook deliveries)."""
    if ids:
        conn.exec_driver_sql(LOCK_SQL, (sorted(set(ids)),))


async def key_holders(
    conn: asyncpg.Connection, keys: Iterable[str], since: float | None
) -> list[tuple[str, str, bool, float]]:
    """As ``store.calls.key_holders``."""
    rows = await conn.fetch(KEY_HOLDERS_SQL, list(keys), list(UNFINISHED), since)
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def count_since(conn: asyncpg.Connection, tenant_id: str, kind: str, since: float) -> int:
    """As ``store.calls.count_since``."""
    return int(await conn.fetchval(COUNT_SINCE_SQL, tenant_id, kind, since))


def _column_value(name: str, value: Any) -> Any:
    return json.dumps(value) if name in ("script", "dialect_data") else value


async def insert_calls(
    conn: asyncpg.Connection, rows: Sequence[dict[str, Any]], due: Sequence[float]
) -> None:
    """As ``store.calls.insert_calls``: the calls, a queued job each, their first event."""
    columns = [[_column_value(name, row[name]) for row in rows] for name in CALL_COLUMNS]
    await conn.execute(INSERT_SQL, *columns, list(due))
