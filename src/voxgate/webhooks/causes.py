"""A call's outcome, and the codes each vendor format reports for it. Pure tables.

SIP status → Q.850 → FreeSWITCH cause name comes from ``voxgate.sip.causes``. The vendor codes
(Huawei ``releaseReason``, NXCloud ``hangup_disposition``, PhalApi ``hangupcause``) are derived
from the outcome here, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voxgate.sip.causes import cause_for_status, cause_name

REFUSED = frozenset({17, 21})  # busy, rejected: the called party said no
UNANSWERED = frozenset({18, 19, 487})  # rang out, or we gave up
CONGESTION = frozenset({34, 38, 41, 42, 47})
RESTRICTED = frozenset({55, 57})


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a call (or leg) ended, normalised."""

    answered: bool
    rang: bool
    q850: int
    side: str  # caller | callee | system
    sip_status: int | None

    @property
    def cause_name(self) -> str:
        return cause_name(self.q850)


def outcome_of(
    call: Mapping[str, Any], *, answered: bool | None = None, rang: bool | None = None
) -> Outcome:
    """The outcome of a finished call row (``answered``/``rang`` override the row's times)."""
    was_answered = bool(call.get("answered_at")) if answered is None else answered
    was_rung = bool(call.get("ringing_at")) if rang is None else rang
    sip = call.get("sip_status")
    q850 = call.get("q850_cause")
    if not q850 and sip:
        q850 = cause_for_status(int(sip)).code
    if not q850:
        q850 = 16 if was_answered else (19 if was_rung else 41)
    side = call.get("hangup_side") or ("callee" if was_answered else "system")
    return Outcome(
        answered=was_answered,
        rang=was_rung or was_answered,
        q850=int(q850),
        side=str(side),
        sip_status=int(sip) if sip else None,
    )


def huawei_notification_reason(o: Outcome) -> int:
    """releaseReason for a voice notification (spec b.1)."""
    if o.answered:
        return 0 if o.side == "callee" else 1
    if o.q850 in RESTRICTED:
        return 10
    if o.q850 in CONGESTION:
        return 8
    if o.rang or o.q850 in REFUSED or o.q850 in UNANSWERED:
        return 4
    return 6


def huawei_bidirectional_reason(agent: Outcome, called: Outcome | None) -> int:
    """releaseReason for a bidirectional call (spec b.3): ``agent`` is the first leg."""
    if not agent.answered:
        return 4 if agent.rang or agent.q850 in REFUSED | UNANSWERED else 2
    if called is None or not called.answered:
        if called is not None and (called.rang or called.q850 in REFUSED | UNANSWERED):
            return 5
        return 3
    return 0 if called.side == "callee" else 1


def nxcloud_disposition(o: Outcome) -> str:
    if o.answered:
        return "recv_bye" if o.side == "callee" else "send_bye"
    if o.q850 in REFUSED:
        return "recv_refuse"
    if o.q850 in UNANSWERED:
        return "send_cancel"
    return "other"


PHALAPI_CAUSES: dict[int, int] = {
    17: 10006,  # busy
    21: 10003,  # rejected
    18: 10005,  # no answer by user
    19: 10005,
    487: 10002,  # cancelled
    1: 10014,  # not found
    3: 10014,
    22: 10027,  # number changed
    20: 10009,  # unreachable
    27: 10009,
    28: 10017,  # invalid call
    102: 10015,  # request timeout
    34: 10004,  # outbound trunk failure
    38: 10004,
    41: 10004,
    42: 10004,
    47: 10004,
    55: 10025,  # call forbidden
    57: 10025,
}


def phalapi_hangupcause(o: Outcome) -> int:
    if o.answered:
        return 10007 if o.side == "system" else 10001
    return PHALAPI_CAUSES.get(o.q850, 10020)


def phalapi_hangupdirection(o: Outcome) -> int:
    return 10041 if o.side == "callee" else 10040
