"""The native API's public contract: request and response bodies of /v1 and /v1/admin.

These models are what /openapi.json describes. Text that reaches the store is checked for
control characters here, so a bad byte is a 422, never a database error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from voxgate.calls.script import CallScript

PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
DIGITS = r"^[0-9]{1,32}$"
CALL_ID = r"^[0-9a-f]{32}$"
IDEMPOTENCY_KEY = r"^[\x21-\x7e]{1,255}$"


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018  (a bad port raises)
    except ValueError:
        raise ValueError("the URL has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


HttpUrl = Annotated[
    str,
    Field(min_length=1, max_length=512, pattern=PRINTABLE, examples=["https://app.example/hook"]),
    AfterValidator(_http_url),
]
Digits = Annotated[str, Field(pattern=DIGITS, examples=["640003"])]
MetadataKey = Annotated[str, Field(min_length=1, max_length=40, pattern=PRINTABLE)]
MetadataValue = Annotated[str, Field(max_length=500, pattern=PRINTABLE)]


def from_epoch(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def maybe_epoch(value: float | None) -> datetime | None:
    return None if value is None else from_epoch(value)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """An error, as application/problem+json (RFC 9457)."""

    type: str = Field(examples=["about:blank#call_not_found"])
    title: str = Field(description="Same as error_id.")
    status: int
    detail: str = Field(description="What went wrong, for people.")
    error_id: str = Field(description="A stable, machine-readable error id.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For 422: each invalid field (loc) and why (msg)."
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problem answers an operation can give."""
    why = {
        400: "The request breaks a rule (see error_id).",
        401: "Credentials missing or wrong.",
        403: "Not allowed for this tenant or token.",
        404: "No such resource (or it belongs to another tenant).",
        409: "Conflicts with an earlier request.",
        422: "The request does not validate.",
    }
    schema = Problem.model_json_schema()
    return {
        s: {"description": why[s], "content": {"application/problem+json": {"schema": schema}}}
        for s in statuses
    }


# --- native calls ---------------------------------------------------------------------------


