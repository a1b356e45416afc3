"""Huawei call APIs: createVoiceNotification, createCall, queryCallState."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from voxgate.api.bodies import MalformedBody, read_fields, text
from voxgate.api.deps import services_of
from voxgate.api.dialects.huawei import rules
from voxgate.api.dialects.huawei.auth import (
    GatewayError,
    authenticate,
    token_lifetime,
)
from voxgate.api.dialects.huawei.envelope import HuaweiFailure, failure, gateway_error, ok
from voxgate.api.jsonresponse import json_response
from voxgate.calls.accept import DailyLimit, DailyLimitReached, Duplicate, DuplicateCall, NewCall
from voxgate.calls.accept import dedupe_key as make_dedupe_key
from voxgate.calls.script import Bridge, CallScript, Dial, Hangup, Play, Say
from voxgate.store import calls as calls_repo
from voxgate.store.voicefiles import approved_ids

router = APIRouter(include_in_schema=False)

Handler = Callable[[Request], Awaitable[Response]]
TRIAL_DAILY_BIDIRECTIONAL = 10


def huawei(handler: Handler) -> Handler:
    """Turns Huawei errors into Huawei answers; nothing else escapes as a stack trace."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except HuaweiFailure as exc:
            return failure(exc)
        except GatewayError as exc:
            return gateway_error(exc.status, exc.detail)
        except MalformedBody as exc:
            return gateway_error(400, exc.message)

    wrapped.__name__ = handler.__name__
    return wrapped


@router.post("/apigovernance/api/oauth/tokenByAkSk")
@huawei
async def token_by_ak_sk(request: Request) -> Response:
    services = services_of(request)
    lifetime = token_lifetime(request.headers.get("x-token-expire"))
    data = await read_fields(request)
    app_key, app_secret = text(data, "app_key"), text(data, "app_secret")
    if not app_key or not app_secret:
        raise GatewayError(400, "app_key and app_secret are required.")
    app = await services.apps.get("huawei_app_key", app_key)
    if app is None or not services.box.verify(app_secret, app.huawei_secret_hash):
        raise GatewayError(403, "Incorrect app_key or app_secret.")
    profile = await services.profiles.get(app.tenant_id)
    if not profile.tenant.active:
        raise GatewayError(401)
    token, grant = await services.tokens.issue(
        tenant_id=app.tenant_id, app_id=app.id, dialect="huawei", ttl=lifetime
    )
    return json_response(
        {
            "AccessToken": token,
            "ApplyType": "Bearer",
            "CreateTime": str(int(grant.created_at)),
            "Expires": str(lifetime),
            "Scope": "default",
            "AppKey": app.huawei_app_key,
            "UserID": "Anonymous",
        }
    )


@router.post("/apiaccess/rest/voiceNotification/v1/createVoiceNotification")
@huawei
async def create_voice_notification(request: Request) -> Response:
    services = services_of(request)
    caller = await authenticate(request, services, require_app_key=True)
    data = await read_fields(request, unwrap=True)
    profile = caller.profile
    rules.vdn(profile)
    segments = rules.parse_voice_content(text(data, "voiceContent"))
    file_ids = {s.file_id for s in segments if s.file_id}
    if file_ids:
        async with services.db.connect() as conn:
            known = await approved_ids(conn, profile.id, file_ids)
        missing = sorted(file_ids - known)
        if missing:
            raise HuaweiFailure(8, f"The voice {missing[0]} in voiceContent does not exist.")
    called = rules.number(text(data, "called"), "called")
    caller_present = rules.display_number(text(data, "callerPresent"), profile, "callerPresent")
    callback = rules.callback_url(text(data, "callBackUrl"), profile)
    prio = rules.priority(text(data, "priority"))
    rules.trial_trusted(profile, called)
    steps: list[Any] = [Dial(to=called, from_=caller_present)]
    for seg in segments:
        if seg.text is not None:
            steps.append(Say(text=seg.text, digits=seg.text.isdigit()))
        else:
            steps.append(Play(file_id=seg.file_id))
    steps.append(Hangup())
    try:
        accepted = await services.calls.accept(
            tenant_id=profile.id,
            app_id=caller.app_id,
            dialect="huawei",
            kind="notification",
            new_calls=[
                NewCall(callee=called, caller=caller_present, script=CallScript(steps=steps))
            ],
            callback_url=callback or profile.tenant.default_callback_url,
            priority=prio,
            duplicate=Duplicate(
                make_dedupe_key("vn", called, caller_present, text(data, "voiceContent"))
            ),
        )
    except DuplicateCall:
        raise HuaweiFailure(1, "A task is in progress. Try again later.") from None
    return ok({"callSerialNo": accepted.calls[0].serial_no}, "Created successfully.")


