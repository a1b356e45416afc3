"""Huawei AICC callbacks (spec b.1, b.3): JSON, every value a string, times in
``yyyy/MM/dd,HH:mm:ss:SSS``. The signature fields are added at send time (``signing``)."""

from __future__ import annotations

from typing import Any

from voxgate.webhooks.causes import (
    huawei_bidirectional_reason,
    huawei_notification_reason,
    outcome_of,
)
from voxgate.webhooks.formats.base import (
    EventContext,
    Outgoing,
    compact_json,
    huawei_time,
    seconds_between,
)

JSON = "application/json;charset=UTF-8"
ENDINGS = ("call.completed", "call.failed")


def _url_from_request(ctx: EventContext) -> bool:
    """Did the callback URL come from the request's callBackUrl (and not the tenant default)?"""
    flag = ctx.extra.get("callback_url_from_request")
    if flag is not None:
        return bool(flag)
    url = ctx.call.get("callback_url")
    return bool(url) and url != ctx.target.default_callback_url


def _reason(ctx: EventContext, derived: int) -> str:
    override = ctx.result.get("release_reason")
    return str(derived if override is None else override)


def notification_release(ctx: EventContext) -> dict[str, Any]:
    call, tz = ctx.call, ctx.platform.tz
    answered, ended = call.get("answered_at"), call.get("ended_at")
    return {
        "callSerialNo": call["serial_no"],
        "called": call["callee"],
        "callerPresent": call.get("caller") or "",
        "createCallTime": huawei_time(call["created_at"], tz),
        "alertingTime": huawei_time(call.get("ringing_at"), tz),
        "talkingTime": huawei_time(answered, tz),
        "releaseTime": huawei_time(ended, tz),
        "talkDuration": str(seconds_between(answered, ended)),
        "recordfile": ctx.result.get("record_file") or "",
        "locationId": str(ctx.result.get("location_id") or ""),
        "releaseReason": _reason(ctx, huawei_notification_reason(outcome_of(call))),
    }


def bidirectional_release(ctx: EventContext) -> dict[str, Any]:
    call, tz = ctx.call, ctx.platform.tz
    ended = call.get("ended_at")
    a_ring, a_answer = ctx.leg_time("a", "ringing"), ctx.leg_time("a", "answered")
    a_end = ctx.leg_time("a", "hangup") or ended
    b_ring, b_answer = ctx.leg_time("b", "ringing"), ctx.leg_time("b", "answered")
    b_end = ctx.leg_time("b", "hangup") or ended
    agent = outcome_of(call, answered=a_answer is not None, rang=a_ring is not None)
    called = None
    if a_answer is not None:
        called = outcome_of(call, answered=b_answer is not None, rang=b_ring is not None)
    return {
        "callSerialNo": call["serial_no"],
        "serviceNo": ctx.extra.get("agentWorkNo") or "",
        "called": call["callee"],
        "caller": call.get("caller") or "",
        "callerPresent": ctx.extra.get("callerPresent") or "",
        "callData": ctx.extra.get("callData") or "",
        "createCallTime": huawei_time(call["created_at"], tz),
        "alertingTime": huawei_time(b_ring, tz),
        "talkingTime": huawei_time(b_answer, tz),
        "releaseTime": huawei_time(b_end if b_ring or b_answer else ended, tz),
        "talkDuration": str(seconds_between(b_answer, b_end)),
        "recordfile": ctx.result.get("record_file") or "",
        "locationId": str(ctx.result.get("location_id") or ""),
        "releaseReason": _reason(ctx, huawei_bidirectional_reason(agent, called)),
        "agentAlertingTime": huawei_time(a_ring, tz),
        "agentTalkingTime": huawei_time(a_answer, tz),
        "agentReleaseTime": huawei_time(a_end, tz),
        "agentTalkDuration": str(seconds_between(a_answer, a_end)),
    }


def connect(ctx: EventContext) -> dict[str, Any]:
    return {
        "callSerialNo": ctx.call["serial_no"],
        "serviceNo": ctx.extra.get("agentWorkNo") or "",
        "called": ctx.call["callee"],
        "callData": ctx.extra.get("callData") or "",
    }


def build(ctx: EventContext) -> list[Outgoing]:
    event, kind = ctx.event, ctx.call["kind"]
    url = ctx.call.get("callback_url")
    if event.type in ENDINGS and url:
        fields = (
            bidirectional_release(ctx) if kind == "bidirectional" else notification_release(ctx)
        )
        return [Outgoing("huawei.release", url, JSON, compact_json(fields), _url_from_request(ctx))]
    connect_url = ctx.target.connect_callback_url
    if (
        kind == "bidirectional"
        and event.type == "leg.answered"
        and event.data.get("leg") == "b"
        and connect_url
    ):
        return [Outgoing("huawei.connect", connect_url, JSON, compact_json(connect(ctx)))]
    return []
