"""NXCloud voice APIs: notsend (TTS), versend (code read digit by digit), gpsend (audio URL),
uploadVoiceFile (a voice file, answered with its URL on this server).

Form POSTs authenticated by the ``appkey`` / ``secretkey`` fields; every accepted request
is one ``messageid`` (32 hex) and one durable call per phone number.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from voxgate.api.bodies import MalformedBody, read_fields, reject_nul
from voxgate.api.deps import services_of
from voxgate.api.dialects.nxcloud import rules
from voxgate.api.dialects.nxcloud.envelope import NxFailure, accepted, failure, uploaded
from voxgate.api.services import Services
from voxgate.calls.accept import Duplicate, DuplicateCall, NewCall, dedupe_key
from voxgate.calls.script import CallScript
from voxgate.dispatch.urls import media_url
from voxgate.errors import InvalidInput
from voxgate.fetch import FetchError
from voxgate.store.tenants import App
from voxgate.tenancy.profile import TenantProfile

router = APIRouter(include_in_schema=False)

Handler = Callable[[Request], Awaitable[Response]]
DUPLICATE_WINDOW = 300  # code 26: same phone and content within 5 minutes
VOICE_TYPE_GROUP = "0"
VOICE_TYPE_NOTIFY = "1"


def nxcloud(handler: Handler) -> Handler:
    """Turns refusals into NXCloud answers; nothing else escapes as a stack trace."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except NxFailure as exc:
            return failure(exc)
        except MalformedBody as exc:
            return failure(NxFailure(2, exc.message))

    wrapped.__name__ = handler.__name__
    return wrapped


async def _fields(request: Request) -> dict[str, Any]:
    """Body fields over query-string fields: clients of the vendor send either."""
    body = await read_fields(request)
    return reject_nul({**dict(request.query_params), **body})


async def _authenticate(services: Services, data: dict[str, Any]) -> tuple[App, TenantProfile]:
    appkey = rules.field(data, "appkey").strip()
    secretkey = rules.field(data, "secretkey")
    app = await services.apps.get("nxcloud_appkey", appkey) if appkey else None
    if app is None:
        raise NxFailure(13)
    if not services.box.verify(secretkey, app.nxcloud_secret_hash):
        raise NxFailure(1)
    profile = await services.profiles.get(app.tenant_id)
    if profile.tenant.status != "active":
        raise NxFailure(102)
    if not profile.tenant.subscribed:
        raise NxFailure(101)
    return app, profile


@dataclass(frozen=True)
class Submission:
    kind: str
    voice_type: str
    callees: list[str]
    caller: str
    script_of: Callable[[str], CallScript]
    dedupe_text: str
    extra: dict[str, Any]
    run_at: float | None = None


async def _accept(services: Services, app: App, profile: TenantProfile, sub: Submission) -> str:
    calls = [
        NewCall(
            callee=callee,
            caller=sub.caller,
            script=sub.script_of(callee),
            dialect_data={"phone": callee, "voice_type": sub.voice_type, **sub.extra},
            dedupe_key=dedupe_key("nxcloud", callee, sub.dedupe_text),
        )
        for callee in sub.callees
    ]
    try:
        result = await services.calls.accept(
            tenant_id=profile.id,
            app_id=app.id,
            dialect="nxcloud",
            kind=sub.kind,
            new_calls=calls,
            callback_url=app.dr_url,
            duplicate=Duplicate(calls[0].dedupe_key or "", window=DUPLICATE_WINDOW),
            run_at=sub.run_at,
        )
    except DuplicateCall:
        raise NxFailure(26) from None
    return result.request_ref


def _numbers(
    data: dict[str, Any], profile: TenantProfile, *, single: bool
) -> tuple[int, list[str], str, str]:
    cc = rules.country_code(rules.field(data, "country_code"))
    callees = rules.phones(rules.field(data, "phone"), cc, single=single)
    show = rules.show_phone(rules.field(data, "show_phone"))
    caller = rules.presented(show, profile.access_codes, profile.default_access_code)
    return cc, callees, show, caller


async def _tts(request: Request, *, kind: str, single: bool, limit: int) -> Response:
    services = services_of(request)
    data = await _fields(request)
    app, profile = await _authenticate(services, data)
    cc, callees, show, caller = _numbers(data, profile, single=single)
    body = rules.content(rules.field(data, "content"), limit=limit)
    language = rules.lang(rules.optional(data, "lang"))
    ext = rules.ext(rules.optional(data, "ext"))
    parts = rules.spoken(body, bare_digits=kind == "verification")
    sub = Submission(
        kind=kind,
        voice_type=VOICE_TYPE_NOTIFY,
        callees=callees,
        caller=caller,
        script_of=lambda callee: rules.tts_script(callee, caller, parts, language),
        dedupe_text=body,
        extra={"countryCode": str(cc), "show_phone": show, "ext": ext, "lang": language},
    )
    return accepted(await _accept(services, app, profile, sub))


@router.post("/api/voiceSms/notsend")
@nxcloud
async def notsend(request: Request) -> Response:
    return await _tts(request, kind="notification", single=False, limit=rules.MAX_NOTIFY_CONTENT)


@router.post("/api/voiceSms/versend")
@nxcloud
async def versend(request: Request) -> Response:
    return await _tts(request, kind="verification", single=True, limit=rules.MAX_VERIFY_CONTENT)


@router.post("/api/voiceSms/gpsend")
@nxcloud
async def gpsend(request: Request) -> Response:
    services = services_of(request)
    data = await _fields(request)
    app, profile = await _authenticate(services, data)
    cc, callees, show, caller = _numbers(data, profile, single=False)
    url = rules.audio_url(rules.field(data, "url"))
    hangup_after = rules.sched_hangup(rules.optional(data, "sched_hangup"))
    time_zone = rules.optional(data, "time_zone") or rules.optional(data, "task_zone")
    run_at = rules.schedule(rules.optional(data, "task_time"), time_zone, time.time())
    # Fetched now, within the fetcher's time cap, and stored as the tenant's voice file: a
    # URL that cannot be played fails the request (20) instead of queueing silent calls.
    try:
        file_id = await services.audio_urls.voice_file(profile.id, url)
    except FetchError as exc:
        raise NxFailure(20, exc.message) from None
    sub = Submission(
        kind="group_call",
        voice_type=VOICE_TYPE_GROUP,
        callees=callees,
        caller=caller,
        script_of=lambda callee: rules.audio_script(callee, caller, file_id),
        dedupe_text=url,
        extra={
            "countryCode": str(cc),
            "show_phone": show,
            "url": url,
            "sched_hangup": hangup_after,
            "task_time": run_at,
            "sms_appkey": rules.optional(data, "sms_appkey"),
            "msg_content": rules.optional(data, "msg_content"),
        },
        run_at=run_at,
    )
    return accepted(await _accept(services, app, profile, sub))


@router.post("/api/voiceSms/uploadVoiceFile")
@nxcloud
async def upload_voice_file(request: Request) -> Response:
    """A voice file of the tenant; ``info`` is its URL on this server, usable as gpsend ``url``."""
    services = services_of(request)
    data = await _fields(request)
    _app, profile = await _authenticate(services, data)
    name = rules.file_name(rules.field(data, "filename"))
    audio = rules.file_content(rules.field(data, "content"))
    try:
        stored = await services.voices.upload(
            tenant_id=profile.id, name=name, data=audio, source="nxcloud"
        )
    except InvalidInput as exc:
        raise NxFailure(77, exc.message) from None
    return uploaded(media_url(services.settings.public_url, stored.id))
