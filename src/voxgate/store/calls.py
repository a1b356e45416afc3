"""Calls, their jobs and their events: the SQL side.

Accepting calls runs as one synchronous function (see ``Database.run_write``), so its
statements here take a synchronous connection; the rest are async.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from voxgate.store.schema import call_events, call_jobs, calls

UNFINISHED = ("queued", "dialing", "ringing", "answered")


def insert_calls(conn: Connection, rows: Sequence[dict[str, Any]], due: Sequence[float]) -> None:
    """Insert calls, one queued job each and their first event, in the caller's transaction.

    Each call's job becomes due at its ``due`` time (a scheduled call), else at creation.
    """
    conn.execute(insert(calls), list(rows))
    conn.execute(
        insert(call_jobs),
        [
            {
                "call_id": r["id"],
                "tenant_id": r["tenant_id"],
                "status": "queued",
                "priority": r["priority"],
                "run_at": run_at,
                "attempts": 0,
                "created_at": r["created_at"],
            }
            for r, run_at in zip(rows, due, strict=True)
        ],
    )
    conn.execute(
        insert(call_events),
        [
            {
                "call_id": r["id"],
                "seq": 1,
                "type": "call.queued",
                "data": {},
                "created_at": r["created_at"],
            }
            for r in rows
        ],
    )


def key_holders(
    conn: Connection, keys: Iterable[str], since: float | None
) -> list[tuple[str, str, bool, float]]:
    """Calls holding one of ``keys``, unfinished or created since ``since``, of any tenant.

    Each as (tenant id, key, unfinished, created at).
    """
    return [
        (tenant_id, key, status in UNFINISHED, created_at)
        for tenant_id, key, status, created_at in conn.execute(key_holders_query(keys, since))
    ]


def key_holders_query(keys: Iterable[str], since: float | None) -> Select[Any]:
    """The lookup goes by key alone: keys are hashes, so a key names a handful of calls,
    and with no tenant condition the planner cannot prefer the tenant's time index on
    statistics taken before a burst (it did: every batch then read all the tenant's calls).
    """
    held: ColumnElement[bool] = calls.c.status.in_(UNFINISHED)
    if since is not None:
        held = held | (calls.c.created_at >= since)
    return select(calls.c.tenant_id, calls.c.dedupe_key, calls.c.status, calls.c.created_at).where(
        calls.c.dedupe_key.in_(list(keys)) & held
    )


def count_since(conn: Connection, tenant_id: str, kind: str, since: float) -> int:
    query = (
        select(func.count())
        .select_from(calls)
        .where(
            (calls.c.tenant_id == tenant_id)
            & (calls.c.kind == kind)
            & (calls.c.created_at >= since)
        )
    )
    return int(conn.execute(query).scalar_one())


CALL_FIELDS = [c for c in calls.c if c.name not in ("dedupe_key",)]


async def get_call(conn: AsyncConnection, tenant_id: str, call_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(*CALL_FIELDS).where((calls.c.tenant_id == tenant_id) & (calls.c.id == call_id))
        )
    ).first()
    return dict(row._mapping) if row else None


async def get_call_by_serial(
    conn: AsyncConnection, tenant_id: str, serial_no: str
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(*CALL_FIELDS).where(
                (calls.c.tenant_id == tenant_id) & (calls.c.serial_no == serial_no)
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def list_calls(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    limit: int,
    before: tuple[float, str] | None = None,
    filters: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Newest first; ``before`` is the (created_at, id) cursor of the last row seen."""
    query = select(*CALL_FIELDS).where(calls.c.tenant_id == tenant_id)
    for key, value in (filters or {}).items():
        query = query.where(calls.c[key] == value)
    if before is not None:
        created, cid = before
        query = query.where(
            (calls.c.created_at < created) | ((calls.c.created_at == created) & (calls.c.id < cid))
        )
    query = query.order_by(calls.c.created_at.desc(), calls.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in await conn.execute(query)]


async def events_of(conn: AsyncConnection, call_id: str) -> Iterable[dict[str, Any]]:
    rows = await conn.execute(
        select(call_events.c.seq, call_events.c.type, call_events.c.data, call_events.c.created_at)
        .where(call_events.c.call_id == call_id)
        .order_by(call_events.c.seq)
    )
    return [dict(r._mapping) for r in rows]


async def queued_jobs(conn: AsyncConnection, tenant_id: str | None = None) -> int:
    query = select(func.count()).select_from(call_jobs).where(call_jobs.c.status == "queued")
    if tenant_id:
        query = query.where(call_jobs.c.tenant_id == tenant_id)
    return int((await conn.execute(query)).scalar_one())
