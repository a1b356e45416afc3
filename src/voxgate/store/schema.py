"""The declared schema. Migrations must produce exactly this (tested).

Times are float seconds since the epoch (UTC), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# An auto-incrementing 64-bit key on PostgreSQL that is still SQLite's ROWID alias.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


def _tenant_fk() -> Column[str]:
    return Column(
        "tenant_id", String(32), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


tenants = Table(
    "tenants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("status", String(16), nullable=False, default="active"),  # active | suspended
    Column("subscribed", Boolean, nullable=False, default=True),
    Column("vdn_enabled", Boolean, nullable=False, default=True),
    Column("trial", Boolean, nullable=False, default=False),
    Column("anonymize_caller", Boolean, nullable=False, default=False),
    Column("bidirectional_type", String(8), nullable=False, default="AICC"),  # AICC | ITA
    Column("companycode", String(16), nullable=False, unique=True),
    Column("default_callback_url", String(512)),
    Column("callback_secret", LargeBinary),  # encrypted
    Column("webhook_secret", LargeBinary),  # encrypted
    Column("webhook_url", String(512)),
    Column("created_at", Float, nullable=False),
    # 0002: webhooks
    Column("connect_callback_url", String(512)),  # Huawei bidirectional connect callback
    Column("webhook_signing_key", LargeBinary),  # encrypted Ed25519 private key (raw, 32 bytes)
)

apps = Table(
    "apps",
    metadata,
    Column("id", String(32), primary_key=True),
    _tenant_fk(),
    Column("name", String(100), nullable=False),
    Column("huawei_app_key", String(64), nullable=False, unique=True),
    Column("huawei_secret_hash", String(64), nullable=False),
    Column("nxcloud_appkey", String(64), nullable=False, unique=True),
    Column("nxcloud_secret_hash", String(64), nullable=False),
    Column("sipcall_appid", String(64), nullable=False, unique=True),
    Column("sipcall_accesskey_hash", String(64), nullable=False),
    Column("dr_url", String(512)),
    Column("cdr_url", String(512)),
    Column("status_url", String(512)),
    Column("created_at", Float, nullable=False),
)

access_tokens = Table(
    "access_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("app_id", String(32), ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    _tenant_fk(),
    Column("dialect", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

trusted_numbers = Table(
    "trusted_numbers",
    metadata,
    _tenant_fk(),
    Column("number", String(32), nullable=False),
    UniqueConstraint("tenant_id", "number", name="uq_trusted_numbers_tenant_number"),
)

trusted_callback_hosts = Table(
    "trusted_callback_hosts",
    metadata,
    _tenant_fk(),
    Column("host", String(255), nullable=False),
    UniqueConstraint("tenant_id", "host", name="uq_trusted_callback_hosts_tenant_host"),
)

access_codes = Table(
    "access_codes",
    metadata,
    _tenant_fk(),
    Column("code", String(32), nullable=False),
    UniqueConstraint("tenant_id", "code", name="uq_access_codes_tenant_code"),
)

softphone_ranges = Table(
    "softphone_ranges",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    _tenant_fk(),
    Column("first", String(32), nullable=False),
    Column("last", String(32), nullable=False),
    UniqueConstraint("tenant_id", "first", "last", name="uq_softphone_ranges_span"),
)

extension_groups = Table(
    "extension_groups",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    _tenant_fk(),
    Column("name", String(64), nullable=False),
    UniqueConstraint("tenant_id", "name", name="uq_extension_groups_tenant_name"),
)

extensions = Table(
    "extensions",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    _tenant_fk(),
    Column("number", String(32), nullable=False),
    Column("password", LargeBinary, nullable=False),  # encrypted: SIP digest needs it
    Column(
        "group_id",
        AutoId,
        ForeignKey("extension_groups.id", ondelete="SET NULL"),
    ),
    Column("enabled", Boolean, nullable=False, default=True),
    UniqueConstraint("tenant_id", "number", name="uq_extensions_tenant_number"),
)

skills = Table(
    "skills",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    _tenant_fk(),
    Column("name", String(100), nullable=False),
    Column("description", String(50), nullable=False, default=""),
    Column("media_type_id", Integer, nullable=False, default=5),
    Column("max_wait_time", Integer, nullable=False, default=60),
    Column("max_wait_num", Integer, nullable=False, default=100),
    Column("params", JSON, nullable=False, default=dict),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("tenant_id", "name", name="uq_skills_tenant_name"),
)

ivr_flows = Table(
    "ivr_flows",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    _tenant_fk(),
    Column("name", String(100), nullable=False),
    Column("script", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("tenant_id", "name", name="uq_ivr_flows_tenant_name"),
)

called_routes = Table(
    "called_routes",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    _tenant_fk(),
    Column("access_code", String(32), nullable=False),
    Column("ext_code", String(12), nullable=False, default=""),
    Column("media_type_id", Integer, nullable=False, default=5),
    Column("device_type", Integer, nullable=False),  # 1 skill queue, 3 IVR
    Column("device_id", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint(
        "tenant_id", "access_code", "ext_code", name="uq_called_routes_tenant_code_ext"
    ),
)

voice_files = Table(
    "voice_files",
    metadata,
    Column("id", String(32), primary_key=True),
    _tenant_fk(),
    Column("name", String(255), nullable=False),
    Column("status", String(16), nullable=False, default="approved"),
    Column("scene", String(16), nullable=False, default="3"),
    Column("locale", String(16)),
    Column("source", String(16), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_voice_files_tenant_name", "tenant_id", "name"),
)

calls = Table(
    "calls",
    metadata,
    Column("id", String(32), primary_key=True),
    _tenant_fk(),
    Column("app_id", String(32)),
    Column("dialect", String(16), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("serial_no", String(50), nullable=False, unique=True),
    Column("request_ref", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("caller", String(64)),
    Column("callee", String(64), nullable=False),
    Column("script", JSON, nullable=False),
    Column("callback_url", String(1024)),
    Column("dialect_data", JSON, nullable=False, default=dict),
    Column("priority", Integer, nullable=False, default=9),
    Column("dedupe_key", String(64)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("ringing_at", Float),
    Column("answered_at", Float),
    Column("ended_at", Float),
    Column("sip_status", Integer),
    Column("q850_cause", Integer),
    Column("hangup_side", String(16)),
    Column("result", JSON),
    Index("ix_calls_tenant_created", "tenant_id", "created_at"),
    Index("ix_calls_dedupe", "dedupe_key"),
    Index("ix_calls_request_ref", "request_ref"),
)

call_jobs = Table(
    "call_jobs",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("call_id", String(32), ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    _tenant_fk(),
    Column("status", String(16), nullable=False),  # queued | doing | done | failed
    Column("priority", Integer, nullable=False),
    Column("run_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("worker", String(64)),
    Column("heartbeat_at", Float),
    Column("created_at", Float, nullable=False),
    Index("ix_call_jobs_claim", "status", "priority", "run_at"),
)

call_events = Table(
    "call_events",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("call_id", String(32), ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("data", JSON, nullable=False, default=dict),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("call_id", "seq", name="uq_call_events_call_seq"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    _tenant_fk(),
    Column("key", String(255), nullable=False),
    Column("body_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("tenant_id", "key", name="uq_idempotency_keys_tenant_key"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(32), primary_key=True),
    _tenant_fk(),
    Column("call_id", String(32), ForeignKey("calls.id", ondelete="CASCADE")),
    Column("event_id", String(32), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("format", String(32), nullable=False),
    Column("url", String(1024), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("headers", JSON, nullable=False, default=dict),
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
    # 0002: webhooks
    Column("event_type", String(32), nullable=False),
    Column("host", String(255), nullable=False),  # host[:port], for per-host limits
    Column("url_from_request", Boolean, nullable=False, default=False),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_call", "call_id", "seq"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        String(32),
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempt", Integer, nullable=False),
    Column("status_code", Integer),
    Column("response_head", Text),
    Column("error", Text),
    Column("latency_ms", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    # the request as sent: "POST <url>", its headers, and the body when it is not the
    # delivery's (a Huawei callback signed per attempt); null when nothing was sent
    Column("request", Text),
    Index("ix_webhook_attempts_delivery", "delivery_id"),
)
