"""Native API v1: place calls from call scripts, read them back, list them, follow them.

Parse -> check -> accept -> dump. Every call is tenant-scoped: another tenant's call is a
404, the same as a call that does not exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from voxgate.api.auth_native import NativeCaller, native_caller
from voxgate.api.deps import services_of
from voxgate.api.schemas import (
    CALL_ID,
    IDEMPOTENCY_KEY,
    Call,
    CallCreate,
    CallEvent,
    CallEventList,
    CallPage,
    WebhookDelivery,
    from_epoch,
    problem_responses,
)
from voxgate.calls.accept import NewCall
from voxgate.calls.script import Bridge, CallScript, Dial, Gather
from voxgate.errors import Conflict, Forbidden, InvalidInput, NotFound
from voxgate.store import calls as calls_repo
from voxgate.store import idempotency
from voxgate.store import webhooks as webhooks_repo
from voxgate.tenancy.profile import TenantProfile

router = APIRouter(prefix="/v1/calls", tags=["calls"])

NUMBER_CHARS = frozenset("0123456789")
MAX_PAGE = 100


class CallNotFound(NotFound):
    """No such call."""

    error_id = "call_not_found"


class InvalidNumber(InvalidInput):
    """A number in the script is not 3 to 32 digits with an optional leading +."""

    error_id = "invalid_number"


class CallerIdNotAllowed(Forbidden):
    """The `from` number is not one of the tenant's access codes."""

    error_id = "caller_id_not_allowed"


class NumberNotTrusted(Forbidden):
    """A trial tenant may only call numbers on its trust list."""

    error_id = "number_not_trusted"


class CallbackNotTrusted(Forbidden):
    """The callback URL's host is not on the tenant's callback trust list."""

    error_id = "callback_host_not_trusted"


class InvalidCursor(InvalidInput):
    """The cursor is not one this API handed out."""

    error_id = "invalid_cursor"


class IdempotencyKeyReused(Conflict):
    """This Idempotency-Key was already used with a different request body."""

    error_id = "idempotency_key_reused"


# --- checks ---------------------------------------------------------------------------------


def _number(value: str, where: str) -> str:
    digits = value[1:] if value.startswith("+") else value
    if not 3 <= len(digits) <= 32 or not set(digits) <= NUMBER_CHARS:
        raise InvalidNumber(f"{where}: {value!r} is not a phone number", field=where)
    return value


def _presented(value: str | None, profile: TenantProfile, where: str) -> str | None:
    """The number a callee sees: an access code (11-14 digits too when anonymizing)."""
    if value is None:
        return profile.default_access_code
    if value in profile.access_codes:
        return value
    if profile.tenant.anonymize_caller and value.isdigit() and 11 <= len(value) <= 14:
        return value
    raise CallerIdNotAllowed(f"{where}: {value!r} is not one of the tenant's access codes")


def _checked_steps(steps: Sequence[Any], profile: TenantProfile, where: str) -> list[Any]:
    out: list[Any] = []
    for i, step in enumerate(steps):
        at = f"{where}[{i}]"
        if isinstance(step, Dial | Bridge):
            to = _number(step.to, f"{at}.to")
            if profile.tenant.trial and to.lstrip("+") not in profile.trusted_numbers:
                raise NumberNotTrusted(f"{at}.to: {to} is not on the trial trust list")
            step = step.model_copy(update={"from_": _presented(step.from_, profile, at)})
        elif isinstance(step, Gather):
            step = step.model_copy(
                update={
                    "branches": {
                        k: _checked_steps(v, profile, f"{at}.branches.{k}")
                        for k, v in step.branches.items()
                    },
                    "no_input": _checked_steps(step.no_input, profile, f"{at}.no_input"),
                }
            )
        out.append(step)
    return out


def checked_script(script: CallScript, profile: TenantProfile) -> CallScript:
    """Numbers well formed, caller ids owned, trial limits kept; defaults filled in."""
    return CallScript(steps=_checked_steps(script.steps, profile, "script.steps"))


def checked_callback(url: str | None, profile: TenantProfile) -> str | None:
    if url is None:
        return profile.tenant.webhook_url
    parts = urlsplit(url)
    if not profile.host_trusted(parts.hostname or "", parts.port):
        raise CallbackNotTrusted(f"callback_url: {parts.netloc} is not on the trust list")
    return url


def body_hash(body: CallCreate) -> str:
    """The request as parsed, canonical: key order, spacing and defaults do not matter."""
    try:
        canonical = orjson.dumps(
            body.model_dump(mode="json", by_alias=True), option=orjson.OPT_SORT_KEYS
        )
    except orjson.JSONEncodeError:
        raise InvalidInput("the body contains text that is not valid Unicode") from None
    return hashlib.sha256(canonical).hexdigest()


# --- cursors --------------------------------------------------------------------------------


