"""Events a leg reports to the domain, in order, as frozen dataclasses.

Every leg ends with exactly one :class:`Hangup`. ``side`` says who ended the call:
``"local"`` (we hung up, cancelled, or gave up on a timer) or ``"remote"`` (the peer
rejected, cancelled or sent BYE).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

DtmfSource = Literal["rfc4733", "inband", "info"]
Side = Literal["local", "remote"]


@dataclass(frozen=True, slots=True)
class Trying:
    """The far end (or a proxy) accepted the INVITE for processing (100)."""

    sip_status: int = 100


@dataclass(frozen=True, slots=True)
class Ringing:
    """The callee is being alerted (180)."""

    sip_status: int = 180


@dataclass(frozen=True, slots=True)
class EarlyMedia:
    """Audio flows before answer (183 or 180 with SDP)."""

    sip_status: int = 183


@dataclass(frozen=True, slots=True)
class Answered:
    """200 OK: the call is up and media flows."""

    codec: str
    remote_media: str  # "host:port" from the SDP answer


@dataclass(frozen=True, slots=True)
class Dtmf:
    key: str
    source: DtmfSource


@dataclass(frozen=True, slots=True)
class Hangup:
    sip_status: int
    q850_cause: int
    side: Side
    reason: str = ""


LegEvent = Trying | Ringing | EarlyMedia | Answered | Dtmf | Hangup

_NAMES: dict[type, str] = {
    Trying: "trying",
    Ringing: "ringing",
    EarlyMedia: "early_media",
    Answered: "answered",
    Dtmf: "dtmf",
    Hangup: "hangup",
}


def event_name(event: LegEvent) -> str:
    return _NAMES[type(event)]


def event_dict(event: LegEvent) -> dict[str, object]:
    """``{"event": "dtmf", "key": "5", "source": "rfc4733"}`` -- one JSON-able object."""
    return {"event": event_name(event), **asdict(event)}