@router.post("/apiaccess/CC-Management/v1/mobileAgent/createCall")
@huawei
async def create_call(request: Request) -> Response:
    services = services_of(request)
    caller = await authenticate(request, services)
    profile = caller.profile
    try:
        return await _create_call(request, services, caller.app_id, profile)
    except HuaweiFailure as exc:
        if profile.tenant.bidirectional_type == "ITA":
            raise rules.as_ita(exc) from None
        raise


async def _create_call(request: Request, services: Any, app_id: str, profile: Any) -> Response:
    data = await read_fields(request, unwrap=True)
    rules.vdn(profile)
    agent = rules.number(text(data, "caller"), "caller")
    called = rules.number(text(data, "called"), "called")
    work_no = text(data, "agentWorkNo")
    if work_no not in (None, "") and not (work_no.isdigit() and len(work_no) <= 5):
        raise HuaweiFailure(5, "The value of agentWorkNo is not a decimal of up to 5 digits.")
    if not profile.in_softphone_range(agent):
        raise HuaweiFailure(
            8,
            "The calling number is not in the softphone number range "
            "used by the mobile agent assigned by the tenant.",
        )
    call_data = rules.call_data(text(data, "callData"))
    caller_present = rules.display_number(text(data, "callerPresent"), profile, "callerPresent")
    agent_present = rules.display_number(text(data, "agentPresent"), profile, "agentPresent")
    callback = rules.callback_url(text(data, "callBackUrl"), profile)
    rules.trial_trusted(profile, agent, called)
    script = CallScript(
        steps=[Dial(to=agent, from_=agent_present), Bridge(to=called, from_=caller_present)]
    )
    try:
        accepted = await services.calls.accept(
            tenant_id=profile.id,
            app_id=app_id,
            dialect="huawei",
            kind="bidirectional",
            new_calls=[
                NewCall(
                    callee=called,
                    caller=agent,
                    script=script,
                    dialect_data={
                        "callData": call_data,
                        "agentWorkNo": work_no or "",
                        "callerPresent": caller_present,
                        "agentPresent": agent_present,
                    },
                )
            ],
            callback_url=callback or profile.tenant.default_callback_url,
            duplicate=Duplicate(make_dedupe_key("bc", agent, called, caller_present, call_data)),
            daily_limit=(
                DailyLimit("bidirectional", TRIAL_DAILY_BIDIRECTIONAL)
                if profile.tenant.trial
                else None
            ),
        )
    except DuplicateCall:
        raise HuaweiFailure(
            1,
            "Failed to add the outbound call task. "
            "The same outbound call task may exist in the outbound call database.",
        ) from None
    except DailyLimitReached:
        raise HuaweiFailure(
            21,
            "The number of one-click bidirectional calls of the trial tenant "
            "exceeds the upper limit 10 per day.",
        ) from None
    return ok(
        {"callSerialNo": int(accepted.calls[0].serial_no)}, "Add CallOutInfo in DB successfully"
    )


STATE_OF = {"queued": 0, "dialing": 1, "ringing": 1, "answered": 2}


@router.post("/apiaccess/CC-Management/v1/mobileAgent/queryCallState")
@huawei
async def query_call_state(request: Request) -> Response:
    services = services_of(request)
    caller = await authenticate(request, services)
    data = await read_fields(request, unwrap=True)
    serial = text(data, "callSerialNo")
    if not serial:
        raise HuaweiFailure(3, "The call serial number is invalid.")
    async with services.db.connect() as conn:
        call = await calls_repo.get_call_by_serial(conn, caller.profile.id, serial.strip())
    if call is None or call["kind"] != "bidirectional":
        raise HuaweiFailure(3, "The call serial number is invalid.")
    extra = call["dialect_data"] or {}
    state = STATE_OF.get(call["status"], 3)
    result = (call.get("result") or {}) if call["status"] not in STATE_OF else {}
    return ok(
        {
            "state": state,
            "reasonCode": result.get("releaseReason", 0) if state == 3 else 0,
            "callData": extra.get("callData") or "",
            "caller": call["caller"],
            "called": call["callee"],
            "startTime": int(call["created_at"] * 1000),
            "endTime": int(call["ended_at"] * 1000) if call["ended_at"] else None,
            "callerPresent": extra.get("callerPresent") or "",
            "agentPresent": extra.get("agentPresent") or "",
        },
        "success",
    )
