"""Scripted call histories: create a call, then record its events the way the call flows do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from tests.support.harness import ADMIN_TOKEN, Platform, test_settings
from tests.support.server import running_server
from tests.support.store import fresh_store
from tests.webhooks.receiver import Receiver, running_receiver
from voxgate.api.services import Services
from voxgate.calls.accept import NewCall
from voxgate.calls.events import CallEvent, record_event
from voxgate.calls.script import CallScript, Dial, Hangup
from voxgate.store import calls as calls_repo
from voxgate.store.schema import calls
from voxgate.store.tenants import app_by

T0 = 1767225600.0  # 2026-01-01 00:00:00 UTC

# A retry policy that runs out in about a second, so tests can see dead letters.
FAST = {
    "webhook_backoff_base": 0.05,
    "webhook_backoff_factor": 2.0,
    "webhook_backoff_jitter": 0.1,
    "webhook_max_attempts": 4,
    "webhook_poll_seconds": 0.05,
    "webhook_connect_timeout": 1.0,
    "webhook_read_timeout": 0.5,
    "webhook_attempt_deadline": 1.0,
    "webhook_lease_seconds": 3.0,
}

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass
class HookPlatform:
    p: Platform
    rx: Receiver


@contextmanager
def hook_platform(kind: str, tmp: Path, **extra: Any) -> Iterator[HookPlatform]:
    with fresh_store(kind, tmp) as store, running_receiver() as rx:
        settings = test_settings(store, tmp / "data", **{"webhooks_enabled": True, **FAST, **extra})
        with (
            running_server(settings, schema=store.schema) as base_url,
            httpx.Client(base_url=base_url, timeout=30) as http,
        ):
            yield HookPlatform(Platform(base_url, settings, store, http), rx)


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    app_id: str
    app_key: str
    app_secret: str


def make_tenant(
    p: Platform,
    *,
    trust: Sequence[str] = ("127.0.0.1",),
    companycode: str | None = None,
    urls: dict[str, str] | None = None,
    **flags: Any,
) -> Tenant:
    name = f"wh-{uuid.uuid4().hex[:10]}"

    async def job(s: Services) -> Tenant:
        given = {"companycode": companycode} if companycode else None
        creds = await s.tenants.create(name, credentials=given)
        secrets = {k: flags.pop(k) for k in ("callback_secret", "webhook_secret") if k in flags}
        if flags:
            await s.tenants.update(name, **flags)
        for which, value in secrets.items():
            await s.tenants.set_secret(name, which, value)
        for host in trust:
            await s.tenants.trust_callback_host(name, host)
        if urls:
            await s.tenants.set_app_urls(name, **urls)
        async with s.db.connect() as conn:
            app = await app_by(conn, "huawei_app_key", creds.app_key)
        assert app is not None
        return Tenant(creds.tenant_id, name, app.id, creds.app_key, creds.app_secret)

    return p.run(job)


@dataclass(frozen=True)
class Step:
    type: str
    at: float
    data: dict[str, Any] = field(default_factory=dict)
    row: dict[str, Any] = field(default_factory=dict)


def make_call(
    p: Platform,
    tenant: Tenant,
    *,
    dialect: str,
    kind: str,
    callee: str,
    caller: str | None = None,
    callback_url: str | None = None,
    dialect_data: dict[str, Any] | None = None,
    call_id: str | None = None,
    serial_no: str | None = None,
    request_ref: str | None = None,
    created_at: float = T0,
) -> str:
    cid = call_id or uuid.uuid4().hex

    async def job(s: Services) -> str:
        await s.calls.accept(
            tenant_id=tenant.id,
            app_id=tenant.app_id,
            dialect=dialect,
            kind=kind,
            new_calls=[
                NewCall(
                    callee=callee,
                    caller=caller,
                    script=CallScript(steps=[Dial(to=callee), Hangup()]),
                    dialect_data=dialect_data or {},
                    serial_no=serial_no,
                    id=cid,
                )
            ],
            callback_url=callback_url,
            request_ref=request_ref,
        )
        async with s.db.begin() as conn:
            await conn.execute(
                update(calls)
                .where(calls.c.id == cid)
                .values(created_at=created_at, updated_at=created_at)
            )
        return cid

    return p.run(job)


STATUS_OF = {
    "call.ringing": {"status": "ringing"},
    "call.answered": {"status": "answered"},
    "call.completed": {"status": "completed"},
    "call.failed": {"status": "failed"},
}
TIME_OF = {"call.ringing": "ringing_at", "call.answered": "answered_at"}


async def record_steps(s: Services, tenant_id: str, call_id: str, steps: Sequence[Step]) -> None:
    """Each step in its own transaction: update the call row, then record the event."""
    for step in steps:
        values = {**STATUS_OF.get(step.type, {}), **step.row, "updated_at": step.at}
        if step.type in TIME_OF:
            values.setdefault(TIME_OF[step.type], step.at)
        if step.type in ("call.completed", "call.failed"):
            values.setdefault("ended_at", step.at)
        async with s.db.begin() as conn:
            await conn.execute(update(calls).where(calls.c.id == call_id).values(**values))
            call = await calls_repo.get_call(conn, tenant_id, call_id)
            assert call is not None
            await record_event(conn, call, CallEvent(step.type, step.at, step.data), sink=s.outbox)


async def seed_calls(s: Services, tenant: str, url: str, calls: int, steps: Sequence[Step]) -> None:
    """A tenant ``tenant`` whose webhooks go to ``url`` (its host trusted), with ``calls``
    native calls that each went through ``steps``: their deliveries are pending."""
    creds = await s.tenants.create(tenant, webhook_url=url)
    await s.tenants.trust_callback_host(tenant, "127.0.0.1")
    accepted = await s.calls.accept(
        tenant_id=creds.tenant_id,
        app_id=None,
        dialect="native",
        kind="script",
        new_calls=[
            NewCall(callee=f"+4930{n:06d}", caller=None, script=CallScript(steps=[Dial(to="1")]))
            for n in range(calls)
        ],
    )
    for call in accepted.calls:
        await record_steps(s, creds.tenant_id, call.id, steps)


def play(p: Platform, tenant: Tenant, call_id: str, steps: Sequence[Step]) -> None:
    p.run(lambda s: record_steps(s, tenant.id, call_id, steps))


def deliveries(p: Platform, call_id: str) -> list[dict[str, Any]]:
    r = p.http.get("/v1/webhooks/deliveries", params={"call_id": call_id}, headers=ADMIN)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def wait_settled(p: Platform, call_id: str, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Wait until no delivery of the call is pending; return them (with attempt logs)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        items = deliveries(p, call_id)
        if items and all(d["status"] != "pending" for d in items):
            return items
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries still pending: {items}")
        time.sleep(0.05)


def post_native_call(hp: HookPlatform, tenant: Tenant, callback_url: str) -> str:
    """Accept a call through the native API (the server announces ``call.queued``)."""
    r = hp.p.http.post(
        "/v1/calls",
        json={
            "script": {"steps": [{"op": "dial", "to": "88880000"}, {"op": "hangup"}]},
            "callback_url": callback_url,
        },
        auth=(tenant.app_key, tenant.app_secret),
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])
