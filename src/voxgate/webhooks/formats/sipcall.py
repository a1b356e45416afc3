"""PhalApi SIP call-center callbacks: extension status (per leg, as it happens) and the CDR.

Key order and value types follow the seed's examples exactly (the CDR mixes numbers and
strings). Leg ``a`` is the external party dialled first (``isbleg`` "true" in the vendor's
terms), leg ``b`` the extension it is handed to; a leg event may say ``"external"`` itself.
"""

from __future__ import annotations

import uuid
from typing import Any

from voxgate.webhooks.causes import outcome_of, phalapi_hangupcause, phalapi_hangupdirection
from voxgate.webhooks.formats.base import (
    EventContext,
    Outgoing,
    compact_json,
    plain_time,
    seconds_between,
)

JSON = "application/json;charset=UTF-8"
ENDINGS = ("call.completed", "call.failed")
STATUS = {"leg.ringing": "ring", "leg.answered": "answer", "leg.hangup": "hangup"}
_B_NS = uuid.UUID("0b5e6a52-1f7e-4c44-8f0e-3a9d2b1c7e60")


def call_uuid(call_id: str) -> str:
    return str(uuid.UUID(hex=call_id)) if len(call_id) == 32 else call_id


def b_uuid(call_id: str) -> str:
    return str(uuid.uuid5(_B_NS, call_id))


def _extension(ctx: EventContext) -> str:
    data = ctx.leg_data("b")
    return str(data.get("extension") or data.get("number") or "")


def status(ctx: EventContext) -> dict[str, Any]:
    call, data = ctx.call, ctx.event.data
    external = data.get("external", data.get("leg") == "a")
    ext = _extension(ctx)
    return {
        "buuid": str(ctx.leg_data("a").get("uuid") or b_uuid(call["id"])),
        "callee": call["callee"],
        "caller": ext,
        "companycode": ctx.target.companycode,
        "direction": ctx.extra.get("direction") or "callout",
        "disnumber": call.get("caller") or "",
        "extnumber": ext,
        "isbleg": "true" if external else "false",
        "method": str(ctx.extra.get("method") or "3"),
        "starttime": str(int(ctx.dial_start())),
        "status": STATUS[ctx.event.type],
        "uuid": call_uuid(call["id"]),
        "ip": ctx.platform.public_host,
    }


def _int_or_text(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def cdr(ctx: EventContext) -> dict[str, Any]:
    call, extra, tz = ctx.call, ctx.extra, ctx.platform.tz
    o = outcome_of(call)
    start, answered, ended = ctx.dial_start(), call.get("answered_at"), call.get("ended_at")
    direction = extra.get("direction") or "callout"
    return {
        "answertime": plain_time(answered, tz),
        "hangupcause": phalapi_hangupcause(o),
        "duration": seconds_between(start, answered if answered else ended),
        "id": _int_or_text(str(call["serial_no"])),
        "extnumber": _extension(ctx),
        "uuid": call_uuid(call["id"]),
        "downloadip": ctx.platform.public_host,
        "customuuid": str(extra.get("customuuid") or ""),
        "chengshudu": str(extra.get("chengshudu") or "0"),
        "callmethod": int(extra.get("callmethod") or 3),
        "recordfilename": str(ctx.result.get("record_file") or ""),
        "companycode": _int_or_text(ctx.target.companycode),
        "memberid": str(extra.get("memberid") or "0"),
        "hangupdirection": phalapi_hangupdirection(o),
        "billsec": seconds_between(answered, ended),
        "endtime": plain_time(ended, tz),
        "starttime": plain_time(start, tz),
        "type": "callout" if direction == "callout" else "callin",
        "disnumber": call.get("caller") or "",
        "crmid": str(extra.get("crmid") or "0"),
        "userkey": ctx.digits(),
        "destnumber": call["callee"],
    }


def build(ctx: EventContext) -> list[Outgoing]:
    app, kind = ctx.app, ctx.event.type
    if app is None:
        return []
    if kind in STATUS and app.status_url:
        return [Outgoing("sipcall.status", app.status_url, JSON, compact_json(status(ctx)))]
    if kind in ENDINGS and app.cdr_url:
        return [Outgoing("sipcall.cdr", app.cdr_url, JSON, compact_json(cdr(ctx)))]
    return []
