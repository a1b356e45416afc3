"""NXCloud voice APIs: the vendor's curl and SDK requests, every return code, durability."""

from __future__ import annotations

import json
import re
import subprocess
import time
from typing import Any

import pytest

from tests.support.audio import AUDIO, loopback_platform
from tests.support.harness import Platform
from voxgate.api.services import Services
from voxgate.tenancy.service import Credentials

NOTSEND = "/api/voiceSms/notsend"
VERSEND = "/api/voiceSms/versend"
GPSEND = "/api/voiceSms/gpsend"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
DR_URL = "http://127.0.0.1:9/voice/testVoiceDr"

# gpsend fetches its audio URL while answering: the URLs point at a real loopback server
# and the platform allows loopback destinations.
platform = loopback_platform()


def tenant(platform: Platform, **kw: Any) -> Credentials:
    creds = platform.tenant(**kw)

    async def urls(s: Services) -> None:
        await s.tenants.set_app_urls(creds.name, dr_url=DR_URL)

    platform.run(urls)
    return creds


def form(creds: Credentials, **fields: str) -> dict[str, str]:
    return {"appkey": creds.appkey, "secretkey": creds.secretkey, **fields}


def tts(creds: Credentials, **over: str) -> dict[str, str]:
    base = {
        "phone": "8615088888888",
        "country_code": "86",
        "show_phone": "640003",
        "content": "Your code is 1-2-3-4",
        "lang": "en",
    }
    return form(creds, **{**base, **over})


def group(creds: Credentials, **over: str) -> dict[str, str]:
    base = {
        "phone": "8615088888888,8615088888889",
        "country_code": "86",
        "show_phone": "640003",
        "url": AUDIO.url("voice_group/1605696584389.m4a"),
    }
    return form(creds, **{**base, **over})


def post(platform: Platform, path: str, data: dict[str, str]) -> dict[str, Any]:
    r = platform.http.post(path, data=data)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()  # type: ignore[no-any-return]


def code(platform: Platform, path: str, data: dict[str, str]) -> str:
    body = post(platform, path, data)
    assert isinstance(body["code"], str)
    if body["code"] != "0":
        assert list(body) == ["result", "code"], body
        assert body["result"]
    return str(body["code"])


def calls_of(platform: Platform, messageid: str) -> list[Any]:
    async def load(s: Services) -> list[Any]:
        from sqlalchemy import select

        from voxgate.store.schema import call_jobs, calls

        async with s.db.connect() as conn:
            rows = (
                await conn.execute(
                    select(calls).where(calls.c.request_ref == messageid).order_by(calls.c.callee)
                )
            ).all()
            out = []
            for row in rows:
                jobs = (
                    await conn.execute(select(call_jobs).where(call_jobs.c.call_id == row.id))
                ).all()
                out.append((row, jobs))
        return out

    return platform.run(load)