class CallCreate(_Model):
    """A call to place, written as a call script.

    The first step dials the callee; the remaining steps run once the callee answers. The
    `from` of a `dial` or `bridge` step is the number the callee sees: one of the tenant's
    access codes (the tenant's first access code when left out).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "script": {
                        "steps": [
                            {"op": "dial", "to": "+4930901820", "from": "640003"},
                            {"op": "say", "text": "Your parcel arrives today.", "language": "en"},
                            {"op": "hangup"},
                        ]
                    },
                    "callback_url": "https://app.example/voxgate/events",
                    "priority": 5,
                    "metadata": {"order": "A-1042"},
                }
            ]
        },
    )

    script: CallScript = Field(description="What the call does, step by step.")
    callback_url: HttpUrl | None = Field(
        default=None,
        description=(
            "Where this call's events are posted. Its host (or host:port) must be on the "
            "tenant's callback trust list. Defaults to the tenant's webhook URL."
        ),
    )
    priority: int = Field(
        default=9, ge=1, le=9, description="1 (placed first) to 9 (placed last), as in Huawei."
    )
    metadata: dict[MetadataKey, MetadataValue] = Field(
        default_factory=dict,
        max_length=16,
        description="Up to 16 string pairs of your own, returned with the call.",
    )
    force_regenerate: bool = Field(
        default=False,
        description=(
            "Synthesise every say step afresh instead of using cached audio "
            "(after a voice or engine change)."
        ),
    )


class Call(BaseModel):
    """A call and where it stands. Times are UTC."""

    id: str = Field(description="The call's id (32 hex digits).", examples=["3f2a" + "0" * 28])
    serial_no: str = Field(description="A 16-digit serial number, unique across calls.")
    request_ref: str = Field(description="Shared by the calls one request created.")
    dialect: str = Field(description="The API the call came in through: native, huawei, ...")
    kind: str = Field(description="script for native calls; the dialect's kind otherwise.")
    status: str = Field(
        description="queued, dialing, ringing, answered, then a final status.",
        examples=["queued"],
    )
    callee: str
    caller: str | None = Field(description="The number the callee sees.")
    priority: int = Field(ge=1, le=9)
    callback_url: str | None
    metadata: dict[str, str]
    script: dict[str, Any] = Field(description="The call script, as accepted.")
    created_at: datetime
    updated_at: datetime
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    sip_status: int | None = Field(default=None, description="Final SIP status of the call.")
    q850_cause: int | None = None
    hangup_side: str | None = Field(default=None, description="caller, callee or system.")
    result: Any = Field(default=None, description="What the script collected (keys, ...).")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Call:
        data = row.get("dialect_data") or {}
        meta = data.get("metadata") if isinstance(data, dict) else None
        return cls(
            id=row["id"],
            serial_no=row["serial_no"],
            request_ref=row["request_ref"],
            dialect=row["dialect"],
            kind=row["kind"],
            status=row["status"],
            callee=row["callee"],
            caller=row.get("caller"),
            priority=row["priority"],
            callback_url=row.get("callback_url"),
            metadata=meta if isinstance(meta, dict) else {},
            script=row["script"],
            created_at=from_epoch(row["created_at"]),
            updated_at=from_epoch(row["updated_at"]),
            ringing_at=maybe_epoch(row.get("ringing_at")),
            answered_at=maybe_epoch(row.get("answered_at")),
            ended_at=maybe_epoch(row.get("ended_at")),
            sip_status=row.get("sip_status"),
            q850_cause=row.get("q850_cause"),
            hangup_side=row.get("hangup_side"),
            result=row.get("result"),
        )


class CallPage(BaseModel):
    """One page of calls, newest first."""

    items: list[Call]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class CallEvent(BaseModel):
    """Something that happened to a call, in order (`seq` starts at 1)."""

    seq: int
    type: str = Field(examples=["call.queued"])
    data: dict[str, Any]
    created_at: datetime


class WebhookAttempt(BaseModel):
    """One try at delivering a webhook."""

    attempt: int
    status_code: int | None = Field(description="The receiver's HTTP status, if it answered.")
    error: str | None
    latency_ms: float
    created_at: datetime
    request: str | None = Field(
        None,
        description="What was sent: POST <url> (one line per URL when redirected), the "
        "headers, and the body when it differs from the delivery's (signed per attempt).",
    )
    response_head: str | None = Field(None, description="The first 1 KiB of the response.")


class WebhookDelivery(BaseModel):
    """A webhook (or vendor callback) owed for this call, and how its delivery went."""

    id: str
    event_id: str
    seq: int = Field(description="The event's seq.")
    event_type: str
    format: str = Field(description="native, or the vendor callback format.")
    url: str
    status: str = Field(description="pending, delivered or dead.")
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempts_log: list[WebhookAttempt]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> WebhookDelivery:
        return cls(
            id=row["id"],
            event_id=row["event_id"],
            seq=row["seq"],
            event_type=row["event_type"],
            format=row["format"],
            url=row["url"],
            status=row["status"],
            attempts=row["attempts"],
            last_status=row.get("last_status"),
            last_error=row.get("last_error"),
            created_at=from_epoch(row["created_at"]),
            delivered_at=maybe_epoch(row.get("delivered_at")),
            attempts_log=[
                WebhookAttempt(
                    attempt=a["attempt"],
                    status_code=a.get("status_code"),
                    error=a.get("error"),
                    latency_ms=a["latency_ms"],
                    created_at=from_epoch(a["created_at"]),
                    request=a.get("request"),
                    response_head=a.get("response_head"),
                )
                for a in row.get("attempts_log", [])
            ],
        )


class CallEventList(BaseModel):
    """A call's events, and the webhooks they caused with every delivery attempt."""

    items: list[CallEvent]
    deliveries: list[WebhookDelivery] = Field(default_factory=list)


