"""Delivery against a real receiver: retries, timeouts, dead letters, replay, order, safety."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.webhooks.receiver import Reply
from tests.webhooks.support import (
    ADMIN,
    T0,
    HookPlatform,
    Step,
    Tenant,
    make_call,
    make_tenant,
    play,
    post_native_call,
    wait_settled,
)

NATIVE_STEPS = [
    Step("call.ringing", T0 + 1.0),
    Step("call.answered", T0 + 2.0),
    Step("call.dtmf", T0 + 3.0, {"digits": "7"}),
    Step("call.completed", T0 + 9.0, row={"hangup_side": "callee"}),
]


def _prefix() -> str:
    return f"/r/{uuid.uuid4().hex[:8]}"


def native_call(
    hp: HookPlatform, path: str, steps: list[Step] | None = None, **tenant: Any
) -> tuple[Tenant, str]:
    t = make_tenant(hp.p, webhook_url=f"{hp.rx.base_url}{path}", **tenant)
    call = make_call(hp.p, t, dialect="native", kind="script", callee="+4930123456")
    play(hp.p, t, call, steps if steps is not None else NATIVE_STEPS[-1:])
    return t, call


def test_retries_on_500_until_acknowledged(hp: HookPlatform) -> None:
    path = _prefix() + "/hook"
    hp.rx.script(path, Reply(500, b"oops"), Reply(503, b"busy"))
    _, call = native_call(hp, path)
    [d] = wait_settled(hp.p, call)
    assert d["status"] == "delivered"
    assert [a["status_code"] for a in d["attempts_log"]] == [500, 503, 200]
    assert d["attempts_log"][0]["response_head"] == "oops"
    assert d["attempts_log"][0]["error"] == "not acknowledged: HTTP 500"
    assert all(a["latency_ms"] > 0 for a in d["attempts_log"])
    bodies = {r.body for r in hp.rx.received(path)}
    assert len(bodies) == 1  # the same bytes every time


def test_retries_on_timeout(hp: HookPlatform) -> None:
    path = _prefix() + "/slow"
    hp.rx.script(path, Reply(200, b"late", delay=1.5))  # read timeout is 0.5 s
    _, call = native_call(hp, path)
    [d] = wait_settled(hp.p, call)
    assert d["status"] == "delivered"
    first, second = d["attempts_log"]
    assert first["status_code"] is None and "Timeout" in first["error"]
    assert second["status_code"] == 200


def test_nxcloud_error_body_is_retried(hp: HookPlatform) -> None:
    pre = _prefix()
    hp.rx.script(f"{pre}/dr", Reply(200, b"error"), Reply(200, b"ok"), Reply(200, b" success\n"))
    t = make_tenant(hp.p, urls={"dr_url": f"{hp.rx.base_url}{pre}/dr"})
    call = make_call(hp.p, t, dialect="nxcloud", kind="group", callee="8615088888888")
    play(hp.p, t, call, [Step("call.failed", T0 + 1, row={"sip_status": 486})])
    [d] = wait_settled(hp.p, call)
    assert d["status"] == "delivered"
    assert [a["response_head"] for a in d["attempts_log"]] == ["error", "ok", " success\n"]


def test_dead_letter_after_last_attempt_then_replay(hp: HookPlatform) -> None:
    path = _prefix() + "/down"
    hp.rx.script(path, *[Reply(500)] * 4)  # the test policy allows 4 attempts
    t, call = native_call(hp, path)
    [d] = wait_settled(hp.p, call)
    assert d["status"] == "dead"
    assert d["attempts"] == 4 and len(d["attempts_log"]) == 4
    assert d["last_status"] == 500

    # Another tenant cannot see or replay it.
    other = make_tenant(hp.p)
    auth = (other.app_key, other.app_secret)
    assert hp.p.http.get(f"/v1/webhooks/deliveries/{d['id']}", auth=auth).status_code == 404
    assert hp.p.http.post(f"/v1/webhooks/deliveries/{d['id']}/replay", auth=auth).status_code == 404

    r = hp.p.http.post(f"/v1/webhooks/deliveries/{d['id']}/replay", auth=(t.app_key, t.app_secret))
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending"
    [d] = wait_settled(hp.p, call)
    assert d["status"] == "delivered"
    assert [a["status_code"] for a in d["attempts_log"]] == [500, 500, 500, 500, 200]
    one = hp.p.http.get(f"/v1/webhooks/deliveries/{d['id']}", headers=ADMIN).json()
    assert one["body"].encode() == hp.rx.received(path)[-1].body
    assert len(one["attempts_log"]) == 5


def test_order_per_call(hp: HookPlatform) -> None:
    path = _prefix() + "/ordered"
    # The first event fails twice: nothing after it may overtake it.
    hp.rx.script(path, Reply(500), Reply(500))
    _, call = native_call(hp, path, NATIVE_STEPS)
    items = wait_settled(hp.p, call)
    assert [d["status"] for d in items] == ["delivered"] * 4
    got = [r for r in hp.rx.received(path)]
    import json

    types = [json.loads(r.body)["type"] for r in got]
    assert types == ["call.ringing"] * 3 + ["call.answered", "call.dtmf", "call.completed"]
    seqs = [json.loads(r.body)["seq"] for r in got]
    assert seqs == sorted(seqs)


def test_loopback_refused_unless_trusted(hp: HookPlatform) -> None:
    path = _prefix() + "/private"
    _, call = native_call(hp, path, trust=())
    [d] = wait_settled(hp.p, call)
    assert d["status"] == "dead" and d["attempts"] == 1
    assert "target refused" in d["last_error"] and "non-public" in d["last_error"]
    assert hp.rx.received(path) == []


def test_request_url_must_be_on_trustlist(hp: HookPlatform) -> None:
    pre = _prefix()
    t = make_tenant(hp.p, trust=("127.0.0.1:1",))  # trusts another port only
    call = make_call(
        hp.p,
        t,
        dialect="huawei",
        kind="notification",
        callee="88880000",
        callback_url=f"{hp.rx.base_url}{pre}/release",
    )
    play(hp.p, t, call, [Step("call.failed", T0 + 1)])
    [d] = wait_settled(hp.p, call)
    assert d["status"] == "dead"
    assert "trustlist" in d["last_error"]


def test_redirects_only_to_trusted_hosts(hp: HookPlatform) -> None:
    pre = _prefix()
    port = hp.rx.base_url.rsplit(":", 1)[1]
    untrusted = f"http://localhost:{port}{pre}/elsewhere"
    hp.rx.script(f"{pre}/a", Reply(307, b"", headers={"location": untrusted}))
    hp.rx.script(f"{pre}/b", Reply(308, b"", headers={"location": f"{pre}/b2"}))
    _, call_a = native_call(hp, f"{pre}/a")
    _, call_b = native_call(hp, f"{pre}/b")
    [a] = wait_settled(hp.p, call_a)
    assert a["attempts_log"][0]["error"].startswith("redirect refused")
    assert a["status"] == "delivered"  # the next attempt was answered directly
    [b] = wait_settled(hp.p, call_b)
    assert b["status"] == "delivered" and len(b["attempts_log"]) == 1
    assert [r.path for r in hp.rx.received(pre) if "elsewhere" in r.path] == []
    assert len(hp.rx.received(f"{pre}/b2")) == 1


def test_response_body_is_capped(hp: HookPlatform) -> None:
    path = _prefix() + "/big"
    hp.rx.script(path, Reply(200, b"x" * 200_000))
    _, call = native_call(hp, path)
    [d] = wait_settled(hp.p, call)
    assert d["status"] == "delivered"
    assert len(d["attempts_log"][0]["response_head"]) == 1024


def test_one_slow_host_holds_at_most_per_host_slots(hp: HookPlatform) -> None:
    pre = _prefix()
    path = f"{pre}/slow"
    hp.rx.script(path, *[Reply(200, b"ok", delay=0.3)] * 20)
    t = make_tenant(hp.p, webhook_url=f"{hp.rx.base_url}{path}")
    calls = [
        make_call(hp.p, t, dialect="native", kind="script", callee="+49301") for _ in range(20)
    ]
    for call in calls:
        play(hp.p, t, call, NATIVE_STEPS[-1:])
    for call in calls:
        wait_settled(hp.p, call, timeout=30)
    assert 1 <= hp.rx.max_active[pre] <= 8  # webhook_per_host default


def test_delivery_listing_requires_credentials(hp: HookPlatform) -> None:
    assert hp.p.http.get("/v1/webhooks/deliveries").status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert hp.p.http.get("/v1/webhooks/deliveries", headers=bad).status_code == 403
    assert hp.p.http.get("/v1/webhooks/deliveries", headers=ADMIN).status_code == 200


def test_native_api_call_announces_call_queued(hp: HookPlatform) -> None:
    path = _prefix() + "/queued"
    t = make_tenant(hp.p)
    hp.p.run(lambda s: s.tenants.add_access_code(t.name, "640003"))
    call_id = post_native_call(hp, t, f"{hp.rx.base_url}{path}")
    [d] = wait_settled(hp.p, call_id)
    assert d["status"] == "delivered"
    [got] = hp.rx.received(path)
    event = json.loads(got.body)
    assert (event["type"], event["seq"], event["call_id"]) == ("call.queued", 1, call_id)
    assert event["data"]["call"]["status"] == "queued"
    assert event["data"]["call"]["to"] == "88880000"
    r = hp.p.http.get(f"/v1/calls/{call_id}/events", auth=(t.app_key, t.app_secret))
    assert r.status_code == 200, r.text
    [logged] = r.json()["deliveries"][0]["attempts_log"]
    assert logged["request"].startswith(f"POST {hp.rx.base_url}{path}\n")
    assert logged["response_head"] == "success"


def test_each_attempt_logs_the_request_it_sent(hp: HookPlatform) -> None:
    pre = _prefix()
    # native, signed: the headers of each attempt (its own timestamp and signature)
    hp.rx.script(f"{pre}/native", Reply(500))
    _, native = native_call(hp, f"{pre}/native", webhook_secret="whsec-test")
    [d] = wait_settled(hp.p, native)
    sent = hp.rx.received(f"{pre}/native")
    assert [a["status_code"] for a in d["attempts_log"]] == [500, 200]
    for attempt, got in zip(d["attempts_log"], sent, strict=True):
        lines = attempt["request"].split("\n")
        assert lines[0] == f"POST {hp.rx.base_url}{pre}/native"
        headers = dict(line.split(": ", 1) for line in lines[1:])  # no body: it is stored
        assert headers["Voxgate-Signature"] == got.headers["voxgate-signature"]
        assert headers["Idempotency-Key"] == d["event_id"]

    # Huawei, signed per attempt inside the body: the body as sent is logged too
    t = make_tenant(hp.p, callback_secret="cbsec-test")
    huawei = make_call(
        hp.p,
        t,
        dialect="huawei",
        kind="notification",
        callee="88880000",
        callback_url=f"{hp.rx.base_url}{pre}/huawei",
    )
    play(hp.p, t, huawei, [Step("call.failed", T0 + 1)])
    [h] = wait_settled(hp.p, huawei)
    [got] = hp.rx.received(f"{pre}/huawei")
    head, _, body = h["attempts_log"][0]["request"].partition("\n\n")
    assert head.startswith(f"POST {hp.rx.base_url}{pre}/huawei\n")
    assert body.encode() == got.body and b'"signature"' in got.body

    # redirected: one line per URL posted to
    hp.rx.script(f"{pre}/moved", Reply(308, b"", headers={"location": f"{pre}/here"}))
    _, moved = native_call(hp, f"{pre}/moved")
    [m] = wait_settled(hp.p, moved)
    assert m["attempts_log"][0]["request"].split("\n")[:2] == [
        f"POST {hp.rx.base_url}{pre}/moved",
        f"POST {hp.rx.base_url}{pre}/here",
    ]

    # refused before sending: nothing was sent, nothing is logged as sent
    _, private = native_call(hp, f"{pre}/private", trust=())
    [p] = wait_settled(hp.p, private)
    assert p["attempts_log"][0]["request"] is None
