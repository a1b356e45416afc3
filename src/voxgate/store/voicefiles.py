"""Voice files: the SQL side (the audio itself lives in the media store on disk)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from voxgate.store.schema import voice_files


async def approved_ids(conn: AsyncConnection, tenant_id: str, ids: Collection[str]) -> set[str]:
    if not ids:
        return set()
    rows = await conn.execute(
        select(voice_files.c.id).where(
            (voice_files.c.tenant_id == tenant_id)
            & (voice_files.c.id.in_(list(ids)))
            & (voice_files.c.status == "approved")
        )
    )
    return {r[0] for r in rows}


async def by_name(conn: AsyncConnection, tenant_id: str, name: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(voice_files)
            .where((voice_files.c.tenant_id == tenant_id) & (voice_files.c.name == name))
            .order_by(voice_files.c.created_at.desc())
            .limit(1)
        )
    ).first()
    return dict(row._mapping) if row else None


async def insert_voice_file(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(voice_files).values(**values))


async def list_voice_files(
    conn: AsyncConnection, tenant_id: str, *, offset: int, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(voice_files)
        .where((voice_files.c.tenant_id == tenant_id) & (voice_files.c.status == "approved"))
        .order_by(voice_files.c.created_at, voice_files.c.id)
        .offset(offset)
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


async def by_id(conn: AsyncConnection, tenant_id: str, voice_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(voice_files).where(
                (voice_files.c.tenant_id == tenant_id) & (voice_files.c.id == voice_id)
            )
        )
    ).first()
    return dict(row._mapping) if row else None
