"""Tenants, apps, trust lists and number plans: the SQL side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from voxgate.errors import Conflict
from voxgate.store.schema import (
    access_codes,
    apps,
    extension_groups,
    extensions,
    softphone_ranges,
    tenants,
    trusted_callback_hosts,
    trusted_numbers,
)


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    status: str
    subscribed: bool
    vdn_enabled: bool
    trial: bool
    anonymize_caller: bool
    bidirectional_type: str
    companycode: str
    default_callback_url: str | None
    webhook_url: str | None
    callback_secret: bytes | None
    webhook_secret: bytes | None

    @property
    def active(self) -> bool:
        return self.status == "active" and self.subscribed

    def __repr__(self) -> str:
        flags = [f for f in ("trial", "anonymize_caller") if getattr(self, f)]
        return f"<Tenant {self.name} {self.id[:8]} {self.status} {' '.join(flags)}>".replace(
            "  ", " "
        )


@dataclass(frozen=True, slots=True)
class App:
    id: str
    tenant_id: str
    name: str
    huawei_app_key: str
    huawei_secret_hash: str
    nxcloud_appkey: str
    nxcloud_secret_hash: str
    sipcall_appid: str
    sipcall_accesskey_hash: str
    dr_url: str | None
    cdr_url: str | None
    status_url: str | None

    def __repr__(self) -> str:
        return f"<App {self.name} tenant={self.tenant_id[:8]}>"


_TENANT_COLS = [tenants.c[f] for f in Tenant.__dataclass_fields__]
_APP_COLS = [apps.c[f] for f in App.__dataclass_fields__]


def _tenant(row: Any) -> Tenant:
    return Tenant(**row._mapping)


def _app(row: Any) -> App:
    return App(**row._mapping)


async def insert_tenant(conn: AsyncConnection, **values: Any) -> None:
    try:
        await conn.execute(insert(tenants).values(**values))
    except IntegrityError:
        raise Conflict(f"a tenant named {values.get('name')!r} already exists") from None


async def update_tenant(conn: AsyncConnection, tenant_id: str, **values: Any) -> None:
    await conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(**values))


async def get_tenant(conn: AsyncConnection, tenant_id: str) -> Tenant | None:
    row = (await conn.execute(select(*_TENANT_COLS).where(tenants.c.id == tenant_id))).first()
    return _tenant(row) if row else None


async def find_tenant(conn: AsyncConnection, id_or_name: str) -> Tenant | None:
    row = (
        await conn.execute(
            select(*_TENANT_COLS).where(
                (tenants.c.id == id_or_name) | (tenants.c.name == id_or_name)
            )
        )
    ).first()
    return _tenant(row) if row else None


async def get_tenant_by_companycode(conn: AsyncConnection, code: str) -> Tenant | None:
    row = (await conn.execute(select(*_TENANT_COLS).where(tenants.c.companycode == code))).first()
    return _tenant(row) if row else None


async def list_tenants(conn: AsyncConnection) -> list[Tenant]:
    rows = await conn.execute(select(*_TENANT_COLS).order_by(tenants.c.created_at))
    return [_tenant(r) for r in rows]


async def count_tenants(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(tenants))).scalar_one())


async def insert_app(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(apps).values(**values))


async def update_app(conn: AsyncConnection, app_id: str, **values: Any) -> None:
    await conn.execute(update(apps).where(apps.c.id == app_id).values(**values))


async def apps_of(conn: AsyncConnection, tenant_id: str) -> list[App]:
    rows = await conn.execute(
        select(*_APP_COLS).where(apps.c.tenant_id == tenant_id).order_by(apps.c.created_at)
    )
    return [_app(r) for r in rows]


async def app_by(conn: AsyncConnection, column: str, value: str) -> App | None:
    """Look an app up by one of its unique public identifiers."""
    if column not in ("id", "huawei_app_key", "nxcloud_appkey", "sipcall_appid"):
        raise ValueError(column)
    row = (await conn.execute(select(*_APP_COLS).where(apps.c[column] == value))).first()
    return _app(row) if row else None


# --- trust lists and number plans ---------------------------------------------------------


async def _add_unique(conn: AsyncConnection, table: Any, **values: Any) -> bool:
    exists = (
        await conn.execute(
            select(func.count())
            .select_from(table)
            .where(*[table.c[k] == v for k, v in values.items()])
        )
    ).scalar_one()
    if exists:
        return False
    await conn.execute(insert(table).values(**values))
    return True


async def add_trusted_number(conn: AsyncConnection, tenant_id: str, number: str) -> bool:
    return await _add_unique(conn, trusted_numbers, tenant_id=tenant_id, number=number)


async def add_trusted_host(conn: AsyncConnection, tenant_id: str, host: str) -> bool:
    return await _add_unique(conn, trusted_callback_hosts, tenant_id=tenant_id, host=host)


async def add_access_code(conn: AsyncConnection, tenant_id: str, code: str) -> bool:
    return await _add_unique(conn, access_codes, tenant_id=tenant_id, code=code)


async def add_softphone_range(conn: AsyncConnection, tenant_id: str, first: str, last: str) -> bool:
    return await _add_unique(conn, softphone_ranges, tenant_id=tenant_id, first=first, last=last)


async def remove_trusted_host(conn: AsyncConnection, tenant_id: str, host: str) -> None:
    await conn.execute(
        delete(trusted_callback_hosts).where(
            (trusted_callback_hosts.c.tenant_id == tenant_id)
            & (trusted_callback_hosts.c.host == host)
        )
    )


async def _values(conn: AsyncConnection, column: Any, tenant_id: str) -> list[str]:
    rows = await conn.execute(
        select(column).where(column.table.c.tenant_id == tenant_id).order_by(column)
    )
    return [r[0] for r in rows]


async def trusted_numbers_of(conn: AsyncConnection, tenant_id: str) -> list[str]:
    return await _values(conn, trusted_numbers.c.number, tenant_id)


async def trusted_hosts_of(conn: AsyncConnection, tenant_id: str) -> list[str]:
    return await _values(conn, trusted_callback_hosts.c.host, tenant_id)


async def access_codes_of(conn: AsyncConnection, tenant_id: str) -> list[str]:
    return await _values(conn, access_codes.c.code, tenant_id)


async def softphone_ranges_of(conn: AsyncConnection, tenant_id: str) -> list[tuple[str, str]]:
    rows = await conn.execute(
        select(softphone_ranges.c.first, softphone_ranges.c.last)
        .where(softphone_ranges.c.tenant_id == tenant_id)
        .order_by(softphone_ranges.c.first)
    )
    return [(r[0], r[1]) for r in rows]


# --- extensions ------------------------------------------------------------------------------


async def ensure_extension_group(conn: AsyncConnection, tenant_id: str, name: str) -> int:
    found = (
        await conn.execute(
            select(extension_groups.c.id).where(
                (extension_groups.c.tenant_id == tenant_id) & (extension_groups.c.name == name)
            )
        )
    ).scalar_one_or_none()
    if found is not None:
        return int(found)
    result = await conn.execute(
        insert(extension_groups)
        .values(tenant_id=tenant_id, name=name)
        .returning(extension_groups.c.id)
    )
    return int(result.scalar_one())


async def upsert_extension(
    conn: AsyncConnection, tenant_id: str, number: str, password: bytes, group_id: int | None
) -> None:
    found = (
        await conn.execute(
            select(extensions.c.id).where(
                (extensions.c.tenant_id == tenant_id) & (extensions.c.number == number)
            )
        )
    ).scalar_one_or_none()
    if found is None:
        await conn.execute(
            insert(extensions).values(
                tenant_id=tenant_id, number=number, password=password, group_id=group_id
            )
        )
    else:
        await conn.execute(
            update(extensions)
            .where(extensions.c.id == found)
            .values(password=password, group_id=group_id)
        )


async def extension_group_names(conn: AsyncConnection, tenant_id: str) -> list[str]:
    return await _values(conn, extension_groups.c.name, tenant_id)


async def extensions_in_group(conn: AsyncConnection, tenant_id: str, group: str) -> Sequence[str]:
    rows = await conn.execute(
        select(extensions.c.number)
        .join(extension_groups, extensions.c.group_id == extension_groups.c.id)
        .where(
            (extensions.c.tenant_id == tenant_id)
            & (extension_groups.c.name == group)
            & extensions.c.enabled
        )
        .order_by(extensions.c.number)
    )
    return [r[0] for r in rows]
