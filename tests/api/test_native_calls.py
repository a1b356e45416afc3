"""Native API v1: placing calls from scripts, reading and listing them, idempotency keys."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.support.harness import Platform
from voxgate.api.services import Services
from voxgate.store.schema import (
    call_jobs,
    calls,
    idempotency_keys,
    webhook_attempts,
    webhook_deliveries,
)
from voxgate.tenancy.service import Credentials

SCRIPT = {
    "steps": [
        {"op": "dial", "to": "+4930901820"},
        {"op": "say", "text": "Your parcel arrives today."},
        {"op": "hangup"},
    ]
}


def auth(creds: Credentials) -> httpx.BasicAuth:
    return httpx.BasicAuth(creds.app_key, creds.app_secret)


def place(
    platform: Platform, creds: Credentials, body: dict[str, Any], **kw: Any
) -> httpx.Response:
    return platform.http.post("/v1/calls", json=body, auth=auth(creds), **kw)


def problem(r: httpx.Response, status: int, error_id: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["error_id"] == error_id, body
    assert body["status"] == status
    return body


def counts(platform: Platform, tenant_id: str) -> tuple[int, int, int]:
    async def job(s: Services) -> tuple[int, int, int]:
        async with s.db.connect() as conn:
            out = []
            for table in (calls, call_jobs, idempotency_keys):
                q = select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
                out.append(int((await conn.execute(q)).scalar_one()))
        return out[0], out[1], out[2]

    return platform.run(job)


# --- placing a call -----------------------------------------------------------------------


def test_place_a_call_is_stored_and_queued(platform: Platform) -> None:
    creds = platform.tenant()
    r = place(platform, creds, {"script": SCRIPT, "priority": 3, "metadata": {"order": "A-1"}})
    assert r.status_code == 201, r.text
    call = r.json()
    assert r.headers["location"] == f"/v1/calls/{call['id']}"
    assert len(call["id"]) == 32
    assert call["status"] == "queued"
    assert call["dialect"] == "native"
    assert call["kind"] == "script"
    assert call["callee"] == "+4930901820"
    assert call["caller"] == "640003"  # the tenant's first access code fills in `from`
    assert call["script"]["steps"][0] == {
        "op": "dial",
        "to": "+4930901820",
        "from": "640003",
        "ring_timeout": 45.0,
    }
    assert call["priority"] == 3
    assert call["metadata"] == {"order": "A-1"}
    assert call["created_at"].endswith("Z")
    assert len(call["serial_no"]) == 16
    assert counts(platform, creds.tenant_id) == (1, 1, 0)


def test_get_call_and_its_events(platform: Platform) -> None:
    creds = platform.tenant()
    created = place(platform, creds, {"script": SCRIPT}).json()
    r = platform.http.get(f"/v1/calls/{created['id']}", auth=auth(creds))
    assert r.status_code == 200
    assert r.json() == created
    r = platform.http.get(f"/v1/calls/{created['id']}/events", auth=auth(creds))
    assert r.status_code == 200
    (event,) = r.json()["items"]
    assert event["seq"] == 1
    assert event["type"] == "call.queued"
    assert r.json()["deliveries"] == []


def test_events_show_webhook_deliveries_and_attempts(platform: Platform) -> None:
    # port 9 (discard) on loopback: nothing answers, and nothing leaves the machine
    creds = platform.tenant(trusted_hosts=("127.0.0.1:9",))
    body = {"script": SCRIPT, "callback_url": "http://127.0.0.1:9/cb"}
    call = place(platform, creds, body).json()

    async def deliver(s: Services) -> None:
        async with s.db.begin() as conn:
            await conn.execute(
                webhook_deliveries.insert().values(
                    id="d" * 32,
                    tenant_id=creds.tenant_id,
                    call_id=call["id"],
                    event_id="e" * 32,
                    seq=1,
                    format="native",
                    url=body["callback_url"],
                    content_type="application/json",
                    body="{}",
                    headers={},
                    status="delivered",
                    attempts=2,
                    next_attempt_at=1.0,
                    last_status=200,
                    created_at=1.0,
                    delivered_at=3.0,
                    event_type="call.queued",
                    host="127.0.0.1:9",
                    url_from_request=True,
                )
            )
            for n, status in ((1, 503), (2, 200)):
                await conn.execute(
                    webhook_attempts.insert().values(
                        delivery_id="d" * 32,
                        attempt=n,
                        status_code=status,
                        latency_ms=12.5,
                        created_at=1.0 + n,
                    )
                )

    platform.run(deliver)
    r = platform.http.get(f"/v1/calls/{call['id']}/events", auth=auth(creds))
    assert r.status_code == 200, r.text
    deliveries = {d["id"]: d for d in r.json()["deliveries"]}
    queued = [d for i, d in deliveries.items() if i != "d" * 32]
    assert [d["event_type"] for d in queued] == ["call.queued"]  # the real announcement
    delivery = deliveries["d" * 32]
    assert delivery["status"] == "delivered"
    assert delivery["url"] == "http://127.0.0.1:9/cb"
    assert [a["status_code"] for a in delivery["attempts_log"]] == [503, 200]
    assert "body" not in delivery


def test_unknown_call_is_404(platform: Platform) -> None:
    creds = platform.tenant()
    for path in (f"/v1/calls/{uuid.uuid4().hex}", f"/v1/calls/{uuid.uuid4().hex}/events"):
        problem(platform.http.get(path, auth=auth(creds)), 404, "call_not_found")


def test_malformed_call_id_is_422(platform: Platform) -> None:
    creds = platform.tenant()
    problem(platform.http.get("/v1/calls/not-an-id", auth=auth(creds)), 422, "invalid_request")


def test_bridge_script_with_gather_branches(platform: Platform) -> None:
    creds = platform.tenant()
    script = {
        "steps": [
            {"op": "dial", "to": "88880001", "from": "640060"},
            {"op": "play", "url": "https://media.example/menu.wav"},
            {
                "op": "gather",
                "max_digits": 1,
                "branches": {
                    "1": [{"op": "bridge", "to": "88880002"}],
                    "2": [{"op": "transfer", "group": "sales"}],
                },
                "no_input": [{"op": "hangup"}],
            },
        ]
    }
    r = place(platform, creds, {"script": script})
    assert r.status_code == 201, r.text
    steps = r.json()["script"]["steps"]
    assert steps[0]["from"] == "640060"
    assert steps[2]["branches"]["1"][0]["from"] == "640003"  # bridge gets the default too


# --- rules --------------------------------------------------------------------------------


def test_script_must_start_with_dial(platform: Platform) -> None:
    creds = platform.tenant()
    r = place(platform, creds, {"script": {"steps": [{"op": "hangup"}]}})
    body = problem(r, 422, "invalid_request")
    assert any("dial" in e["msg"] for e in body["errors"])


def test_unknown_fields_and_bad_priority_are_422(platform: Platform) -> None:
    creds = platform.tenant()
    problem(place(platform, creds, {"script": SCRIPT, "colour": "red"}), 422, "invalid_request")
    for prio in (0, 10, "high"):
        problem(
            place(platform, creds, {"script": SCRIPT, "priority": prio}), 422, "invalid_request"
        )


def test_bad_number_is_400(platform: Platform) -> None:
    creds = platform.tenant()
    script = {"steps": [{"op": "dial", "to": "12ab34"}]}
    problem(place(platform, creds, {"script": script}), 400, "invalid_number")
    script = {"steps": [{"op": "dial", "to": "88880001"}, {"op": "bridge", "to": "1"}]}
    problem(place(platform, creds, {"script": script}), 400, "invalid_number")


def test_from_must_be_an_access_code(platform: Platform) -> None:
    creds = platform.tenant()
    script = {"steps": [{"op": "dial", "to": "88880001", "from": "99999"}]}
    problem(place(platform, creds, {"script": script}), 403, "caller_id_not_allowed")
    assert counts(platform, creds.tenant_id) == (0, 0, 0)


def test_anonymized_tenant_may_present_long_numbers(platform: Platform) -> None:
    creds = platform.tenant(anonymize_caller=True)
    script = {"steps": [{"op": "dial", "to": "88880001", "from": "8613800000000"}]}
    r = place(platform, creds, {"script": script})
    assert r.status_code == 201, r.text
    assert r.json()["caller"] == "8613800000000"


def test_trial_tenant_calls_trusted_numbers_only(platform: Platform) -> None:
    creds = platform.tenant(trial=True, trusted_numbers=("88880001",))
    ok = {"steps": [{"op": "dial", "to": "88880001"}]}
    assert place(platform, creds, {"script": ok}).status_code == 201
    bad = {"steps": [{"op": "dial", "to": "88880001"}, {"op": "bridge", "to": "88880009"}]}
    problem(place(platform, creds, {"script": bad}), 403, "number_not_trusted")


def test_callback_url_host_must_be_trusted(platform: Platform) -> None:
    creds = platform.tenant(trusted_hosts=("hooks.example:8443",))
    good = "https://hooks.example:8443/voxgate"
    r = place(platform, creds, {"script": SCRIPT, "callback_url": good})
    assert r.status_code == 201, r.text
    assert r.json()["callback_url"] == good
    r = place(platform, creds, {"script": SCRIPT, "callback_url": "https://evil.example/x"})
    problem(r, 403, "callback_host_not_trusted")
    r = place(platform, creds, {"script": SCRIPT, "callback_url": "ftp://hooks.example/x"})
    problem(r, 422, "invalid_request")


def test_callback_defaults_to_the_tenant_webhook_url(platform: Platform) -> None:
    creds = platform.tenant(webhook_url="https://tenant.example/hook")
    r = place(platform, creds, {"script": SCRIPT})
    assert r.json()["callback_url"] == "https://tenant.example/hook"


# --- authentication -------------------------------------------------------------------------


def test_missing_or_wrong_credentials_are_401(platform: Platform) -> None:
    creds = platform.tenant()
    problem(platform.http.get("/v1/calls"), 401, "unauthorized")
    r = platform.http.get("/v1/calls", auth=httpx.BasicAuth(creds.app_key, "wrong"))
    problem(r, 401, "unauthorized")
    r = platform.http.get("/v1/calls", headers={"Authorization": "Basic !!!"})
    problem(r, 401, "unauthorized")
    token = base64.b64encode(b"no-colon").decode()
    problem(
        platform.http.get("/v1/calls", headers={"Authorization": f"Basic {token}"}),
        401,
        "unauthorized",
    )
    r = platform.http.get("/v1/calls", headers={"Authorization": f"Bearer {creds.app_secret}"})
    problem(r, 401, "unauthorized")


def test_suspended_tenant_is_403(platform: Platform) -> None:
    creds = platform.tenant(status="suspended")
    problem(platform.http.get("/v1/calls", auth=auth(creds)), 403, "tenant_suspended")
    problem(place(platform, creds, {"script": SCRIPT}), 403, "tenant_suspended")


def test_auth_comes_before_validation(platform: Platform) -> None:
    r = platform.http.post("/v1/calls", json={"nonsense": True})
    problem(r, 401, "unauthorized")


# --- isolation ------------------------------------------------------------------------------


def test_tenants_never_see_each_others_calls(platform: Platform) -> None:
    alice, bob = platform.tenant(), platform.tenant()
    call = place(platform, alice, {"script": SCRIPT}).json()
    for path in (f"/v1/calls/{call['id']}", f"/v1/calls/{call['id']}/events"):
        problem(platform.http.get(path, auth=auth(bob)), 404, "call_not_found")
    listed = platform.http.get("/v1/calls", auth=auth(bob)).json()
    assert call["id"] not in [c["id"] for c in listed["items"]]
    mine = platform.http.get("/v1/calls", auth=auth(alice)).json()
    assert [c["id"] for c in mine["items"]] == [call["id"]]


def test_tenants_own_their_idempotency_keys(platform: Platform) -> None:
    alice, bob = platform.tenant(), platform.tenant()
    key = {"Idempotency-Key": "shared-key-1"}
    a = place(platform, alice, {"script": SCRIPT}, headers=key)
    b = place(platform, bob, {"script": SCRIPT}, headers=key)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers


# --- listing --------------------------------------------------------------------------------


def test_pagination_walks_every_call_once_newest_first(platform: Platform) -> None:
    creds = platform.tenant()
    made = [place(platform, creds, {"script": SCRIPT}).json()["id"] for _ in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        r = platform.http.get("/v1/calls", params=params, auth=auth(creds))
        assert r.status_code == 200, r.text
        page = r.json()
        pages += 1
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(made))


def test_exact_page_has_no_next_cursor(platform: Platform) -> None:
    creds = platform.tenant()
    for _ in range(2):
        place(platform, creds, {"script": SCRIPT})
    page = platform.http.get("/v1/calls", params={"limit": 2}, auth=auth(creds)).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"] is None
    empty = platform.http.get("/v1/calls", auth=auth(platform.tenant())).json()
    assert empty == {"items": [], "next_cursor": None}


def test_status_filter(platform: Platform) -> None:
    creds = platform.tenant()
    place(platform, creds, {"script": SCRIPT})
    queued = platform.http.get("/v1/calls", params={"status": "queued"}, auth=auth(creds)).json()
    assert len(queued["items"]) == 1
    done = platform.http.get("/v1/calls", params={"status": "completed"}, auth=auth(creds)).json()
    assert done["items"] == []
    r = platform.http.get("/v1/calls", params={"status": "Queued!"}, auth=auth(creds))
    problem(r, 422, "invalid_request")


def test_bad_cursor_and_limit(platform: Platform) -> None:
    creds = platform.tenant()
    for bad in ("garbage", base64.urlsafe_b64encode(b'[1, "x"]').decode(), "W10", "e30"):
        r = platform.http.get("/v1/calls", params={"cursor": bad}, auth=auth(creds))
        problem(r, 400, "invalid_cursor")
    for limit in (0, 101, "many"):
        r = platform.http.get("/v1/calls", params={"limit": limit}, auth=auth(creds))
        problem(r, 422, "invalid_request")


# --- idempotency ----------------------------------------------------------------------------


def test_same_key_same_body_replays_the_first_answer(platform: Platform) -> None:
    creds = platform.tenant()
    key = {"Idempotency-Key": f"order-{uuid.uuid4().hex}"}
    first = place(platform, creds, {"script": SCRIPT, "priority": 4}, headers=key)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    # Same request, keys in another order and with the default spelled out: still the same.
    again = platform.http.post(
        "/v1/calls",
        content=json.dumps({"priority": 4, "metadata": {}, "script": SCRIPT}, indent=1),
        headers={**key, "Content-Type": "application/json"},
        auth=auth(creds),
    )
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert counts(platform, creds.tenant_id) == (1, 1, 1)


def test_same_key_other_body_is_409(platform: Platform) -> None:
    creds = platform.tenant()
    key = {"Idempotency-Key": "k-409"}
    assert place(platform, creds, {"script": SCRIPT}, headers=key).status_code == 201
    r = place(platform, creds, {"script": SCRIPT, "priority": 1}, headers=key)
    problem(r, 409, "idempotency_key_reused")
    assert counts(platform, creds.tenant_id) == (1, 1, 1)


def test_rejected_request_records_no_key(platform: Platform) -> None:
    creds = platform.tenant()
    key = {"Idempotency-Key": "k-retry"}
    bad = {"steps": [{"op": "dial", "to": "88880001", "from": "5555"}]}
    problem(place(platform, creds, {"script": bad}, headers=key), 403, "caller_id_not_allowed")
    assert counts(platform, creds.tenant_id) == (0, 0, 0)
    assert place(platform, creds, {"script": SCRIPT}, headers=key).status_code == 201


def test_bad_idempotency_key_is_422(platform: Platform) -> None:
    creds = platform.tenant()
    for key in ("", "x" * 256, "has space"):
        r = place(platform, creds, {"script": SCRIPT}, headers={"Idempotency-Key": key})
        problem(r, 422, "invalid_request")


def test_concurrent_requests_with_one_key_make_one_call(platform: Platform) -> None:
    creds = platform.tenant()
    key = {"Idempotency-Key": "k-race"}

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=platform.base_url, timeout=30) as client:
            return client.post("/v1/calls", json={"script": SCRIPT}, headers=key, auth=auth(creds))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert {r.status_code for r in answers} == {201}
    assert len({r.content for r in answers}) == 1
    assert counts(platform, creds.tenant_id) == (1, 1, 1)


def test_expired_key_is_reused(platform: Platform) -> None:
    creds = platform.tenant()
    key = {"Idempotency-Key": "k-old"}
    first = place(platform, creds, {"script": SCRIPT}, headers=key).json()

    async def age(s: Services) -> None:
        async with s.db.begin() as conn:
            await conn.execute(
                idempotency_keys.update()
                .where(idempotency_keys.c.tenant_id == creds.tenant_id)
                .values(created_at=idempotency_keys.c.created_at - 2 * 86400)
            )

    platform.run(age)
    second = place(platform, creds, {"script": SCRIPT, "priority": 2}, headers=key)
    assert second.status_code == 201
    assert second.json()["id"] != first["id"]
    assert counts(platform, creds.tenant_id) == (2, 2, 1)
