"""createVoiceNotification: the seed example, every return code, every body shape."""

from __future__ import annotations

import base64
import json
import subprocess

from tests.support.harness import Platform

NOTIFY = "/apiaccess/rest/voiceNotification/v1/createVoiceNotification"


def b64(url: str) -> str:
    return base64.b64encode(url.encode()).decode()


def post(platform: Platform, creds, body: dict, **kw) -> dict:  # type: ignore[no-untyped-def]
    r = platform.http.post(NOTIFY, json=body, headers=platform.huawei_headers(creds), **kw)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_seed_example_with_curl(platform: Platform) -> None:
    """The seed's request, sent with curl as the seed shows it; its voice files exist."""
    creds = platform.tenant()
    platform.run(
        lambda s: _add_voice_files(s, creds.tenant_id, ["1133*********999", "2225*********149"])
    )
    token = platform.huawei_token(creds)
    out = subprocess.run(
        [
            "curl",
            "-s",
            "-X",
            "POST",
            platform.base_url + NOTIFY,
            "-H",
            "Content-Type: application/json",
            "-H",
            f"x-app-key: {creds.app_key}",
            "-H",
            f"Authorization: Bearer {token}",
            "-d",
            '{ "voiceContent": "1133*********999~$Tom$~2225*********149", '
            '"callerPresent": null, "called": "88880000" }',
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    body = json.loads(out.stdout)
    assert list(body) == ["result", "retCode", "retMsg"]
    assert body["retCode"] == "0"
    assert body["retMsg"] == "Created successfully."
    assert set(body["result"]) == {"callSerialNo"}
    assert isinstance(body["result"]["callSerialNo"], str)


async def _add_voice_files(s, tenant_id: str, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    import time

    from voxgate.store.voicefiles import insert_voice_file

    async with s.db.begin() as conn:
        for vid in ids:
            await insert_voice_file(
                conn,
                id=vid,
                tenant_id=tenant_id,
                name=vid,
                status="approved",
                source="huawei",
                sha256="0" * 64,
                duration_ms=1000,
                created_at=time.time(),
            )


def test_accepted_call_is_durable_with_a_queued_job(platform: Platform) -> None:
    creds = platform.tenant()
    body = post(platform, creds, {"voiceContent": "$Your code is 4827$", "called": "88880001"})
    serial = body["result"]["callSerialNo"]

    async def check(s):  # type: ignore[no-untyped-def]
        from sqlalchemy import select

        from voxgate.store.schema import call_jobs, calls

        async with s.db.connect() as conn:
            call = (await conn.execute(select(calls).where(calls.c.serial_no == serial))).one()
            jobs = (
                await conn.execute(select(call_jobs).where(call_jobs.c.call_id == call.id))
            ).all()
        return call, jobs

    call, jobs = platform.run(check)
    assert call.tenant_id == creds.tenant_id
    assert call.status == "queued"
    assert call.caller == "640003"  # the tenant's access code by default
    assert [s["op"] for s in call.script["steps"]] == ["dial", "say", "hangup"]
    assert call.script["steps"][1]["digits"] is False
    assert len(jobs) == 1 and jobs[0].status == "queued"


def test_wrapped_and_form_bodies(platform: Platform) -> None:
    creds = platform.tenant()
    headers = platform.huawei_headers(creds)
    for i, wrapper in enumerate(("reqBody", "requestBody")):
        r = platform.http.post(
            NOTIFY,
            json={wrapper: {"voiceContent": "$hi$", "called": f"8888000{i}"}},
            headers=headers,
        )
        assert r.json()["retCode"] == "0", r.text
    r = platform.http.post(
        NOTIFY, data={"voiceContent": "$form$", "called": "88880009"}, headers=headers
    )
    assert r.json()["retCode"] == "0", r.text


def test_code_8_voice_content(platform: Platform) -> None:
    creds = platform.tenant()
    for content in ("", None, "$x$" * 400, "unknown-voice-id", "$$", "a$b"):
        body = post(platform, creds, {"voiceContent": content, "called": "88880000"})
        assert body == {"retCode": "8", "retMsg": body["retMsg"]}, content
        assert body["retMsg"]


def test_code_5_called(platform: Platform) -> None:
    creds = platform.tenant()
    for called in (None, "", "abc", "12", "1" * 40):
        assert post(platform, creds, {"voiceContent": "$x$", "called": called})["retCode"] == "5"


def test_code_7_caller_present(platform: Platform) -> None:
    creds = platform.tenant()
    body = {"voiceContent": "$x$", "called": "88880000", "callerPresent": "13800138000"}
    assert post(platform, creds, body)["retCode"] == "7"
    assert post(platform, creds, {**body, "callerPresent": "640060"})["retCode"] == "0"
    anon = platform.tenant(anonymize_caller=True)
    assert post(platform, anon, body)["retCode"] == "0"  # 11 digits with anonymization
    assert post(platform, anon, {**body, "callerPresent": "1380013"})["retCode"] == "7"
    assert post(platform, anon, {**body, "callerPresent": "1" * 15})["retCode"] == "7"


def test_code_9_callback_url(platform: Platform) -> None:
    creds = platform.tenant(trusted_hosts=("127.0.0.1:9000", "hooks.example.com"))
    base = {"voiceContent": "$x$", "called": "88880000"}
    bad = [
        "not base64!",
        b64("http://127.0.0.1:9000/cb?a=b"),  # '=' is not an allowed character
        b64("ftp://127.0.0.1:9000/cb"),
        b64("http://127.0.0.1:9001/cb"),  # port not trusted
        b64("https://evil.example.com/cb"),
    ]
    for i, url in enumerate(bad):
        body = post(platform, creds, {**base, "called": f"8888100{i}", "callBackUrl": url})
        assert body["retCode"] == "9", url
    ok = post(platform, creds, {**base, "callBackUrl": b64("http://127.0.0.1:9000/cb")})
    assert ok["retCode"] == "0"
    ok = post(
        platform,
        creds,
        {**base, "called": "88881999", "callBackUrl": b64("https://hooks.example.com/a/b?x&y#z")},
    )
    assert ok["retCode"] == "0"


def test_code_36_priority(platform: Platform) -> None:
    creds = platform.tenant()
    for i, prio in enumerate(("0", "10", "high", "1.5")):
        body = {"voiceContent": "$x$", "called": f"8888200{i}", "priority": prio}
        assert post(platform, creds, body)["retCode"] == "36", prio
    assert (
        post(platform, creds, {"voiceContent": "$x$", "called": "88882100", "priority": "1"})[
            "retCode"
        ]
        == "0"
    )


def test_code_16_trial_trust_list(platform: Platform) -> None:
    creds = platform.tenant(trial=True, trusted_numbers=("88880000",))
    assert post(platform, creds, {"voiceContent": "$x$", "called": "88889999"})["retCode"] == "16"
    assert post(platform, creds, {"voiceContent": "$x$", "called": "88880000"})["retCode"] == "0"


def test_code_6_vdn_disabled(platform: Platform) -> None:
    creds = platform.tenant(vdn_enabled=False)
    assert post(platform, creds, {"voiceContent": "$x$", "called": "88880000"})["retCode"] == "6"


def test_code_1_unfinished_duplicate(platform: Platform) -> None:
    creds = platform.tenant()
    body = {"voiceContent": "$same$", "called": "88883000"}
    assert post(platform, creds, body)["retCode"] == "0"
    assert post(platform, creds, body)["retCode"] == "1"
    assert post(platform, creds, {**body, "called": "88883001"})["retCode"] == "0"
    other = platform.tenant()
    assert post(platform, other, body)["retCode"] == "0"  # another tenant is not a duplicate
