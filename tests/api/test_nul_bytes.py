"""A NUL character in any field is refused in the caller's dialect (PostgreSQL cannot store it)."""

from __future__ import annotations

from tests.support.harness import Platform


def test_nul_is_refused_in_every_dialect(platform: Platform) -> None:
    creds = platform.tenant()
    r = platform.http.post(
        "/apiaccess/rest/voiceNotification/v1/createVoiceNotification",
        json={"voiceContent": "$hi\x00$", "called": "88880000"},
        headers=platform.huawei_headers(creds),
    )
    assert r.status_code == 400 and "error_code" in r.json()
    r = platform.http.post(
        "/api/voiceSms/notsend",
        data={
            "appkey": creds.appkey,
            "secretkey": creds.secretkey,
            "phone": "8615088888888",
            "country_code": "86",
            "content": "hello\x00",
        },
    )
    assert r.status_code == 200 and r.json()["code"] == "2"
    r = platform.http.post(
        "/api/voiceSms/notsend?content=a%00b",
        data={
            "appkey": creds.appkey,
            "secretkey": creds.secretkey,
            "phone": "8615088888888",
            "country_code": "86",
        },
    )
    assert r.status_code == 400 and r.json()["code"] == "88"  # refused before routing
    r = platform.http.get("/v1/webhooks/deliveries?call_id=a%00b")
    assert r.status_code == 400 and r.json()["status"] == 400
    r = platform.http.post(
        "/", data={"service": "App.Sip_Auth.Login", "appid": "a\x00", "accesskey": "b"}
    )
    assert r.json()["ret"] == 400