# --- the vendor's own requests -------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        (
            NOTSEND,
            {
                "phone": "6281234567890",
                "country_code": "62",
                "show_phone": "123456",
                "content": "asdfghjk",
            },
        ),
        (
            VERSEND,
            {
                "phone": "6281234567890",
                "country_code": "62",
                "show_phone": "123456",
                "content": "asdfghjk",
                "lang": "en",
                "ext": "ext123",
            },
        ),
        (
            GPSEND,
            {
                "phone": "6281234567890",
                "country_code": "62",
                "show_phone": "123456",
                "url": AUDIO.url("1963370420.m4a"),
            },
        ),
    ],
)
def test_wiki_curl_examples(platform: Platform, path: str, fields: dict[str, str]) -> None:
    """The wiki's curl requests (--data-urlencode), answered with its example's shape."""
    creds = tenant(platform, access_codes=())
    args = ["curl", "-s", "--location", "--request", "POST", platform.base_url + path]
    for key, value in form(creds, **fields).items():
        args += ["--data-urlencode", f"{key}={value}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    body = json.loads(out.stdout)
    assert list(body) == ["result", "messageid", "code"]
    assert body["result"] == "Request succeeded"
    assert body["code"] == "0"
    assert HEX32.match(body["messageid"])
    [(call, jobs)] = calls_of(platform, body["messageid"])
    assert call.tenant_id == creds.tenant_id
    assert call.callee == "6281234567890"
    assert call.caller == "123456"  # no access codes: show_phone as sent
    assert call.callback_url == DR_URL
    assert call.dialect == "nxcloud"
    assert [j.status for j in jobs] == ["queued"]


def test_sdk_versend_reads_the_code_digit_by_digit(platform: Platform) -> None:
    creds = tenant(platform)
    body = post(
        platform,
        VERSEND,
        tts(
            creds,
            phone="84934442648",
            country_code="84",
            show_phone="640060",
            content="hello today is Friday 1-2-3-4-5-6",
        ),
    )
    assert body["code"] == "0"
    [(call, jobs)] = calls_of(platform, body["messageid"])
    steps = call.script["steps"]
    assert [s["op"] for s in steps] == ["dial", "say", "say", "hangup"]
    assert steps[0] == {"op": "dial", "to": "84934442648", "from": "640060", "ring_timeout": 45}
    assert steps[1]["text"] == "hello today is Friday" and steps[1]["digits"] is False
    assert steps[2]["text"] == "123456" and steps[2]["digits"] is True
    assert steps[2]["language"] == "en"
    assert call.kind == "verification"
    assert call.dialect_data["voice_type"] == "1"
    assert call.dialect_data["countryCode"] == "84"
    assert len(jobs) == 1


def test_versend_bare_digits_are_a_code_but_notsend_reads_numbers(platform: Platform) -> None:
    creds = tenant(platform)
    ver = post(platform, VERSEND, tts(creds, content="Code 4827"))
    [(call, _)] = calls_of(platform, ver["messageid"])
    assert [(s["text"], s["digits"]) for s in call.script["steps"][1:-1]] == [
        ("Code", False),
        ("4827", True),
    ]
    note = post(platform, NOTSEND, tts(creds, content="Room 12 at 3-0-0", phone="15088888881"))
    [(call, _)] = calls_of(platform, note["messageid"])
    assert [(s["text"], s["digits"]) for s in call.script["steps"][1:-1]] == [
        ("Room 12 at", False),
        ("300", True),
    ]
    assert call.callee == "8615088888881"  # national number read in the country code


def test_gpsend_is_one_messageid_and_one_call_per_phone(platform: Platform) -> None:
    creds = tenant(platform)
    phones = "8615088888801, +8615088888802,15088888803,8615088888801"
    body = post(platform, GPSEND, group(creds, phone=phones))
    assert body["code"] == "0"
    rows = calls_of(platform, body["messageid"])
    assert [r.callee for r, _ in rows] == ["8615088888801", "8615088888802", "8615088888803"]
    for call, jobs in rows:
        assert call.kind == "group_call"
        assert call.request_ref == body["messageid"]
        assert call.dialect_data["voice_type"] == "0"
        assert call.dialect_data["phone"] == call.callee
        assert call.callback_url == DR_URL
        assert [s["op"] for s in call.script["steps"]] == ["dial", "play", "hangup"]
        assert call.script["steps"][1]["file_id"] == rows[0][0].script["steps"][1]["file_id"]
        assert call.dialect_data["url"].endswith("1605696584389.m4a")
        assert [j.status for j in jobs] == ["queued"]


def test_notsend_takes_a_batch(platform: Platform) -> None:
    creds = tenant(platform)
    body = post(platform, NOTSEND, tts(creds, phone="8615088888811,8615088888812"))
    assert len(calls_of(platform, body["messageid"])) == 2


def test_query_string_fields_are_accepted(platform: Platform) -> None:
    creds = tenant(platform)
    r = platform.http.post(NOTSEND, params=tts(creds, phone="8615088888821"))
    assert r.json()["code"] == "0", r.text


def test_show_phone_is_replaced_by_an_access_code(platform: Platform) -> None:
    creds = tenant(platform)  # access codes 640003, 640060
    body = post(platform, NOTSEND, tts(creds, show_phone="99999999"))
    [(call, _)] = calls_of(platform, body["messageid"])
    assert call.caller == "640003"
    assert call.dialect_data["show_phone"] == "99999999"


def test_scheduled_group_call_waits(platform: Platform) -> None:
    creds = tenant(platform)
    at = time.gmtime(time.time() + 3 * 3600)
    task_time = time.strftime("%Y-%m-%d %H:%M:%S", at)
    body = post(platform, GPSEND, group(creds, task_time=task_time, time_zone="0"))
    assert body["code"] == "0"
    for _call, jobs in calls_of(platform, body["messageid"]):
        assert jobs[0].run_at > time.time() + 3 * 3600 - 120
    # the SDK spells the zone task_zone; UTC+8 wall time is 8 hours ahead
    local = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 8 * 3600 + 600))
    body = post(
        platform, GPSEND, group(creds, phone="8615088888899", task_time=local, task_zone="8")
    )
    [(_call, jobs)] = calls_of(platform, body["messageid"])
    assert 400 < jobs[0].run_at - time.time() < 800


