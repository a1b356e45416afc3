"""Idempotency keys: the first answer to a keyed request, kept to replay it.

A record is written in the same transaction as the rows the request created, so a replayed
answer always describes rows that exist. Records older than the retention window count as
absent and are replaced by the next request that uses their key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from voxgate.errors import Conflict
from voxgate.store.schema import idempotency_keys

RETENTION_SECONDS = 24 * 3600


class KeyTaken(Conflict):
    """Another request holds this idempotency key."""

    error_id = "idempotency_key_in_use"


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    body_hash: str
    status_code: int
    response: str
    created_at: float

    def __repr__(self) -> str:
        return f"<StoredAnswer {self.status_code} hash={self.body_hash[:8]}>"


async def find(
    conn: AsyncConnection, tenant_id: str, key: str, *, now: float
) -> StoredAnswer | None:
    """The live record for this tenant's key, if any."""
    row = (
        await conn.execute(
            select(
                idempotency_keys.c.body_hash,
                idempotency_keys.c.status_code,
                idempotency_keys.c.response,
                idempotency_keys.c.created_at,
            ).where(
                (idempotency_keys.c.tenant_id == tenant_id)
                & (idempotency_keys.c.key == key)
                & (idempotency_keys.c.created_at > now - RETENTION_SECONDS)
            )
        )
    ).first()
    return StoredAnswer(*row) if row else None


async def record(
    conn: AsyncConnection,
    *,
    tenant_id: str,
    key: str,
    body_hash: str,
    status_code: int,
    response: str,
    now: float,
) -> None:
    """Store the answer in the caller's transaction.

    A live record with the same key (a concurrent request won it) raises KeyTaken, and the
    transaction must roll back; an expired record is replaced.
    """
    await conn.execute(
        delete(idempotency_keys).where(
            (idempotency_keys.c.tenant_id == tenant_id)
            & (idempotency_keys.c.key == key)
            & (idempotency_keys.c.created_at <= now - RETENTION_SECONDS)
        )
    )
    try:
        await conn.execute(
            insert(idempotency_keys).values(
                tenant_id=tenant_id,
                key=key,
                body_hash=body_hash,
                status_code=status_code,
                response=response,
                created_at=now,
            )
        )
    except IntegrityError:
        raise KeyTaken() from None


async def prune(conn: AsyncConnection, *, now: float) -> int:
    """Delete every expired record; returns how many went."""
    result = await conn.execute(
        delete(idempotency_keys).where(idempotency_keys.c.created_at <= now - RETENTION_SECONDS)
    )
    return int(result.rowcount)
