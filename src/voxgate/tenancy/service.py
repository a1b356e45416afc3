"""Tenant administration: one service used by the admin API, the CLI and provisioning."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from voxgate.errors import Conflict, InvalidInput, NotFound
from voxgate.security.secrets import SecretBox, new_secret
from voxgate.store import routing
from voxgate.store import tenants as repo
from voxgate.store.db import Database
from voxgate.tenancy.profile import TenantProfile


@dataclass(frozen=True)
class Credentials:
    """Freshly minted credentials: the only time the secrets are visible."""

    tenant_id: str
    name: str
    app_key: str
    app_secret: str
    appkey: str
    secretkey: str
    appid: str
    accesskey: str
    companycode: str

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "name": self.name,
            "huawei": {"app_key": self.app_key, "app_secret": self.app_secret},
            "nxcloud": {"appkey": self.appkey, "secretkey": self.secretkey},
            "sipcall": {
                "appid": self.appid,
                "accesskey": self.accesskey,
                "companycode": self.companycode,
            },
        }

    def __repr__(self) -> str:
        return f"<Credentials tenant={self.name} secrets=**********>"


TENANT_FLAGS = {
    "trial": bool,
    "vdn_enabled": bool,
    "anonymize_caller": bool,
    "subscribed": bool,
    "status": str,
    "bidirectional_type": str,
    "default_callback_url": str,
    "webhook_url": str,
}


def _check_flag(name: str, value: Any) -> Any:
    kind = TENANT_FLAGS.get(name)
    if kind is None:
        raise InvalidInput(f"unknown tenant setting {name!r}", field=name)
    if not isinstance(value, kind):
        raise InvalidInput(f"{name} must be a {kind.__name__}", field=name)
    if name == "status" and value not in ("active", "suspended"):
        raise InvalidInput("status must be active or suspended", field=name)
    if name == "bidirectional_type" and value not in ("AICC", "ITA"):
        raise InvalidInput("bidirectional_type must be AICC or ITA", field=name)
    return value


def _digits(value: str, what: str) -> str:
    value = value.strip()
    if not value.isdigit() or len(value) > 32:
        raise InvalidInput(f"{what} must be 1 to 32 digits, got {value!r}", field=what)
    return value


class TenantService:
    def __init__(self, *, db: Database, box: SecretBox) -> None:
        self.db = db
        self.box = box

    async def create(
        self,
        name: str,
        *,
        trial: bool = False,
        credentials: dict[str, str] | None = None,
        **flags: Any,
    ) -> Credentials:
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("tenant name must be 1 to 100 characters", field="name")
        for key, value in flags.items():
            _check_flag(key, value)
        given = credentials or {}
        tenant_id = uuid.uuid4().hex
        async with self.db.begin() as conn:
            if await repo.find_tenant(conn, name) is not None:
                raise Conflict(f"a tenant named {name!r} already exists")
            companycode = given.get("companycode") or await self._free_companycode(conn)
            if await repo.get_tenant_by_companycode(conn, companycode) is not None:
                raise Conflict(f"company code {companycode!r} is taken")
            creds = Credentials(
                tenant_id=tenant_id,
                name=name,
                app_key=given.get("app_key") or new_secret(16),
                app_secret=given.get("app_secret") or new_secret(),
                appkey=given.get("appkey") or new_secret(8),
                secretkey=given.get("secretkey") or new_secret(12),
                appid=given.get("appid") or new_secret(8),
                accesskey=given.get("accesskey") or new_secret(16),
                companycode=companycode,
            )
            now = time.time()
            settings: dict[str, Any] = {
                "status": "active",
                "subscribed": True,
                "vdn_enabled": True,
                "trial": trial,
                "anonymize_caller": False,
                "bidirectional_type": "AICC",
                **flags,
            }
            await repo.insert_tenant(
                conn,
                id=tenant_id,
                name=name,
                companycode=companycode,
                created_at=now,
                **settings,
            )
            await repo.insert_app(
                conn,
                id=uuid.uuid4().hex,
                tenant_id=tenant_id,
                name="default",
                huawei_app_key=creds.app_key,
                huawei_secret_hash=self.box.hash(creds.app_secret),
                nxcloud_appkey=creds.appkey,
                nxcloud_secret_hash=self.box.hash(creds.secretkey),
                sipcall_appid=creds.appid,
                sipcall_accesskey_hash=self.box.hash(creds.accesskey),
                created_at=now,
            )
        return creds

    @staticmethod
    async def _free_companycode(conn: AsyncConnection) -> str:
        """A 4-digit company code while they last (PhalApi codes are short), then longer."""
        for digits in (4, 4, 4, 6, 6, 8, 8):
            code = str(10 ** (digits - 1) + secrets.randbelow(9 * 10 ** (digits - 1)))
            if await repo.get_tenant_by_companycode(conn, code) is None:
                return code
        raise Conflict("no free company code; pass one explicitly")

    async def resolve(self, id_or_name: str) -> repo.Tenant:
        async with self.db.connect() as conn:
            tenant = await repo.find_tenant(conn, id_or_name)
        if tenant is None:
            raise NotFound(f"no tenant with id or name {id_or_name!r}")
        return tenant

    async def update(self, id_or_name: str, **flags: Any) -> repo.Tenant:
        tenant = await self.resolve(id_or_name)
        values = {k: _check_flag(k, v) for k, v in flags.items()}
        secrets_in = {
            k: values.pop(k) for k in ("callback_secret", "webhook_secret") if k in values
        }
        for k, v in secrets_in.items():
            values[k] = self.box.encrypt(v)
        if values:
            async with self.db.begin() as conn:
                await repo.update_tenant(conn, tenant.id, **values)
        return await self.resolve(tenant.id)

    async def set_secret(self, id_or_name: str, which: str, secret: str) -> None:
        if which not in ("callback_secret", "webhook_secret"):
            raise InvalidInput(f"unknown secret {which!r}", field="which")
        if len(secret) < 8:
            raise InvalidInput("a signing secret needs at least 8 characters", field=which)
        tenant = await self.resolve(id_or_name)
        async with self.db.begin() as conn:
            await repo.update_tenant(conn, tenant.id, **{which: self.box.encrypt(secret)})

    async def set_app_urls(self, id_or_name: str, **urls: str | None) -> None:
        unknown = set(urls) - {"dr_url", "cdr_url", "status_url"}
        if unknown:
            raise InvalidInput(f"unknown app URL {sorted(unknown)[0]!r}")
        tenant = await self.resolve(id_or_name)
        async with self.db.begin() as conn:
            for app in await repo.apps_of(conn, tenant.id):
                await repo.update_app(conn, app.id, **urls)

    async def trust_callback_host(self, id_or_name: str, host: str) -> bool:
        host = host.strip().lower()
        if not host or "/" in host or " " in host or len(host) > 255:
            raise InvalidInput(f"not a host or host:port: {host!r}", field="host")
        tenant = await self.resolve(id_or_name)
        async with self.db.begin() as conn:
            return await repo.add_trusted_host(conn, tenant.id, host)

    async def trust_number(self, id_or_name: str, number: str) -> bool:
        number = _digits(number.lstrip("+"), "number")
        tenant = await self.resolve(id_or_name)
        async with self.db.begin() as conn:
            return await repo.add_trusted_number(conn, tenant.id, number)

    async def add_access_code(self, id_or_name: str, code: str) -> bool:
        code = _digits(code, "access_code")
        tenant = await self.resolve(id_or_name)
        async with self.db.begin() as conn:
            return await repo.add_access_code(conn, tenant.id, code)

    async def add_softphone_range(self, id_or_name: str, first: str, last: str) -> bool:
        first, last = _digits(first, "from"), _digits(last, "to")
        if len(first) != len(last) or int(first) > int(last):
            raise InvalidInput("a softphone range needs FROM <= TO with the same number of digits")
        tenant = await self.resolve(id_or_name)
        async with self.db.begin() as conn:
            return await repo.add_softphone_range(conn, tenant.id, first, last)

    async def add_extension(
        self, id_or_name: str, number: str, *, password: str, group: str | None
    ) -> None:
        number = _digits(number, "extension")
        if len(password) < 4:
            raise InvalidInput("an extension password needs at least 4 characters")
        tenant = await self.resolve(id_or_name)
        async with self.db.begin() as conn:
            group_id = await repo.ensure_extension_group(conn, tenant.id, group) if group else None
            await repo.upsert_extension(
                conn, tenant.id, number, self.box.encrypt(password), group_id
            )

    async def add_ivr_flow(self, id_or_name: str, name: str, script: dict[str, Any]) -> int:
        """An IVR flow is a call script run for an inbound call (no dial step needed)."""
        from pydantic import ValidationError

        from voxgate.calls.script import Dial, IvrScript

        try:
            parsed = IvrScript.model_validate(script)
        except ValidationError as exc:
            raise InvalidInput(f"invalid IVR script: {exc.errors()[0]['msg']}") from None
        if any(isinstance(step, Dial) for step in parsed.steps):
            raise InvalidInput("an IVR flow answers a call; it has no dial step")
        tenant = await self.resolve(id_or_name)
        async with self.db.begin() as conn:
            return await routing.insert_ivr_flow(
                conn,
                tenant_id=tenant.id,
                name=name,
                script=parsed.model_dump(mode="json", by_alias=True),
                created_at=time.time(),
            )

    async def profile(self, tenant_id: str) -> TenantProfile:
        async with self.db.connect() as conn:
            tenant = await repo.get_tenant(conn, tenant_id)
            if tenant is None:
                raise NotFound(f"no tenant {tenant_id}")
            return TenantProfile(
                tenant=tenant,
                access_codes=frozenset(await repo.access_codes_of(conn, tenant_id)),
                trusted_numbers=frozenset(await repo.trusted_numbers_of(conn, tenant_id)),
                trusted_hosts=frozenset(await repo.trusted_hosts_of(conn, tenant_id)),
                softphone_ranges=tuple(await repo.softphone_ranges_of(conn, tenant_id)),
            )

    async def describe(self, id_or_name: str) -> dict[str, Any]:
        tenant = await self.resolve(id_or_name)
        prof = await self.profile(tenant.id)
        async with self.db.connect() as conn:
            app_list = await repo.apps_of(conn, tenant.id)
            groups = await repo.extension_group_names(conn, tenant.id)
        return {
            "tenant_id": tenant.id,
            "name": tenant.name,
            "status": tenant.status,
            "subscribed": tenant.subscribed,
            "trial": tenant.trial,
            "vdn_enabled": tenant.vdn_enabled,
            "anonymize_caller": tenant.anonymize_caller,
            "bidirectional_type": tenant.bidirectional_type,
            "companycode": tenant.companycode,
            "default_callback_url": tenant.default_callback_url,
            "webhook_url": tenant.webhook_url,
            "callback_secret_set": tenant.callback_secret is not None,
            "webhook_secret_set": tenant.webhook_secret is not None,
            "access_codes": sorted(prof.access_codes),
            "trusted_numbers": sorted(prof.trusted_numbers),
            "trusted_callback_hosts": sorted(prof.trusted_hosts),
            "softphone_ranges": [list(r) for r in prof.softphone_ranges],
            "extension_groups": groups,
            "apps": [
                {
                    "name": a.name,
                    "huawei_app_key": a.huawei_app_key,
                    "nxcloud_appkey": a.nxcloud_appkey,
                    "sipcall_appid": a.sipcall_appid,
                    "dr_url": a.dr_url,
                    "cdr_url": a.cdr_url,
                    "status_url": a.status_url,
                }
                for a in app_list
            ],
        }
