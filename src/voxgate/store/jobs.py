"""Call jobs on their way to the dialler: the media preparer's SQL.

A call job's life (``call_jobs.status``)::

    queued ──claim──> preparing ──> ready ──(dispatcher)──> doing ──> done | failed
                          │
                          └──> failed          (the call's media cannot be prepared)

A ``preparing`` job whose heartbeat is older than the lease belongs to a worker that died;
the next claim takes it over. Claiming takes the write lock on SQLite (``BEGIN IMMEDIATE``,
see ``store/db.py``) and ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers never
prepare the same job at once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from voxgate.store.schema import call_jobs, calls

QUEUED = "queued"
PREPARING = "preparing"
READY = "ready"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    call_id: str
    tenant_id: str
    attempts: int

    def __repr__(self) -> str:
        return f"<ClaimedJob {self.id} call={self.call_id[:8]} attempt={self.attempts}>"


async def claim_queued(
    conn: AsyncConnection,
    *,
    worker: str,
    now: float,
    stale_before: float,
    limit: int,
    skip_locked: bool,
) -> list[ClaimedJob]:
    """Claim up to ``limit`` queued (or abandoned) jobs, most urgent first."""
    pick = (
        select(call_jobs.c.id)
        .where(
            (call_jobs.c.status == QUEUED)
            | ((call_jobs.c.status == PREPARING) & (call_jobs.c.heartbeat_at < stale_before))
        )
        .order_by(call_jobs.c.priority, call_jobs.c.run_at, call_jobs.c.id)
        .limit(limit)
    )
    if skip_locked:
        pick = pick.with_for_update(skip_locked=True)
    ids = [row[0] for row in await conn.execute(pick)]
    if not ids:
        return []
    rows = await conn.execute(
        update(call_jobs)
        .where(call_jobs.c.id.in_(ids))
        .values(
            status=PREPARING,
            worker=worker,
            heartbeat_at=now,
            attempts=call_jobs.c.attempts + 1,
        )
        .returning(call_jobs.c.id, call_jobs.c.call_id, call_jobs.c.tenant_id, call_jobs.c.attempts)
    )
    claimed = [ClaimedJob(r.id, r.call_id, r.tenant_id, r.attempts) for r in rows]
    return sorted(claimed, key=lambda j: ids.index(j.id))


async def heartbeat(
    conn: AsyncConnection, job_ids: Collection[int], *, worker: str, now: float
) -> None:
    if not job_ids:
        return
    await conn.execute(
        update(call_jobs)
        .where(
            call_jobs.c.id.in_(list(job_ids))
            & (call_jobs.c.status == PREPARING)
            & (call_jobs.c.worker == worker)
        )
        .values(heartbeat_at=now)
    )


async def finish(
    conn: AsyncConnection, job_id: int, *, worker: str, status: str, now: float
) -> bool:
    """Move a job this worker holds to ``status`` (ready, failed or back to queued).

    False when the job is no longer ours (its lease ran out and another worker took it).
    """
    held = (
        (call_jobs.c.id == job_id)
        & (call_jobs.c.status == PREPARING)
        & (call_jobs.c.worker == worker)
    )
    values: dict[str, Any] = {"status": status, "heartbeat_at": now}
    if status == QUEUED:
        values.update(worker=None, heartbeat_at=None)
    result = await conn.execute(update(call_jobs).where(held).values(**values))
    return bool(result.rowcount)


async def job_status(conn: AsyncConnection, call_id: str) -> str | None:
    row = (
        await conn.execute(select(call_jobs.c.status).where(call_jobs.c.call_id == call_id))
    ).first()
    return None if row is None else str(row[0])


async def call_row(conn: AsyncConnection, call_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(calls).where(calls.c.id == call_id))).first()
    return dict(row._mapping) if row else None


async def replace_script(
    conn: AsyncConnection, call_id: str, script: dict[str, Any], *, now: float
) -> None:
    """Store the call's script with its audio URLs replaced by the voice files fetched."""
    await conn.execute(
        update(calls).where(calls.c.id == call_id).values(script=script, updated_at=now)
    )


async def fail_queued_call(
    conn: AsyncConnection, call_id: str, *, result: dict[str, Any], now: float
) -> dict[str, Any] | None:
    """End a call that never left the queue; its row as it now stands, or None if it had."""
    row = (
        await conn.execute(
            update(calls)
            .where((calls.c.id == call_id) & (calls.c.status == QUEUED))
            .values(
                status=FAILED,
                ended_at=now,
                updated_at=now,
                hangup_side="system",
                result=result,
            )
            .returning(*calls.c)
        )
    ).first()
    return dict(row._mapping) if row else None
