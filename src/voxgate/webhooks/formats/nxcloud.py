"""The NXCloud voice receipt (DR): a form POST of the seed's fields, in the seed's order."""

from __future__ import annotations

import math
from urllib.parse import urlencode

from voxgate.webhooks.causes import nxcloud_disposition, outcome_of
from voxgate.webhooks.formats.base import EventContext, Outgoing, plain_time, seconds_between

FORM = "application/x-www-form-urlencoded; charset=UTF-8"
ENDINGS = ("call.completed", "call.failed")


def dr_fields(ctx: EventContext) -> list[tuple[str, str]]:
    call, extra, tz = ctx.call, ctx.extra, ctx.platform.tz
    o = outcome_of(call)
    answered, ended = call.get("answered_at"), call.get("ended_at")
    second = seconds_between(answered, ended) if o.answered else 0
    cycle = int(extra.get("billing_cycle") or 60)
    size = math.ceil(second / cycle) if cycle > 0 else 0
    billing = ctx.result.get("billing") or {}
    voice_type = str(extra.get("voice_type", "0" if call["kind"] == "group" else "1"))
    start = answered if o.answered else (call.get("ringing_at") or ctx.dial_start())
    head = [
        ("phone", call["callee"]),
        ("countryCode", str(extra.get("country_code") or "")),
        ("duration", str(second)),
        ("voice_type", voice_type),
        ("messageid", str(extra.get("messageid") or call["request_ref"])),
    ]
    price = [
        ("second", str(second)),
        ("cycle", str(cycle)),
        ("size", str(size)),
        ("customer_price", str(billing.get("customer_price", extra.get("customer_price", "0")))),
    ]
    times = [
        ("start_time", plain_time(start, tz)),
        ("end_time", plain_time(ended, tz)),
        ("result", "Successful connection" if o.answered else "Unsuccessful connection"),
        ("hangup_cause", o.cause_name),
        ("hangup_disposition", nxcloud_disposition(o)),
    ]
    if voice_type == "0":
        basic = [("basic_price", str(billing.get("basic_price", extra.get("basic_price", "0"))))]
        return [*head, *basic, *price, *times, ("ivr_result", ctx.digits())]
    record = [("record_url", str(ctx.result.get("record_url") or ""))]
    tail = [("ext", str(extra.get("ext") or "")), ("show_phone", call.get("caller") or "")]
    return [*head, *price, *record, *times, *tail]


def build(ctx: EventContext) -> list[Outgoing]:
    url = ctx.app.dr_url if ctx.app else None
    if ctx.event.type not in ENDINGS or not url:
        return []
    return [Outgoing("nxcloud.dr", url, FORM, urlencode(dr_fields(ctx)))]
