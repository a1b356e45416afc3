"""Native events: versioned JSON with the event id, the call's sequence number and the call."""

from __future__ import annotations

from typing import Any

from voxgate.calls.events import CALL_EVENTS
from voxgate.webhooks.causes import outcome_of
from voxgate.webhooks.formats.base import EventContext, Outgoing, compact_json, iso_time

JSON = "application/json"
VERSION = "2026-11-01"


def call_summary(ctx: EventContext) -> dict[str, Any]:
    call = ctx.call
    ended = ctx.event.type in ("call.completed", "call.failed")
    o = outcome_of(call) if ended else None
    answered, end = call.get("answered_at"), call.get("ended_at")
    return {
        "id": call["id"],
        "serial_no": str(call["serial_no"]),
        "kind": call["kind"],
        "from": call.get("caller"),
        "to": call["callee"],
        "status": call["status"],
        "created_at": iso_time(call["created_at"]),
        "ringing_at": iso_time(call.get("ringing_at")),
        "answered_at": iso_time(answered),
        "ended_at": iso_time(end),
        "duration": round(end - answered, 3) if answered and end else 0,
        "sip_status": call.get("sip_status"),
        "q850_cause": o.q850 if o else call.get("q850_cause"),
        "hangup_cause": o.cause_name if o else None,
        "hangup_side": o.side if o else None,
    }


def event_body(ctx: EventContext) -> dict[str, Any]:
    event = ctx.event
    return {
        "id": event.id,
        "type": event.type,
        "api_version": VERSION,
        "created_at": iso_time(event.at),
        "call_id": event.call_id,
        "seq": event.seq,
        "data": {**dict(event.data), "call": call_summary(ctx)},
    }


def build(ctx: EventContext) -> list[Outgoing]:
    url = ctx.call.get("callback_url") or ctx.target.webhook_url
    if ctx.event.type not in CALL_EVENTS or not url:
        return []
    from_request = bool(ctx.call.get("callback_url")) and url != ctx.target.webhook_url
    return [Outgoing("native", url, JSON, compact_json(event_body(ctx)), from_request)]
