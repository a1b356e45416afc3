"""Payload builders, one module per dialect. Pure: a call event in, deliveries out."""

from __future__ import annotations

from collections.abc import Callable

from voxgate.webhooks.formats import huawei, native, nxcloud, sipcall
from voxgate.webhooks.formats.base import EventContext, Outgoing, Platform

BUILDERS: dict[str, Callable[[EventContext], list[Outgoing]]] = {
    "huawei": huawei.build,
    "nxcloud": nxcloud.build,
    "sipcall": sipcall.build,
    "native": native.build,
}


def build(ctx: EventContext) -> list[Outgoing]:
    """The deliveries an event causes in the call's dialect (none for unknown dialects)."""
    builder = BUILDERS.get(ctx.call["dialect"])
    return builder(ctx) if builder else []


__all__ = ["BUILDERS", "EventContext", "Outgoing", "Platform", "build"]
