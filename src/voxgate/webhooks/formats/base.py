"""What a payload builder sees, and what it returns. Pure data and time formatting."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from voxgate.calls.events import RecordedEvent
from voxgate.store.webhooks import AppUrls, HookTarget


@dataclass(frozen=True, slots=True)
class Platform:
    """Installation facts some formats report: our public host and the vendors' time zone."""

    public_host: str
    tz: tzinfo = UTC


@dataclass(frozen=True, slots=True)
class EventContext:
    call: Mapping[str, Any]
    event: RecordedEvent
    history: Sequence[RecordedEvent]  # every event of the call so far, this one last
    target: HookTarget
    app: AppUrls | None
    platform: Platform

    @property
    def extra(self) -> Mapping[str, Any]:
        return self.call.get("dialect_data") or {}

    @property
    def result(self) -> Mapping[str, Any]:
        return self.call.get("result") or {}

    def leg_time(self, leg: str, what: str) -> float | None:
        """When leg ``a``/``b`` first rang (``ringing``), answered or hung up."""
        kind = f"leg.{what}"
        for e in self.history:
            if e.type == kind and e.data.get("leg") == leg:
                return e.at
        return None

    def leg_data(self, leg: str) -> Mapping[str, Any]:
        """The latest data the flow gave about a leg (number, extension, uuid)."""
        found: dict[str, Any] = {}
        for e in self.history:
            if e.type.startswith("leg.") and e.data.get("leg") == leg:
                found.update(e.data)
        return found

    def digits(self) -> str:
        return "".join(str(e.data.get("digits", "")) for e in self.history if e.type == "call.dtmf")

    def dial_start(self) -> float:
        for e in self.history:
            if e.type != "call.queued":
                return e.at
        return float(self.call["created_at"])


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One delivery to write: the exact bytes (as text) and where they go."""

    format: str
    url: str
    content_type: str
    body: str
    url_from_request: bool = False


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def local(at: float | None, tz: tzinfo) -> datetime | None:
    return None if at is None else datetime.fromtimestamp(at, tz)


def huawei_time(at: float | None, tz: tzinfo) -> str:
    """``yyyy/MM/dd,HH:mm:ss:SSS``, or "" when it never happened."""
    t = local(at, tz)
    if t is None:
        return ""
    return t.strftime("%Y/%m/%d,%H:%M:%S:") + f"{t.microsecond // 1000:03d}"


def plain_time(at: float | None, tz: tzinfo) -> str:
    """``yyyy-MM-dd HH:mm:ss``, or "" when it never happened."""
    t = local(at, tz)
    return "" if t is None else t.strftime("%Y-%m-%d %H:%M:%S")


def iso_time(at: float | None) -> str | None:
    t = local(at, UTC)
    return None if t is None else t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seconds_between(start: float | None, end: float | None) -> int:
    """Whole seconds between two instants as their displayed (truncated) times subtract."""
    if start is None or end is None:
        return 0
    return max(0, int(end) - int(start))
