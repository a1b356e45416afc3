"""Each dialect's callbacks, byte for byte, as a real receiver gets them (golden files).

Set VOXGATE_UPDATE_GOLDEN=1 to rewrite the files after a deliberate format change.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from tests.webhooks.receiver import Received
from tests.webhooks.support import T0, HookPlatform, Step, make_call, make_tenant, play

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, got: Received, content_type: str) -> None:
    assert got.headers["content-type"] == content_type
    path = GOLDEN / name
    if os.environ.get("VOXGATE_UPDATE_GOLDEN"):
        path.write_bytes(got.body)
    assert got.body == path.read_bytes(), f"{name}: {got.body!r}"


def _prefix() -> str:
    return f"/r/{uuid.uuid4().hex[:8]}"


def _id(hp: HookPlatform, n: int) -> str:
    """A fixed call id (each store is fresh, so the same ids serve both)."""
    return f"{n:08x}" + "0" * 24


def test_huawei_notification_release(hp: HookPlatform) -> None:
    pre = _prefix()
    t = make_tenant(hp.p, default_callback_url=f"{hp.rx.base_url}{pre}/default")
    call = make_call(
        hp.p,
        t,
        dialect="huawei",
        kind="notification",
        callee="88880000",
        caller="4001234567",
        callback_url=f"{hp.rx.base_url}{pre}/release",
        call_id=_id(hp, 1),
        serial_no="1182700000007090",
    )
    play(
        hp.p,
        t,
        call,
        [
            Step("call.ringing", T0 + 2.5),
            Step("call.answered", T0 + 6.123),
            Step("call.completed", T0 + 16.789, row={"hangup_side": "system"}),
        ],
    )
    [got] = hp.rx.wait_for(pre, 1)
    assert got.path == f"{pre}/release"
    check_golden("huawei-notification-release.json", got, "application/json;charset=UTF-8")


def test_huawei_notification_busy(hp: HookPlatform) -> None:
    pre = _prefix()
    t = make_tenant(hp.p, default_callback_url=f"{hp.rx.base_url}{pre}/default")
    call = make_call(
        hp.p,
        t,
        dialect="huawei",
        kind="notification",
        callee="88880001",
        callback_url=f"{hp.rx.base_url}{pre}/default",
        call_id=_id(hp, 2),
        serial_no="1182700000007091",
    )
    play(
        hp.p,
        t,
        call,
        [
            Step("call.ringing", T0 + 1.0),
            Step("call.failed", T0 + 3.0, row={"sip_status": 486, "hangup_side": "callee"}),
        ],
    )
    [got] = hp.rx.wait_for(pre, 1)
    assert got.path == f"{pre}/default"
    check_golden("huawei-notification-busy.json", got, "application/json;charset=UTF-8")


def test_huawei_bidirectional_connect_and_release(hp: HookPlatform) -> None:
    pre = _prefix()
    t = make_tenant(hp.p)
    r = hp.p.http.put(
        f"/v1/webhooks/tenants/{t.name}/connect-callback-url",
        json={"url": f"{hp.rx.base_url}{pre}/connect"},
        headers={"Authorization": "Bearer test-admin-token"},
    )
    assert r.status_code == 200, r.text
    call = make_call(
        hp.p,
        t,
        dialect="huawei",
        kind="bidirectional",
        callee="13900000000",
        caller="88889001",
        callback_url=f"{hp.rx.base_url}{pre}/release",
        call_id=_id(hp, 3),
        serial_no="1182700000007092",
        dialect_data={
            "callData": "order-42",
            "agentWorkNo": "1001",
            "callerPresent": "4001234567",
            "agentPresent": "4007654321",
        },
    )
    play(
        hp.p,
        t,
        call,
        [
            Step("leg.ringing", T0 + 1.2, {"leg": "a", "number": "88889001"}),
            Step("leg.answered", T0 + 4.5, {"leg": "a", "number": "88889001"}),
            Step("leg.ringing", T0 + 5.0, {"leg": "b", "number": "13900000000"}),
            Step("leg.answered", T0 + 9.25, {"leg": "b", "number": "13900000000"}),
            Step("leg.hangup", T0 + 40.5, {"leg": "b", "number": "13900000000"}),
            Step("leg.hangup", T0 + 40.6, {"leg": "a", "number": "88889001"}),
            Step(
                "call.completed", T0 + 40.6, row={"hangup_side": "callee", "answered_at": T0 + 9.25}
            ),
        ],
    )
    connect, release = hp.rx.wait_for(pre, 2)
    assert connect.path == f"{pre}/connect" and release.path == f"{pre}/release"
    check_golden("huawei-bidirectional-connect.json", connect, "application/json;charset=UTF-8")
    check_golden("huawei-bidirectional-release.json", release, "application/json;charset=UTF-8")


FORM = "application/x-www-form-urlencoded; charset=UTF-8"


def test_nxcloud_dr_group_call(hp: HookPlatform) -> None:
    pre = _prefix()
    t = make_tenant(hp.p, urls={"dr_url": f"{hp.rx.base_url}{pre}/dr"})
    call = make_call(
        hp.p,
        t,
        dialect="nxcloud",
        kind="group",
        callee="8615088888888",
        caller="861000",
        call_id=_id(hp, 4),
        serial_no="1182700000007093",
        request_ref="74078a0090f17e011505297261994aaa",
        dialect_data={"country_code": "86", "customer_price": "0.036", "basic_price": "0.005"},
    )
    play(
        hp.p,
        t,
        call,
        [
            Step("call.ringing", T0 + 1.0),
            Step("call.answered", T0 + 3.0),
            Step("call.dtmf", T0 + 5.0, {"digits": "1"}),
            Step("call.completed", T0 + 13.4, row={"hangup_side": "system"}),
        ],
    )
    [got] = hp.rx.wait_for(pre, 1)
    check_golden("nxcloud-dr-group.txt", got, FORM)


def test_nxcloud_dr_notification_busy(hp: HookPlatform) -> None:
    pre = _prefix()
    t = make_tenant(hp.p, urls={"dr_url": f"{hp.rx.base_url}{pre}/dr"})
    call = make_call(
        hp.p,
        t,
        dialect="nxcloud",
        kind="notification",
        callee="8613800000000",
        caller="8610086",
        call_id=_id(hp, 5),
        serial_no="1182700000007094",
        request_ref="0123456789abcdef0123456789abcdef",
        dialect_data={
            "country_code": "86",
            "voice_type": "1",
            "ext": "order-7",
            "customer_price": "0.05",
        },
    )
    play(
        hp.p,
        t,
        call,
        [
            Step("call.ringing", T0 + 1.0),
            Step("call.failed", T0 + 4.0, row={"sip_status": 486, "hangup_side": "callee"}),
        ],
    )
    [got] = hp.rx.wait_for(pre, 1)
    check_golden("nxcloud-dr-notification-busy.txt", got, FORM)


def test_sipcall_status_and_cdr(hp: HookPlatform) -> None:
    pre = _prefix()
    t = make_tenant(
        hp.p,
        companycode="2028",
        urls={
            "status_url": f"{hp.rx.base_url}{pre}/status",
            "cdr_url": f"{hp.rx.base_url}{pre}/cdr",
        },
    )
    call = make_call(
        hp.p,
        t,
        dialect="sipcall",
        kind="voicemenu",
        callee="85322888486",
        caller="2120280001",
        call_id=_id(hp, 6),
        serial_no="220739",
        dialect_data={
            "chengshudu": "1",
            "customuuid": "13333333333",
            "callmethod": 6,
            "method": "3",
        },
    )
    play(
        hp.p,
        t,
        call,
        [
            Step("leg.ringing", T0 + 1.0, {"leg": "a", "number": "85322888486"}),
            Step("leg.answered", T0 + 5.0, {"leg": "a", "number": "85322888486"}),
            Step("call.answered", T0 + 5.0),
            Step("call.dtmf", T0 + 12.0, {"digits": "1"}),
            Step("leg.ringing", T0 + 12.5, {"leg": "b", "extension": "20280003"}),
            Step("leg.answered", T0 + 15.0, {"leg": "b", "extension": "20280003"}),
            Step("leg.hangup", T0 + 40.0, {"leg": "a"}),
            Step("leg.hangup", T0 + 40.1, {"leg": "b"}),
            Step("call.completed", T0 + 40.2, row={"hangup_side": "callee"}),
        ],
    )
    got = hp.rx.wait_for(pre, 7)
    statuses = [g for g in got if g.path.endswith("/status")]
    [cdr] = [g for g in got if g.path.endswith("/cdr")]
    names = ["ring-a", "answer-a", "ring-b", "answer-b", "hangup-a", "hangup-b"]
    for name, g in zip(names, statuses, strict=True):
        check_golden(f"sipcall-status-{name}.json", g, "application/json;charset=UTF-8")
    check_golden("sipcall-cdr.json", cdr, "application/json;charset=UTF-8")


def test_native_events(hp: HookPlatform) -> None:
    pre = _prefix()
    t = make_tenant(hp.p, webhook_url=f"{hp.rx.base_url}{pre}/events")
    call = make_call(
        hp.p,
        t,
        dialect="native",
        kind="script",
        callee="+4930123456",
        caller="+4930999",
        call_id=_id(hp, 7),
        serial_no="1182700000007096",
    )
    play(
        hp.p,
        t,
        call,
        [
            Step("call.ringing", T0 + 1.0),
            Step("call.answered", T0 + 2.5),
            Step("call.dtmf", T0 + 4.0, {"digits": "5"}),
            Step("call.completed", T0 + 9.75, row={"hangup_side": "callee", "sip_status": 200}),
        ],
    )
    got = hp.rx.wait_for(pre, 4)
    for name, g in zip(["ringing", "answered", "dtmf", "completed"], got, strict=True):
        check_golden(f"native-{name}.json", g, "application/json")
        assert g.headers["idempotency-key"] == g.headers["voxgate-event-id"]
        assert "voxgate-signature" not in g.headers  # the tenant has no secret
