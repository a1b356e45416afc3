"""Native API v1: the webhook delivery log, replay, and per-tenant webhook settings.

Who may call: a tenant with HTTP Basic (its own deliveries only; another tenant's delivery is a
404) or the operator with the admin bearer token (every tenant's). See ``api/auth_native.py``.
"""

from __future__ import annotations

import base64
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from voxgate.api.auth_native import admin, native_caller
from voxgate.api.deps import services_of
from voxgate.api.jsonresponse import json_response
from voxgate.api.schemas import problem_responses
from voxgate.errors import InvalidInput, NotFound
from voxgate.store import webhooks as store
from voxgate.webhooks import signing, targets

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

DeliveryId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]{1,32}$")]
STATUSES = ("pending", "delivered", "dead")


class DeliveryNotFound(NotFound):
    """No such webhook delivery."""

    error_id = "delivery_not_found"


async def scope(request: Request) -> str | None:
    """The tenant whose deliveries the caller may see; None for the operator (all)."""
    scheme = request.headers.get("authorization", "").partition(" ")[0].lower()
    if scheme == "bearer":
        await admin(request)
        return None
    caller = await native_caller(request)
    return caller.tenant_id


Scope = Annotated[str | None, Depends(scope)]


def _attempt(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "attempt": a["attempt"],
        "at": a["created_at"],
        "status_code": a["status_code"],
        "latency_ms": a["latency_ms"],
        "error": a["error"],
        "request": a["request"],
        "response_head": a["response_head"],
    }


def _delivery(d: dict[str, Any], *, full: bool = False) -> dict[str, Any]:
    out = {
        "id": d["id"],
        "tenant_id": d["tenant_id"],
        "call_id": d["call_id"],
        "event_id": d["event_id"],
        "event_type": d["event_type"],
        "seq": d["seq"],
        "format": d["format"],
        "url": d["url"],
        "status": d["status"],
        "attempts": d["attempts"],
        "next_attempt_at": d["next_attempt_at"] if d["status"] == "pending" else None,
        "last_status": d["last_status"],
        "last_error": d["last_error"],
        "created_at": d["created_at"],
        "delivered_at": d["delivered_at"],
    }
    if full:
        out["content_type"] = d["content_type"]
        out["body"] = d["body"]
    if "attempts_log" in d:
        out["attempts_log"] = [_attempt(a) for a in d["attempts_log"]]
    return out


@router.get(
    "/deliveries",
    summary="Webhook deliveries, with their attempts when filtered by call",
    responses=problem_responses(401, 403, 422),
)
async def list_deliveries(
    request: Request,
    tenant: Scope,
    call_id: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|dead)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    services = services_of(request)
    async with services.db.connect() as conn:
        if call_id is not None:
            rows = await store.call_deliveries_with_attempts(conn, call_id, tenant)
            if status is not None:
                rows = [r for r in rows if r["status"] == status]
            rows = rows[:limit]
        else:
            rows = await store.list_deliveries(conn, tenant_id=tenant, status=status, limit=limit)
    return json_response({"items": [_delivery(r) for r in rows]})


@router.get(
    "/deliveries/{delivery_id}",
    summary="One delivery: its exact body and every attempt",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_delivery(request: Request, delivery_id: DeliveryId, tenant: Scope) -> Response:
    services = services_of(request)
    async with services.db.connect() as conn:
        row = await store.get_delivery(conn, delivery_id, tenant)
        if row is None:
            raise DeliveryNotFound()
        row["attempts_log"] = (await store.attempts_of(conn, [delivery_id]))[delivery_id]
    return json_response(_delivery(row, full=True))


@router.post(
    "/deliveries/{delivery_id}/replay",
    status_code=202,
    summary="Send a delivery again (dead, delivered or pending), with a fresh retry budget",
    responses=problem_responses(401, 403, 404, 422),
)
async def replay_delivery(request: Request, delivery_id: DeliveryId, tenant: Scope) -> Response:
    services = services_of(request)
    async with services.db.begin() as conn:
        if not await store.replay(conn, delivery_id, now=time.time(), tenant_id=tenant):
            raise DeliveryNotFound()
        row = await store.get_delivery(conn, delivery_id)
    services.webhooks.wake()
    assert row is not None
    return json_response(_delivery(row), status_code=202)


# --- per-tenant settings (operator) -------------------------------------------------------


class ConnectUrl(BaseModel):
    url: str | None = Field(default=None, max_length=512)


async def _tenant_id(request: Request, tenant: str) -> str:
    return (await services_of(request).tenants.resolve(tenant)).id


@router.put(
    "/tenants/{tenant}/connect-callback-url",
    dependencies=[Depends(admin)],
    summary="Set the Huawei bidirectional-call connect callback URL of a tenant",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def set_connect_url(request: Request, tenant: str, body: ConnectUrl) -> Response:
    if body.url is not None and targets.refusal(
        body.url, trustlist=(), from_request=False, addresses=()
    ):
        raise InvalidInput("the connect callback URL must be an http or https URL", field="url")
    tenant_id = await _tenant_id(request, tenant)
    async with services_of(request).db.begin() as conn:
        await store.set_tenant_hooks(conn, tenant_id, connect_callback_url=body.url)
    return json_response({"tenant_id": tenant_id, "connect_callback_url": body.url})


@router.post(
    "/tenants/{tenant}/signing-key",
    dependencies=[Depends(admin)],
    summary="Create (or rotate) the tenant's Ed25519 webhook signing key",
    responses=problem_responses(401, 403, 404),
)
async def rotate_signing_key(request: Request, tenant: str) -> Response:
    services = services_of(request)
    tenant_id = await _tenant_id(request, tenant)
    seed = signing.new_ed25519_seed()
    sealed = services.box.encrypt(base64.b64encode(seed).decode("ascii"))
    async with services.db.begin() as conn:
        await store.set_tenant_hooks(conn, tenant_id, webhook_signing_key=sealed)
    public = signing.ed25519_public_b64(signing.ed25519_key(seed))
    return json_response({"tenant_id": tenant_id, "ed25519_public_key": public})


@router.get(
    "/tenants/{tenant}/signing-key",
    dependencies=[Depends(admin)],
    summary="The tenant's Ed25519 public key (for receivers to verify with)",
    responses=problem_responses(401, 403, 404),
)
async def get_signing_key(request: Request, tenant: str) -> Response:
    services = services_of(request)
    tenant_id = await _tenant_id(request, tenant)
    async with services.db.connect() as conn:
        target = await store.hook_target(conn, tenant_id)
    if target is None or target.webhook_signing_key is None:
        raise NotFound("the tenant has no Ed25519 signing key")
    seed = base64.b64decode(services.box.decrypt(target.webhook_signing_key))
    public = signing.ed25519_public_b64(signing.ed25519_key(seed))
    return json_response({"tenant_id": tenant_id, "ed25519_public_key": public})
