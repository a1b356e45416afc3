"""``voxgate provision FILE.toml``: tenants and everything they own, from one file.

Applying a plan twice changes nothing the second time. Lists (trust lists, access codes,
ranges, extensions) are added to, never pruned.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voxgate.errors import InvalidInput, NotFound
from voxgate.tenancy.service import TenantService


class ExtensionPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str
    password: str
    group: str | None = None


class CredentialsPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    app_key: str | None = None
    app_secret: str | None = None
    appkey: str | None = None
    secretkey: str | None = None
    appid: str | None = None
    accesskey: str | None = None
    companycode: str | None = None


class TenantPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    trial: bool = False
    vdn_enabled: bool = True
    anonymize_caller: bool = False
    bidirectional_type: str = "AICC"
    status: str = "active"
    default_callback_url: str | None = None
    webhook_url: str | None = None
    callback_secret: str | None = None
    webhook_secret: str | None = None
    dr_url: str | None = None
    cdr_url: str | None = None
    status_url: str | None = None
    access_codes: list[str] = Field(default_factory=list)
    trusted_numbers: list[str] = Field(default_factory=list)
    trusted_callback_hosts: list[str] = Field(default_factory=list)
    softphone_ranges: list[tuple[str, str]] = Field(default_factory=list)
    extensions: list[ExtensionPlan] = Field(default_factory=list)
    credentials: CredentialsPlan | None = None


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: list[TenantPlan] = Field(default_factory=list)

    async def apply(self, service: TenantService) -> dict[str, Any]:
        report: dict[str, Any] = {"created": [], "updated": []}
        for t in self.tenant:
            try:
                await service.resolve(t.name)
                existed = True
            except NotFound:
                existed = False
            if not existed:
                creds = t.credentials.model_dump(exclude_none=True) if t.credentials else None
                made = await service.create(t.name, trial=t.trial, credentials=creds)
                report["created"].append(made.as_json())
            else:
                report["updated"].append(t.name)
            await service.update(
                t.name,
                trial=t.trial,
                vdn_enabled=t.vdn_enabled,
                anonymize_caller=t.anonymize_caller,
                bidirectional_type=t.bidirectional_type,
                status=t.status,
                **{
                    k: v
                    for k, v in (
                        ("default_callback_url", t.default_callback_url),
                        ("webhook_url", t.webhook_url),
                    )
                    if v is not None
                },
            )
            for which in ("callback_secret", "webhook_secret"):
                secret = getattr(t, which)
                if secret:
                    await service.set_secret(t.name, which, secret)
            urls = {k: getattr(t, k) for k in ("dr_url", "cdr_url", "status_url")}
            if any(urls.values()):
                await service.set_app_urls(t.name, **{k: v for k, v in urls.items() if v})
            for code in t.access_codes:
                await service.add_access_code(t.name, code)
            for number in t.trusted_numbers:
                await service.trust_number(t.name, number)
            for host in t.trusted_callback_hosts:
                await service.trust_callback_host(t.name, host)
            for first, last in t.softphone_ranges:
                await service.add_softphone_range(t.name, first, last)
            for ext in t.extensions:
                await service.add_extension(
                    t.name, ext.number, password=ext.password, group=ext.group
                )
        return report


def load_plan(path: Path) -> Plan:
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path} is not valid TOML: {exc}") from None
    try:
        return Plan.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{path}: {where}: {first['msg']}") from None
