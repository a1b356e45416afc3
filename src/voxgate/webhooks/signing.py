"""Callback signatures. Pure: keys, time and nonces come in as arguments.

Huawei (spec b.2): the body's fields except ``timestamp``/``nonce``/``signature``, sorted by
name and written the way the vendor's Java sample writes a ``TreeMap`` (``k=v`` joined by
``,``; braces and spaces removed; ``null`` for a missing value); then
``Base64(SHA-256(secret + "_" + timestamp + "_" + nonce + "_" + joined))``. The vendor's prose
says SHA-256 and that is what is implemented: a plain hash, not an HMAC.

Native: ``Voxgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``
and, when the tenant has an Ed25519 key, ``,ed25519=<base64 signature of "<t>." + body>``.
A receiver recomputes either and refuses timestamps outside its replay window (300 s).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HUAWEI_SIGNATURE_FIELDS = ("signature", "timestamp", "nonce")
REPLAY_WINDOW = 300
SIGNATURE_HEADER = "Voxgate-Signature"


def _java(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def huawei_string_to_sign(
    fields: Mapping[str, Any], secret: str, timestamp: str, nonce: str
) -> str:
    pairs = ", ".join(
        f"{k}={_java(fields[k])}" for k in sorted(fields) if k not in HUAWEI_SIGNATURE_FIELDS
    )
    joined = ("{" + pairs + "}").replace("{", "").replace("}", "").replace(" ", "")
    return f"{secret}_{timestamp}_{nonce}_{joined}"


def huawei_signature(fields: Mapping[str, Any], secret: str, timestamp: str, nonce: str) -> str:
    digest = hashlib.sha256(
        huawei_string_to_sign(fields, secret, timestamp, nonce).encode("utf-8")
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def huawei_signed(
    fields: Mapping[str, Any], secret: str, timestamp: str, nonce: str
) -> dict[str, Any]:
    """The fields with ``signature``, ``timestamp`` and ``nonce`` appended."""
    out = dict(fields)
    out["signature"] = huawei_signature(fields, secret, timestamp, nonce)
    out["timestamp"] = timestamp
    out["nonce"] = nonce
    return out


# --- native ---------------------------------------------------------------------------------


def _signed_content(timestamp: int, body: bytes) -> bytes:
    return str(timestamp).encode("ascii") + b"." + body


def native_signature(
    body: bytes,
    timestamp: int,
    *,
    secret: str | None,
    ed25519_key: Ed25519PrivateKey | None = None,
) -> str | None:
    """The ``Voxgate-Signature`` header value, or None when the tenant has no keys."""
    if secret is None and ed25519_key is None:
        return None
    parts = [f"t={timestamp}"]
    content = _signed_content(timestamp, body)
    if secret is not None:
        mac = hmac.new(secret.encode("utf-8"), content, hashlib.sha256).hexdigest()
        parts.append(f"v1={mac}")
    if ed25519_key is not None:
        parts.append("ed25519=" + base64.b64encode(ed25519_key.sign(content)).decode("ascii"))
    return ",".join(parts)


def parse_signature_header(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value.split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            out[key] = val
    return out


def verify_native(
    header: str,
    body: bytes,
    *,
    now: float,
    secret: str | None = None,
    public_key: Ed25519PublicKey | None = None,
    window: int = REPLAY_WINDOW,
) -> bool:
    """Check a ``Voxgate-Signature`` header as a receiver would (for docs and tooling)."""
    parts = parse_signature_header(header)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > window:
        return False
    content = _signed_content(timestamp, body)
    if secret is not None:
        expected = hmac.new(secret.encode("utf-8"), content, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            return False
    if public_key is not None:
        try:
            public_key.verify(base64.b64decode(parts.get("ed25519", "")), content)
        except (InvalidSignature, ValueError):
            return False
    return secret is not None or public_key is not None


# --- Ed25519 keys ---------------------------------------------------------------------------


def new_ed25519_seed() -> bytes:
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    return Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )


def ed25519_key(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def ed25519_public_b64(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")