# --- one test per return code --------------------------------------------------------------


def test_code_1_wrong_secretkey(platform: Platform) -> None:
    creds = tenant(platform)
    assert code(platform, NOTSEND, {**tts(creds), "secretkey": "wrong"}) == "1"


def test_code_2_missing_or_bad_parameters(platform: Platform) -> None:
    creds = tenant(platform)
    for missing in ("appkey", "secretkey", "phone", "country_code", "show_phone", "content"):
        data = tts(creds)
        del data[missing]
        assert code(platform, NOTSEND, data) == "2", missing
    data = group(creds)
    del data["url"]
    assert code(platform, GPSEND, data) == "2"
    assert code(platform, NOTSEND, tts(creds, lang="english language")) == "2"
    assert code(platform, VERSEND, tts(creds, ext="x" * 257)) == "2"
    assert code(platform, GPSEND, group(creds, sched_hangup="-1")) == "2"
    assert code(platform, GPSEND, group(creds, task_time="tomorrow", time_zone="8")) == "2"
    r = platform.http.post(
        NOTSEND, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 200 and r.json()["code"] == "2"


def test_code_4_empty_or_illegal_content(platform: Platform) -> None:
    creds = tenant(platform)
    assert code(platform, NOTSEND, tts(creds, content="   ")) == "4"
    assert code(platform, VERSEND, tts(creds, content="code \x07 1-2")) == "4"


def test_code_5_content_too_long(platform: Platform) -> None:
    creds = tenant(platform)
    assert code(platform, NOTSEND, tts(creds, content="a" * 1001)) == "5"
    assert code(platform, NOTSEND, tts(creds, content="a" * 1000)) == "0"
    assert code(platform, VERSEND, tts(creds, content="a" * 201)) == "5"


def test_code_6_bad_phone(platform: Platform) -> None:
    creds = tenant(platform)
    for phone in ("8612", "abc", "8615088888888888888", "+4915088888888"):
        assert code(platform, NOTSEND, tts(creds, phone=phone)) == "6", phone
    assert code(platform, VERSEND, tts(creds, phone="8615088888888,8615088888889")) == "6"


def test_code_7_more_than_100_numbers(platform: Platform) -> None:
    creds = tenant(platform)
    phones = ",".join(f"86150888{n:05d}" for n in range(101))
    assert code(platform, GPSEND, group(creds, phone=phones)) == "7"
    phones = ",".join(f"86150888{n:05d}" for n in range(100))
    assert code(platform, GPSEND, group(creds, phone=phones)) == "0"


def test_code_10_content_not_utf8(platform: Platform) -> None:
    creds = tenant(platform)
    assert code(platform, NOTSEND, tts(creds, content="caf%E9 1-2")) == "10"


def test_double_url_encoded_content_is_decoded(platform: Platform) -> None:
    creds = tenant(platform)
    body = post(platform, NOTSEND, tts(creds, content="%E4%BD%A0%E5%A5%BD%201-2"))
    [(call, _)] = calls_of(platform, body["messageid"])
    assert call.script["steps"][1]["text"] == "你好"


def test_code_13_app_does_not_exist(platform: Platform) -> None:
    creds = tenant(platform)
    assert code(platform, NOTSEND, {**tts(creds), "appkey": "nosuchapp"}) == "13"


def test_code_20_audio_url_invalid(platform: Platform) -> None:
    creds = tenant(platform)
    for url in ("", "ftp://host/a.mp3", "https://", "not a url", "http://h:99999/a.mp3"):
        assert code(platform, GPSEND, group(creds, url=url)) == "20", url


def test_code_21_show_phone(platform: Platform) -> None:
    creds = tenant(platform)
    for show in ("", "abc", "1" * 51):
        assert code(platform, NOTSEND, tts(creds, show_phone=show)) == "21", show


def test_code_23_country_code(platform: Platform) -> None:
    creds = tenant(platform)
    for cc in ("999", "x", "", "12345"):
        assert code(platform, NOTSEND, tts(creds, country_code=cc)) == "23", cc


def test_code_24_no_callee(platform: Platform) -> None:
    creds = tenant(platform)
    assert code(platform, GPSEND, group(creds, phone=" , ,")) == "24"


def test_code_26_same_phone_and_content_within_5_minutes(platform: Platform) -> None:
    creds = tenant(platform)
    assert code(platform, VERSEND, tts(creds, content="code 1-2-3")) == "0"
    assert code(platform, VERSEND, tts(creds, content="code 1-2-3")) == "26"
    assert code(platform, VERSEND, tts(creds, content="code 4-5-6")) == "0"
    # per phone in a group call: one repeated number refuses the whole request
    assert code(platform, GPSEND, group(creds, phone="8615088888831,8615088888832")) == "0"
    assert code(platform, GPSEND, group(creds, phone="8615088888833,8615088888832")) == "26"
    assert code(platform, GPSEND, group(creds, phone="8615088888833")) == "0"


def test_code_29_task_time_in_the_past(platform: Platform) -> None:
    creds = tenant(platform)
    past = group(creds, task_time="2020-12-01 00:00:00", time_zone="8")
    assert code(platform, GPSEND, past) == "29"


def test_code_31_task_time_without_zone(platform: Platform) -> None:
    creds = tenant(platform)
    assert code(platform, GPSEND, group(creds, task_time="2030-12-01 00:00:00")) == "31"


def test_code_101_tenant_not_subscribed(platform: Platform) -> None:
    creds = tenant(platform, subscribed=False)
    assert code(platform, NOTSEND, tts(creds)) == "101"


def test_code_102_account_disabled(platform: Platform) -> None:
    creds = tenant(platform, status="suspended")
    assert code(platform, NOTSEND, tts(creds)) == "102"
    # a wrong secret still learns nothing about the account
    assert code(platform, NOTSEND, {**tts(creds), "secretkey": "wrong"}) == "1"


def test_code_103_emoji(platform: Platform) -> None:
    creds = tenant(platform)
    assert code(platform, NOTSEND, tts(creds, content="hello \U0001f600")) == "103"


def test_code_88_unknown_path_and_method(platform: Platform) -> None:
    r = platform.http.post("/api/voiceSms/nosuchapi", data={"appkey": "x"})
    assert r.status_code == 404 and r.json()["code"] == "88"
    r = platform.http.get(NOTSEND)
    assert r.status_code == 405 and r.json()["code"] == "88"


# --- tenants are isolated ------------------------------------------------------------------


def test_tenants_are_isolated(platform: Platform) -> None:
    a, b = tenant(platform), tenant(platform)
    # another tenant's secret never opens an app
    assert code(platform, NOTSEND, {**tts(a), "secretkey": b.secretkey}) == "1"
    first = post(platform, VERSEND, tts(a, content="code 7-7-7"))
    # the same phone and content from another tenant is not a duplicate of A's call
    second = post(platform, VERSEND, tts(b, content="code 7-7-7"))
    assert first["code"] == second["code"] == "0"
    [(call_a, _)] = calls_of(platform, first["messageid"])
    [(call_b, _)] = calls_of(platform, second["messageid"])
    assert call_a.tenant_id == a.tenant_id and call_b.tenant_id == b.tenant_id
    assert call_a.app_id != call_b.app_id

    async def reads(s: Services) -> tuple[Any, Any]:
        from voxgate.store.calls import get_call

        async with s.db.connect() as conn:
            return (
                await get_call(conn, b.tenant_id, call_a.id),
                await get_call(conn, a.tenant_id, call_a.id),
            )

    cross, own = platform.run(reads)
    assert cross is None and own is not None