def encode_cursor(created_at: float, call_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([created_at, call_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, call_id = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidCursor() from None
    if (
        not isinstance(created_at, int | float)
        or isinstance(created_at, bool)
        or not isinstance(call_id, str)
        or len(call_id) != 32
        or not set(call_id) <= set("0123456789abcdef")
    ):
        raise InvalidCursor()
    return float(created_at), call_id


# --- routes ---------------------------------------------------------------------------------

CallId = Annotated[str, Path(pattern=CALL_ID, description="The call's id (32 hex digits).")]


def _created(text: str, status: int, *, replayed: bool) -> Response:
    call_id = orjson.loads(text).get("id", "")
    headers = {"Location": f"/v1/calls/{call_id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(text, status_code=status, media_type="application/json", headers=headers)


def _replay(stored: idempotency.StoredAnswer, digest: str) -> Response:
    if stored.body_hash != digest:
        raise IdempotencyKeyReused()
    return _created(stored.response, stored.status_code, replayed=True)


@router.post(
    "",
    status_code=201,
    response_model=Call,
    summary="Place a call",
    responses=problem_responses(400, 401, 403, 409, 422),
)
async def create_call(
    request: Request,
    body: CallCreate,
    caller: Annotated[NativeCaller, Depends(native_caller)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=IDEMPOTENCY_KEY,
            description=(
                "Makes retries safe: the same key with the same body answers with the first "
                "call again (header Idempotent-Replayed: true); the same key with another "
                "body is a 409. Keys live 24 hours."
            ),
        ),
    ] = None,
) -> Response:
    """Accept a call: it is stored and queued before this answers (201), then placed."""
    services = services_of(request)
    profile = caller.profile
    digest = body_hash(body)
    key = idempotency_key
    if key is not None:
        async with services.db.connect() as conn:
            stored = await idempotency.find(conn, profile.id, key, now=time.time())
        if stored is not None:
            return _replay(stored, digest)
    script = checked_script(body.script, profile)
    callback = checked_callback(body.callback_url, profile)
    answer: list[str] = []

    async def remember(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
        text = Call.from_row(dict(rows[0])).model_dump_json()
        answer.append(text)
        if key is not None:
            await idempotency.record(
                conn,
                tenant_id=profile.id,
                key=key,
                body_hash=digest,
                status_code=201,
                response=text,
                now=time.time(),
            )

    try:
        await services.calls.accept(
            tenant_id=profile.id,
            app_id=caller.app_id,
            dialect="native",
            kind="script",
            new_calls=[
                NewCall(
                    callee=script.dial.to,
                    caller=script.dial.from_,
                    script=script,
                    dialect_data={
                        "metadata": body.metadata,
                        "callback_url_from_request": body.callback_url is not None,
                        "force_regenerate": body.force_regenerate,
                    },
                )
            ],
            callback_url=callback,
            priority=body.priority,
            in_transaction=remember,
            announce=services.outbox,
        )
    except idempotency.KeyTaken:
        # A concurrent request with the same key committed first: answer as it did.
        assert key is not None
        async with services.db.connect() as conn:
            stored = await idempotency.find(conn, profile.id, key, now=time.time())
        if stored is None:
            raise
        return _replay(stored, digest)
    return _created(answer[0], 201, replayed=False)


@router.get(
    "",
    response_model=CallPage,
    summary="List calls",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_calls(
    request: Request,
    caller: Annotated[NativeCaller, Depends(native_caller)],
    status: Annotated[
        str | None,
        Query(pattern=r"^[a-z_]{1,16}$", description="Only calls in this status."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")] = 20,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="next_cursor of the previous page."),
    ] = None,
) -> CallPage:
    """The tenant's calls, newest first, one page at a time."""
    services = services_of(request)
    before = decode_cursor(cursor) if cursor is not None else None
    async with services.db.connect() as conn:
        rows = await calls_repo.list_calls(
            conn,
            caller.tenant_id,
            limit=limit + 1,
            before=before,
            filters={"status": status} if status else None,
        )
    page = rows[:limit]
    more = len(rows) > limit
    last = page[-1] if page else None
    return CallPage(
        items=[Call.from_row(r) for r in page],
        next_cursor=encode_cursor(last["created_at"], last["id"]) if more and last else None,
    )


@router.get(
    "/{call_id}",
    response_model=Call,
    summary="Get a call",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_call(
    request: Request, call_id: CallId, caller: Annotated[NativeCaller, Depends(native_caller)]
) -> Call:
    services = services_of(request)
    async with services.db.connect() as conn:
        row = await calls_repo.get_call(conn, caller.tenant_id, call_id)
    if row is None:
        raise CallNotFound()
    return Call.from_row(row)


@router.get(
    "/{call_id}/events",
    response_model=CallEventList,
    summary="A call's events",
    responses=problem_responses(401, 403, 404, 422),
)
async def call_events(
    request: Request, call_id: CallId, caller: Annotated[NativeCaller, Depends(native_caller)]
) -> CallEventList:
    """Everything that happened to the call so far, oldest first, and its webhooks."""
    services = services_of(request)
    async with services.db.connect() as conn:
        if await calls_repo.get_call(conn, caller.tenant_id, call_id) is None:
            raise CallNotFound()
        events = await calls_repo.events_of(conn, call_id)
        deliveries = await webhooks_repo.call_deliveries_with_attempts(
            conn, call_id, caller.tenant_id
        )
    return CallEventList(
        items=[
            CallEvent(
                seq=e["seq"],
                type=e["type"],
                data=e["data"] if isinstance(e["data"], dict) else {},
                created_at=from_epoch(e["created_at"]),
            )
            for e in events
        ],
        deliveries=[WebhookDelivery.from_row(d) for d in deliveries],
    )
