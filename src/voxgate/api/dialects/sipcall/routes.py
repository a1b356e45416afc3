"""The PhalApi call-center API: one endpoint, the ``service`` field picks the action.

``App.Sip_Auth.Login`` (appid/accesskey -> 12 h token), ``App.Sip_Auth.Logout`` and
``App.Sip_Call.PlayVoice`` (dial, play, one key, transfer to an extension group).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from voxgate.api.bodies import MalformedBody, read_fields, reject_nul, text
from voxgate.api.deps import services_of
from voxgate.api.dialects.sipcall import rules
from voxgate.api.dialects.sipcall.envelope import (
    BusinessFailure,
    PhalApiError,
    business_failure,
    ok,
    refused,
)
from voxgate.api.services import Services
from voxgate.calls.accept import NewCall
from voxgate.calls.script import Play
from voxgate.fetch import FetchError
from voxgate.store import tenants as tenants_repo
from voxgate.store import voicefiles
from voxgate.store.tenants import App
from voxgate.tenancy.profile import TenantProfile

router = APIRouter(include_in_schema=False)

DIALECT = "sipcall"
TOKEN_SECONDS = 12 * 3600
CALL_UUID_HEADER = "X-Voxgate-Call-Uuid"


@dataclass(frozen=True)
class Call:
    """One request: its fields, when it arrived, and the platform."""

    data: dict[str, Any]
    reqtime: int
    services: Services


Service = Callable[[Call], Awaitable[Response]]


def _check_tenant(profile: TenantProfile) -> None:
    if profile.tenant.status != "active":
        raise PhalApiError(602)
    if not profile.tenant.subscribed:
        raise PhalApiError(603)


async def _login_app(call: Call) -> App:
    appid = rules.required(call.data, "appid")
    accesskey = rules.required(call.data, "accesskey")
    app = await call.services.apps.get("sipcall_appid", appid)
    if app is None or not call.services.box.verify(accesskey, app.sipcall_accesskey_hash):
        raise PhalApiError(601)
    return app


async def _authenticate(call: Call) -> tuple[str, App, TenantProfile]:
    token = (text(call.data, "token") or "").strip()
    grant = await call.services.tokens.check(token, DIALECT) if token else None
    app = await call.services.apps.get("id", grant.app_id) if grant else None
    if grant is None or app is None:
        raise PhalApiError(600)
    profile = await call.services.profiles.get(grant.tenant_id)
    _check_tenant(profile)
    return token, app, profile


async def login(call: Call) -> Response:
    app = await _login_app(call)
    profile = await call.services.profiles.get(app.tenant_id)
    _check_tenant(profile)
    token, grant = await call.services.tokens.issue(
        tenant_id=app.tenant_id, app_id=app.id, dialect=DIALECT, ttl=TOKEN_SECONDS
    )
    return ok(
        "Authorization successful",
        call.reqtime,
        {
            "companycode": profile.tenant.companycode,
            "companyname": profile.tenant.name,
            "token": token,
            "authtime": int(grant.created_at),
            "authmodel": "token",
        },
    )


async def logout(call: Call) -> Response:
    """With a token: that token ends. Without one, appid/accesskey end all of the app's."""
    if rules.optional(call.data, "token") is None and rules.optional(call.data, "appid"):
        app = await _login_app(call)
        await call.services.tokens.revoke_app(app.id, DIALECT)
        return ok("Logout successful", call.reqtime)
    token, _app, _profile = await _authenticate(call)
    await call.services.tokens.revoke(token)
    return ok("Logout successful", call.reqtime)


async def play_voice(call: Call) -> Response:
    services = call.services
    _token, app, profile = await _authenticate(call)
    data = call.data
    dest = rules.required(data, "destnumber")
    kind = rules.required(data, "voicetype")
    voicefile = rules.required(data, "voicefile")
    chengshudu = rules.required(data, "chengshudu")
    userid = rules.required(data, "userid")
    dest = rules.destnumber(dest)
    kind = rules.voicetype(kind)
    menu = rules.userid(userid)
    chengshudu = rules.bounded(chengshudu, "chengshudu", rules.MAX_CHENGSHUDU)
    customuuid = rules.bounded(
        rules.optional(data, "customuuid"), "customuuid", rules.MAX_CUSTOMUUID
    )
    wait = rules.waittime(rules.optional(data, "waittime"))
    caller = rules.disnumber(rules.optional(data, "disnumber"), profile.access_codes)
    url = rules.voice_url(voicefile) if kind == rules.VOICE_URL else None
    async with services.db.connect() as conn:
        known = set(await tenants_repo.extension_group_names(conn, profile.id))
        if kind == rules.VOICE_FILE:
            row = await voicefiles.by_name(conn, profile.id, rules.file_name(voicefile))
            if row is None or row["status"] != "approved":
                raise BusinessFailure(1029, f"no offline voice file named {voicefile!r}")
            play = Play(file_id=row["id"])
    missing = sorted(menu.groups - known)
    if missing:
        raise BusinessFailure(1002, f"extension group {missing[0]!r} does not exist")
    if url is not None:
        # Fetched now, within the fetcher's time cap: a URL that cannot be played fails
        # the request (1029) instead of queueing a silent call.
        try:
            play = Play(file_id=await services.audio_urls.voice_file(profile.id, url))
        except FetchError as exc:
            raise BusinessFailure(1029, f"the voice URL cannot be used: {exc.message}") from None
    call_uuid = str(uuid.uuid4())
    await services.calls.accept(
        tenant_id=profile.id,
        app_id=app.id,
        dialect=DIALECT,
        kind="voice_menu",
        new_calls=[
            NewCall(
                callee=dest,
                caller=caller,
                script=rules.menu_script(dest, caller, play, menu, wait),
                serial_no=call_uuid,
                dialect_data={
                    "uuid": call_uuid,
                    "companycode": profile.tenant.companycode,
                    "disnumber": caller or "",
                    "destnumber": dest,
                    "voicetype": kind,
                    "voicefile": voicefile,
                    **({"voice_url": url} if url is not None else {}),
                    "userid": userid,
                    "chengshudu": chengshudu,
                    "customuuid": customuuid,
                    "callmethod": 6,
                    "status_url": app.status_url,
                },
            )
        ],
        callback_url=app.cdr_url,
    )
    response = ok("Play command sent successfully", call.reqtime)
    response.headers[CALL_UUID_HEADER] = call_uuid
    return response


SERVICES: dict[str, Service] = {
    "app.sip_auth.login": login,
    "app.sip_auth.logout": logout,
    "app.sip_call.playvoice": play_voice,
}


async def dispatch(request: Request) -> Response:
    """Body fields over query-string fields; ``service`` (or PhalApi's ``s``) routes."""
    reqtime = int(time.time())
    try:
        body = await read_fields(request)
        data = reject_nul({**dict(request.query_params), **body})
        name = rules.optional(data, "service") or rules.optional(data, "s")
        if name is None:
            raise PhalApiError(400, "missing required parameter service")
        handler = SERVICES.get(name.lower())
        if handler is None:
            raise PhalApiError(400, f"service {name[:100]} is not available")
        return await handler(Call(data=data, reqtime=reqtime, services=services_of(request)))
    except PhalApiError as exc:
        return refused(exc)
    except BusinessFailure as exc:
        return business_failure(exc, reqtime)
    except MalformedBody as exc:
        return refused(PhalApiError(400, exc.message))


for _path in ("/", "/sipcall", "/sipcall/"):
    router.add_api_route(_path, dispatch, methods=["POST"])
