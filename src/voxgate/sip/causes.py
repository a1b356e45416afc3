"""SIP status <-> Q.850 cause mapping (RFC 3398) with FreeSWITCH-style cause names.

``CAUSES`` is the one table. Each row is a Q.850 cause: its name, the SIP status sent
when a call ends with that cause (RFC 3398 §7.2.4.1, ISUP -> SIP), and the SIP
statuses that map to it (RFC 3398 §8.2.6.1, SIP -> ISUP). ORIGINATOR_CANCEL (487) is
FreeSWITCH's code for "we cancelled before answer"; it is not a Q.850 value.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cause:
    code: int
    name: str
    sip_status: int | None  # status to send for this cause (None: BYE/CANCEL, not a status)
    from_sip: tuple[int, ...] = ()  # SIP statuses that map to this cause


# fmt: off
CAUSES: tuple[Cause, ...] = (
    Cause(0, "UNSPECIFIED", None),
    Cause(1, "UNALLOCATED_NUMBER", 404, (404, 485, 604)),
    Cause(2, "NO_ROUTE_TRANSIT_NET", 404),
    Cause(3, "NO_ROUTE_DESTINATION", 404),
    Cause(6, "CHANNEL_UNACCEPTABLE", None),
    Cause(7, "CALL_AWARDED_DELIVERED", None),
    Cause(16, "NORMAL_CLEARING", None, (200,)),
    Cause(17, "USER_BUSY", 486, (486, 600)),
    Cause(18, "NO_USER_RESPONSE", 408, (480,)),
    Cause(19, "NO_ANSWER", 480),
    Cause(20, "SUBSCRIBER_ABSENT", 480),
    Cause(21, "CALL_REJECTED", 403, (401, 402, 403, 407, 603)),
    Cause(22, "NUMBER_CHANGED", 410, (410,)),
    Cause(23, "REDIRECTION_TO_NEW_DESTINATION", 410),
    Cause(25, "EXCHANGE_ROUTING_ERROR", 483, (482, 483)),
    Cause(26, "NON_SELECTED_USER_CLEARING", 404),
    Cause(27, "DESTINATION_OUT_OF_ORDER", 502),
    Cause(28, "INVALID_NUMBER_FORMAT", 484, (484,)),
    Cause(29, "FACILITY_REJECTED", 501),
    Cause(30, "RESPONSE_TO_STATUS_ENQUIRY", None),
    Cause(31, "NORMAL_UNSPECIFIED", 480),
    Cause(34, "NORMAL_CIRCUIT_CONGESTION", 503),
    Cause(38, "NETWORK_OUT_OF_ORDER", 503, (502,)),
    Cause(41, "NORMAL_TEMPORARY_FAILURE", 503, (400, 481, 500, 503)),
    Cause(42, "SWITCH_CONGESTION", 503),
    Cause(43, "ACCESS_INFO_DISCARDED", None),
    Cause(44, "REQUESTED_CHAN_UNAVAIL", 503),
    Cause(45, "PRE_EMPTED", None),
    Cause(47, "RESOURCE_UNAVAILABLE", 503),
    Cause(50, "FACILITY_NOT_SUBSCRIBED", None),
    Cause(52, "OUTGOING_CALL_BARRED", 403),
    Cause(54, "INCOMING_CALL_BARRED", 403),
    Cause(55, "INCOMING_CALL_BARRED_CUG", 403),
    Cause(57, "BEARERCAPABILITY_NOTAUTH", 403),
    Cause(58, "BEARERCAPABILITY_NOTAVAIL", 503, (606,)),
    Cause(63, "SERVICE_UNAVAILABLE", None, (405,)),
    Cause(65, "BEARERCAPABILITY_NOTIMPL", 488),
    Cause(66, "CHAN_NOT_IMPLEMENTED", None),
    Cause(69, "FACILITY_NOT_IMPLEMENTED", 501),
    Cause(70, "ONLY_RESTRICTED_DIGITAL_AVAIL", 488),
    Cause(79, "SERVICE_NOT_IMPLEMENTED", 501, (406, 415, 501)),
    Cause(81, "INVALID_CALL_REFERENCE", None),
    Cause(87, "USER_NOT_MEMBER_OF_CUG", 403),
    Cause(88, "INCOMPATIBLE_DESTINATION", 503, (488,)),
    Cause(95, "INVALID_MSG_UNSPECIFIED", None),
    Cause(96, "MANDATORY_IE_MISSING", None),
    Cause(97, "MESSAGE_TYPE_NONEXIST", None),
    Cause(98, "WRONG_MESSAGE", None),
    Cause(99, "IE_NONEXIST", None),
    Cause(100, "INVALID_IE_CONTENTS", None),
    Cause(101, "WRONG_CALL_STATE", None),
    Cause(102, "RECOVERY_ON_TIMER_EXPIRE", 504, (408, 504)),
    Cause(103, "MANDATORY_IE_LENGTH_ERROR", None),
    Cause(111, "PROTOCOL_ERROR", 500),
    Cause(127, "INTERWORKING", 500, (413, 414, 416, 420, 421, 423, 505, 513)),
    Cause(487, "ORIGINATOR_CANCEL", 487, (487,)),
)
# fmt: on

BY_CODE = {c.code: c for c in CAUSES}
BY_NAME = {c.name: c for c in CAUSES}
_BY_SIP = {status: c for c in CAUSES for status in c.from_sip}


def cause_for_status(status: int) -> Cause:
    """The Q.850 cause for a final SIP status (RFC 3398 §8.2.6.1; classes as defaults)."""
    if status in _BY_SIP:
        return _BY_SIP[status]
    if 200 <= status < 300:
        return BY_CODE[16]
    if 300 <= status < 400:
        return BY_CODE[23]
    if 400 <= status < 500 or 600 <= status < 700:
        return BY_CODE[21] if status >= 600 else BY_CODE[127]
    return BY_CODE[41]


def status_for_cause(code: int) -> int:
    """The SIP status to reject with for a Q.850 cause (480 when the table has none)."""
    cause = BY_CODE.get(code)
    if cause is None or cause.sip_status is None:
        return 500 if code >= 96 else 480
    return cause.sip_status


def cause_name(code: int) -> str:
    cause = BY_CODE.get(code)
    return cause.name if cause else "UNSPECIFIED"


def cause_by_name(name: str) -> Cause:
    return BY_NAME[name.upper()]
