"""Huawei C1 authentication: tokenByAkSk, Bearer + X-APP-Key, HTTP statuses."""

from __future__ import annotations

from tests.support.harness import Platform

NOTIFY = "/apiaccess/rest/voiceNotification/v1/createVoiceNotification"
BODY = {"voiceContent": "$Hello$", "called": "88880000"}


def test_token_has_the_documented_fields(platform: Platform) -> None:
    creds = platform.tenant()
    r = platform.http.post(
        "/apigovernance/api/oauth/tokenByAkSk",
        json={"app_key": creds.app_key, "app_secret": creds.app_secret},
        headers={"X-Token-Expire": "1200"},
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {
        "AccessToken",
        "ApplyType",
        "CreateTime",
        "Expires",
        "Scope",
        "AppKey",
        "UserID",
    }
    assert body["ApplyType"] == "Bearer"
    assert body["Expires"] == "1200"
    assert body["AppKey"] == creds.app_key
    assert body["CreateTime"].isdigit()
    assert isinstance(body["AccessToken"], str) and len(body["AccessToken"]) >= 32


def test_token_lifetime_is_capped_at_3600(platform: Platform) -> None:
    creds = platform.tenant()
    for bad in ("3601", "0", "ten"):
        r = platform.http.post(
            "/apigovernance/api/oauth/tokenByAkSk",
            json={"app_key": creds.app_key, "app_secret": creds.app_secret},
            headers={"X-Token-Expire": bad},
        )
        assert r.status_code == 400, bad
        assert "error_code" in r.json()


def test_wrong_secret_is_403(platform: Platform) -> None:
    creds = platform.tenant()
    r = platform.http.post(
        "/apigovernance/api/oauth/tokenByAkSk",
        json={"app_key": creds.app_key, "app_secret": "wrong"},
    )
    assert r.status_code == 403
    assert r.json()["error_code"] == "APIGW.0301"


def test_token_request_accepts_a_form_body(platform: Platform) -> None:
    creds = platform.tenant()
    r = platform.http.post(
        "/apigovernance/api/oauth/tokenByAkSk",
        data={"app_key": creds.app_key, "app_secret": creds.app_secret},
    )
    assert r.status_code == 200
    assert r.json()["ApplyType"] == "Bearer"


def test_bad_or_missing_bearer_is_403(platform: Platform) -> None:
    creds = platform.tenant()
    token = platform.huawei_token(creds)
    cases = [
        {"X-APP-Key": creds.app_key},
        {"X-APP-Key": creds.app_key, "Authorization": f"Bearer  {token}"},  # two spaces
        {"X-APP-Key": creds.app_key, "Authorization": f"bearer {token}"},
        {"X-APP-Key": creds.app_key, "Authorization": "Bearer not-a-token"},
        {"X-APP-Key": "someone-else", "Authorization": f"Bearer {token}"},  # key mismatch
        {"Authorization": f"Bearer {token}"},  # notification requires X-APP-Key
    ]
    for headers in cases:
        r = platform.http.post(NOTIFY, json=BODY, headers=headers)
        assert r.status_code == 403, (headers, r.text)
        assert r.json()["error_code"] == "APIGW.0301"


def test_token_of_another_tenant_cannot_use_this_app_key(platform: Platform) -> None:
    a, b = platform.tenant(), platform.tenant()
    r = platform.http.post(
        NOTIFY,
        json=BODY,
        headers={"X-APP-Key": a.app_key, "Authorization": f"Bearer {platform.huawei_token(b)}"},
    )
    assert r.status_code == 403


def test_expired_token_is_403(platform: Platform) -> None:
    import time

    creds = platform.tenant()
    token = platform.huawei_token(creds, expire=1)
    time.sleep(1.2)
    r = platform.http.post(
        NOTIFY,
        json=BODY,
        headers={"X-APP-Key": creds.app_key, "Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 403


def test_suspended_or_unsubscribed_tenant_is_401(platform: Platform) -> None:
    for flags in ({"status": "suspended"}, {"subscribed": False}):
        creds = platform.tenant()
        headers = platform.huawei_headers(creds)
        platform.run(lambda s, n=creds.name, f=flags: s.tenants.update(n, **f))
        r = platform.http.post(NOTIFY, json=BODY, headers=headers)
        assert r.status_code == 401, flags
        assert r.json()["error_code"] == "APIGW.0305"


def test_unknown_path_is_404_in_the_gateway_format(platform: Platform) -> None:
    r = platform.http.post("/apiaccess/rest/voiceNotification/v1/nothingHere", json={})
    assert r.status_code == 404
    assert set(r.json()) == {"error_code", "error_msg"}


def test_malformed_json_is_400(platform: Platform) -> None:
    creds = platform.tenant()
    r = platform.http.post(
        NOTIFY,
        content=b'{"voiceContent": ',
        headers={**platform.huawei_headers(creds), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert "error_code" in r.json()