# --- admin ----------------------------------------------------------------------------------


class TenantCreate(_Model):
    """A new tenant; it gets one app with fresh credentials for every dialect."""

    name: str = Field(min_length=1, max_length=100, pattern=PRINTABLE, examples=["acme"])
    trial: bool = Field(
        default=False, description="Trial tenants call trusted numbers only, 10 per day."
    )
    vdn_enabled: bool | None = None
    anonymize_caller: bool | None = None
    bidirectional_type: Literal["AICC", "ITA"] | None = None
    default_callback_url: HttpUrl | None = None
    webhook_url: HttpUrl | None = None


class TenantUpdate(_Model):
    """The settings to change; fields left out stay as they are."""

    status: Literal["active", "suspended"] | None = None
    subscribed: bool | None = None
    trial: bool | None = None
    vdn_enabled: bool | None = None
    anonymize_caller: bool | None = None
    bidirectional_type: Literal["AICC", "ITA"] | None = None
    default_callback_url: HttpUrl | None = None
    webhook_url: HttpUrl | None = None


class HuaweiCredentials(BaseModel):
    app_key: str
    app_secret: str


class NxcloudCredentials(BaseModel):
    appkey: str
    secretkey: str


class SipcallCredentials(BaseModel):
    appid: str
    accesskey: str
    companycode: str


class TenantCredentials(BaseModel):
    """A new tenant's credentials: the only time the secrets are shown."""

    tenant_id: str
    name: str
    huawei: HuaweiCredentials
    nxcloud: NxcloudCredentials
    sipcall: SipcallCredentials


class AppInfo(BaseModel):
    name: str
    huawei_app_key: str
    nxcloud_appkey: str
    sipcall_appid: str
    dr_url: str | None
    cdr_url: str | None
    status_url: str | None


class Tenant(BaseModel):
    """A tenant's settings, trust lists and number plan. Secrets are never shown."""

    tenant_id: str
    name: str
    status: str
    subscribed: bool
    trial: bool
    vdn_enabled: bool
    anonymize_caller: bool
    bidirectional_type: str
    companycode: str
    default_callback_url: str | None
    webhook_url: str | None
    callback_secret_set: bool
    webhook_secret_set: bool
    access_codes: list[str]
    trusted_numbers: list[str]
    trusted_callback_hosts: list[str]
    softphone_ranges: list[list[str]] = Field(description="[from, to] pairs, inclusive.")
    extension_groups: list[str]
    apps: list[AppInfo]


class TrustedHost(_Model):
    host: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[^\x00-\x20\x7f/]+$",
        description="A host name or address, optionally with :port.",
        examples=["app.example", "10.0.0.5:8443"],
    )


class TrustedNumber(_Model):
    number: str = Field(pattern=r"^\+?[0-9]{1,32}$", examples=["8613800000000"])


class AccessCode(_Model):
    code: Digits


class SoftphoneRange(_Model):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Digits = Field(alias="from", description="First number of the block.")
    to: Digits = Field(description="Last number, same length as `from`.")


class Extension(_Model):
    password: str = Field(
        min_length=4, max_length=128, pattern=PRINTABLE, description="SIP digest password."
    )
    group: str | None = Field(default=None, min_length=1, max_length=64, pattern=PRINTABLE)


class AppUrls(_Model):
    """Callback URLs of the tenant's apps. Fields left out stay; null clears one."""

    dr_url: HttpUrl | None = Field(default=None, description="NXCloud voice receipts (DR).")
    cdr_url: HttpUrl | None = Field(default=None, description="SIP call-center CDR pushes.")
    status_url: HttpUrl | None = Field(
        default=None, description="SIP call-center extension status pushes."
    )


class SigningSecret(_Model):
    secret: str = Field(min_length=8, max_length=256, pattern=PRINTABLE)
