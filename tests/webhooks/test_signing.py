"""Signatures, checked by implementations written here from the documented rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.webhooks.support import ADMIN, T0, HookPlatform, Step, make_call, make_tenant, play


def java_treemap_string(fields: dict[str, object]) -> str:
    """What ``new TreeMap<>(fields).toString()`` prints, braces and spaces then removed."""
    text = (
        "{"
        + ", ".join(f"{k}={'null' if v is None else v}" for k, v in sorted(fields.items()))
        + "}"
    )
    return text.replace("{", "").replace("}", "").replace(" ", "")


def huawei_valid(body: dict[str, object], secret: str) -> bool:
    rest = {k: v for k, v in body.items() if k not in ("signature", "timestamp", "nonce")}
    plain = f"{secret}_{body['timestamp']}_{body['nonce']}_{java_treemap_string(rest)}"
    expected = base64.b64encode(hashlib.sha256(plain.encode()).digest()).decode()
    return hmac.compare_digest(expected, str(body["signature"]))


def test_huawei_release_signed_when_url_came_from_the_request(hp: HookPlatform) -> None:
    pre = f"/r/{uuid.uuid4().hex[:8]}"
    secret = "callback-secret-42"
    t = make_tenant(
        hp.p, callback_secret=secret, default_callback_url=f"{hp.rx.base_url}{pre}/default"
    )
    signed_call = make_call(
        hp.p,
        t,
        dialect="huawei",
        kind="notification",
        callee="88880000",
        caller="4001234567",
        callback_url=f"{hp.rx.base_url}{pre}/given",
    )
    plain_call = make_call(
        hp.p,
        t,
        dialect="huawei",
        kind="notification",
        callee="88880001",
        callback_url=f"{hp.rx.base_url}{pre}/default",
    )
    ending = [Step("call.answered", T0 + 1), Step("call.completed", T0 + 5)]
    play(hp.p, t, signed_call, ending)
    play(hp.p, t, plain_call, ending)
    got = {r.path: json.loads(r.body) for r in hp.rx.wait_for(pre, 2)}
    signed, plain = got[f"{pre}/given"], got[f"{pre}/default"]
    assert list(signed)[-3:] == ["signature", "timestamp", "nonce"]
    assert huawei_valid(signed, secret)
    assert not huawei_valid(signed, "another-secret")
    assert abs(int(str(signed["timestamp"])) / 1000 - time.time()) < 60
    assert "signature" not in plain  # a configured URL gets no signature (spec b.2)


def test_native_hmac_and_ed25519(hp: HookPlatform) -> None:
    path = f"/r/{uuid.uuid4().hex[:8]}/events"
    secret = "webhook-secret-0123"
    t = make_tenant(hp.p, webhook_url=f"{hp.rx.base_url}{path}", webhook_secret=secret)
    r = hp.p.http.post(f"/v1/webhooks/tenants/{t.name}/signing-key", headers=ADMIN)
    assert r.status_code == 200, r.text
    public_b64 = r.json()["ed25519_public_key"]
    again = hp.p.http.get(f"/v1/webhooks/tenants/{t.name}/signing-key", headers=ADMIN)
    assert again.json()["ed25519_public_key"] == public_b64
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))

    call = make_call(hp.p, t, dialect="native", kind="script", callee="+4930123456")
    play(hp.p, t, call, [Step("call.failed", T0 + 1, row={"sip_status": 404})])
    [got] = hp.rx.wait_for(path, 1)
    header = got.headers["voxgate-signature"]
    parts = dict(p.split("=", 1) for p in header.split(","))
    stamp = int(parts["t"])
    assert abs(time.time() - stamp) <= 300  # inside the receiver's replay window
    content = f"{stamp}.".encode() + got.body
    mac = hmac.new(secret.encode(), content, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, parts["v1"])
    public.verify(base64.b64decode(parts["ed25519"]), content)  # raises if wrong
    event = json.loads(got.body)
    assert got.headers["idempotency-key"] == event["id"]
    assert event["data"]["call"]["hangup_cause"] == "UNALLOCATED_NUMBER"
