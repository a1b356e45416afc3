"""Called routes, skill queues and IVR flows: the SQL side."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from voxgate.store.schema import called_routes, ivr_flows, skills


async def insert_skill(conn: AsyncConnection, **values: Any) -> int:
    result = await conn.execute(insert(skills).values(**values).returning(skills.c.id))
    return int(result.scalar_one())


async def skill_name_taken(conn: AsyncConnection, tenant_id: str, name: str) -> bool:
    found = await conn.execute(
        select(skills.c.id).where((skills.c.tenant_id == tenant_id) & (skills.c.name == name))
    )
    return found.first() is not None


async def list_skills(
    conn: AsyncConnection, tenant_id: str, *, offset: int, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    where = skills.c.tenant_id == tenant_id
    total = (await conn.execute(select(func.count()).select_from(skills).where(where))).scalar_one()
    rows = await conn.execute(
        select(skills).where(where).order_by(skills.c.id).offset(offset).limit(limit)
    )
    return int(total), [dict(r._mapping) for r in rows]


async def delete_skills(conn: AsyncConnection, tenant_id: str, ids: list[int]) -> int:
    result = await conn.execute(
        delete(skills).where((skills.c.tenant_id == tenant_id) & skills.c.id.in_(ids))
    )
    return int(result.rowcount)


async def insert_ivr_flow(conn: AsyncConnection, **values: Any) -> int:
    result = await conn.execute(insert(ivr_flows).values(**values).returning(ivr_flows.c.id))
    return int(result.scalar_one())


async def list_ivr_flows(
    conn: AsyncConnection, tenant_id: str, *, offset: int, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    where = ivr_flows.c.tenant_id == tenant_id
    total = (
        await conn.execute(select(func.count()).select_from(ivr_flows).where(where))
    ).scalar_one()
    rows = await conn.execute(
        select(ivr_flows).where(where).order_by(ivr_flows.c.id).offset(offset).limit(limit)
    )
    return int(total), [dict(r._mapping) for r in rows]


async def device_exists(
    conn: AsyncConnection, tenant_id: str, device_type: int, device_id: int
) -> dict[str, Any] | None:
    table = skills if device_type == 1 else ivr_flows
    row = (
        await conn.execute(
            select(table).where((table.c.tenant_id == tenant_id) & (table.c.id == device_id))
        )
    ).first()
    return dict(row._mapping) if row else None


async def route_exists(
    conn: AsyncConnection, tenant_id: str, access_code: str, ext_code: str
) -> bool:
    found = await conn.execute(
        select(called_routes.c.id).where(
            (called_routes.c.tenant_id == tenant_id)
            & (called_routes.c.access_code == access_code)
            & (called_routes.c.ext_code == ext_code)
        )
    )
    return found.first() is not None


async def insert_route(conn: AsyncConnection, **values: Any) -> int:
    result = await conn.execute(
        insert(called_routes).values(**values).returning(called_routes.c.id)
    )
    return int(result.scalar_one())


async def get_route(conn: AsyncConnection, tenant_id: str, route_id: int) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(called_routes).where(
                (called_routes.c.tenant_id == tenant_id) & (called_routes.c.id == route_id)
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def update_route(conn: AsyncConnection, route_id: int, **values: Any) -> None:
    await conn.execute(update(called_routes).where(called_routes.c.id == route_id).values(**values))


async def delete_routes(conn: AsyncConnection, tenant_id: str, ids: list[int]) -> int:
    result = await conn.execute(
        delete(called_routes).where(
            (called_routes.c.tenant_id == tenant_id) & called_routes.c.id.in_(ids)
        )
    )
    return int(result.rowcount)


async def query_routes(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    filters: dict[str, Any],
    offset: int,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:
    where = called_routes.c.tenant_id == tenant_id
    for key, value in filters.items():
        where = where & (called_routes.c[key] == value)
    total = (
        await conn.execute(select(func.count()).select_from(called_routes).where(where))
    ).scalar_one()
    rows = await conn.execute(
        select(called_routes).where(where).order_by(called_routes.c.id).offset(offset).limit(limit)
    )
    return int(total), [dict(r._mapping) for r in rows]


async def match_route(conn: AsyncConnection, dialled: str) -> dict[str, Any] | None:
    """The route whose accessCode + extCode equals the dialled number."""
    full = called_routes.c.access_code + called_routes.c.ext_code
    row = (await conn.execute(select(called_routes).where(full == dialled).limit(1))).first()
    return dict(row._mapping) if row else None
