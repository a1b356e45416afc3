"""Fuzzing the dialect bodies through the real server: never a 500, never a stack trace.

Random fields (the dialect's own names and others), random values (text of any script,
control characters, numbers, very long strings, real credentials now and then) and random
content types (urlencoded, multipart, JSON of any shape, garbage bytes).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.support.harness import Platform
from voxgate.tenancy.service import Credentials

NXCLOUD_PATHS = ["/api/voiceSms/notsend", "/api/voiceSms/versend", "/api/voiceSms/gpsend"]
SIPCALL_PATHS = ["/", "/sipcall/"]
HUAWEI_PATHS = [
    "/apigovernance/api/oauth/tokenByAkSk",
    "/apiaccess/rest/voiceNotification/v1/createVoiceNotification",
    "/apiaccess/CC-Management/v1/mobileAgent/createCall",
    "/apiaccess/CC-Management/v1/mobileAgent/queryCallState",
    "/apiaccess/rest/cc-management/v1/calledRoute/createCalledRoute",
    "/apiaccess/rest/cc-management/v1/calledRoute/queryCalledRoute",
    "/apiaccess/rest/cc-management/v1/calledRoute/modifyCalledRoute",
    "/apiaccess/rest/cc-management/v1/calledRoute/deleteCalledRoute",
    "/apiaccess/rest/cc-management/v1/skill/createSkill",
    "/apiaccess/rest/cc-management/v1/skill/querySkills",
    "/apiaccess/rest/cc-management/v1/skill/deleteSkill",
    "/apiaccess/rest/cc-management/v1/ivrFlow/queryIVRFlowList",
]

NXCLOUD_FIELDS = [
    "phone", "country_code", "show_phone", "content", "lang", "ext", "url", "task_time",
    "time_zone", "task_zone", "sched_hangup", "sms_appkey", "msg_content",
]  # fmt: skip
SIPCALL_FIELDS = [
    "destnumber", "voicetype", "voicefile", "chengshudu", "userid", "disnumber",
    "customuuid", "waittime", "appid", "accesskey", "s",
]  # fmt: skip
HUAWEI_FIELDS = [
    "voiceContent", "called", "caller", "callerPresent", "agentPresent", "callBackUrl",
    "priority", "callData", "agentWorkNo", "callSerialNo", "accessCode", "extCode",
    "deviceType", "deviceId", "name", "description", "app_key", "app_secret", "reqBody",
    "requestBody",
]  # fmt: skip
SERVICES = [
    "App.Sip_Auth.Login", "App.Sip_Auth.Logout", "App.Sip_Call.PlayVoice",
    "app.sip_call.playvoice", "App.Sip_Call.MakeCall", "", "App..", "A" * 300,
]  # fmt: skip

ENCODINGS = ["form"] * 3 + ["multipart"] * 3 + ["json"] * 2 + ["json-any", "raw", "none"]
TRACE_MARKERS = ("Traceback", 'File "', "voxgate/", "site-packages", "Exception:")

plausible = st.sampled_from(
    [
        "8615088888888", "15088888888", "86", "62", "0", "1", "2", "-1", "1@extGroup-1",
        "@extGroup-1", "1@a,2@b,@c", "1-2-3-4", "https://example.com/a.mp3",
        "wwww.baidu.com/test.mp3", "%E9%FF", "%", "2030-01-01 00:00:00", "8", "99.5", "640003",
        "$Hello$", "a~b", "aHR0cDovL2V4YW1wbGUuY29tLw==", "null", "[]", "{}", " ",
    ]
)  # fmt: skip
values = st.one_of(
    plausible,
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=990, max_size=1100),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["\x00", "\ud7ff", "\U0001f600", "\r\n", "'\"<>&;", "..", "%00"]),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


def field_names(known: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(known), st.text(min_size=1, max_size=12))


@st.composite
def request_parts(
    draw: st.DrawFn, known: list[str], base: dict[str, str]
) -> tuple[dict[str, Any], str]:
    """A valid request, mutated: each field kept, replaced or dropped; extras added."""
    fields: dict[str, Any] = {}
    for key, value in base.items():
        fate = draw(st.sampled_from(["keep"] * 8 + ["replace", "drop"]))
        if fate == "keep":
            fields[key] = value
        elif fate == "replace":
            fields[key] = draw(values)
    extra = draw(st.dictionaries(field_names(known), values, max_size=4))
    fields.update(extra)
    encoding = draw(st.sampled_from(ENCODINGS))
    return fields, encoding


def send(
    http: httpx.Client,
    path: str,
    fields: dict[str, Any],
    encoding: str,
    headers: dict[str, str],
    junk: Any,
) -> httpx.Response:
    if encoding == "form":
        return http.post(path, data=fields, headers=headers)
    if encoding == "multipart":
        files = {k: (None, str(v).encode("utf-8", "surrogatepass")) for k, v in fields.items()}
        return http.post(path, files=files or {"x": (None, b"")}, headers=headers)
    if encoding == "json":
        return http.post(path, content=json.dumps(fields).encode(), headers=_json(headers))
    if encoding == "json-any":
        return http.post(path, content=json.dumps(junk).encode(), headers=_json(headers))
    if encoding == "raw":
        ctype = (
            "multipart/form-data; boundary=zz"
            if isinstance(junk, list)
            else "application/x-www-form-urlencoded"
        )
        raw = json.dumps(junk).encode()[:2000] + b"\xff\xfe--zz\r\n"
        return http.post(path, content=raw, headers={**headers, "content-type": ctype})
    return http.post(path, headers=headers)


def _json(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "content-type": "application/json"}


def check(r: httpx.Response) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:500])
    for marker in TRACE_MARKERS:
        assert marker not in r.text, r.text[:500]
    r.json()  # every dialect answers JSON, errors included


FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def creds(platform: Platform) -> Credentials:
    made = platform.tenant()

    async def group(s: Any) -> None:
        await s.tenants.add_extension(made.name, "20280001", password="pw-1234", group="extGroup-1")

    platform.run(group)
    return made


@FUZZ
@given(
    path=st.sampled_from(NXCLOUD_PATHS),
    parts=st.data(),
    junk=json_values,
)
def test_nxcloud_bodies(
    platform: Platform, creds: Credentials, path: str, parts: st.DataObject, junk: Any
) -> None:
    base = {
        "appkey": creds.appkey,
        "secretkey": creds.secretkey,
        "phone": "8615088888888,8615088888889",
        "country_code": "86",
        "show_phone": "640003",
        "content": "Your code is 1-2-3-4",
        "url": "http://127.0.0.1:9/a.mp3",  # fetched while answering: loopback only
    }
    fields, encoding = parts.draw(request_parts(NXCLOUD_FIELDS, base))
    r = send(platform.http, path, fields, encoding, {}, junk)
    check(r)
    assert isinstance(r.json().get("code"), str)
    event(f"code {r.json()['code']}")


@FUZZ
@given(
    path=st.sampled_from(SIPCALL_PATHS),
    service=st.sampled_from(SERVICES[:3] * 3 + SERVICES[3:]),
    parts=st.data(),
    junk=json_values,
)
def test_sipcall_bodies(
    platform: Platform,
    creds: Credentials,
    path: str,
    service: str,
    parts: st.DataObject,
    junk: Any,
) -> None:
    token = _sipcall_token(platform, creds)
    base = {
        "service": service,
        "token": token,
        "appid": creds.appid,
        "accesskey": creds.accesskey,
        "destnumber": "13333333333",
        "voicetype": "2",
        "voicefile": "127.0.0.1:9/test.mp3",
        "chengshudu": "1",
        "userid": "1@extGroup-1,@extGroup-1",
        "customuuid": "c-1",
    }
    fields, encoding = parts.draw(request_parts(SIPCALL_FIELDS, base))
    r = send(platform.http, path, fields, encoding, {}, junk)
    check(r)
    body = r.json()
    assert list(body) == ["ret", "data", "msg"]
    assert body["ret"] in (200, 400, 600, 601, 602, 603, 604)
    status = body["data"].get("status") if isinstance(body["data"], dict) else None
    event(f"ret {body['ret']} status {status}")


_tokens: dict[str, str] = {}


def _sipcall_token(platform: Platform, creds: Credentials) -> str:
    if creds.appid not in _tokens:
        r = platform.http.post(
            "/",
            data={
                "service": "App.Sip_Auth.Login",
                "appid": creds.appid,
                "accesskey": creds.accesskey,
            },
        )
        _tokens[creds.appid] = r.json()["data"]["result"]["token"]
    return _tokens[creds.appid]


@FUZZ
@given(
    path=st.sampled_from(HUAWEI_PATHS),
    parts=st.data(),
    junk=json_values,
    auth=st.sampled_from(["good", "none", "bad", "double-space"]),
)
def test_huawei_bodies(
    platform: Platform,
    creds: Credentials,
    path: str,
    parts: st.DataObject,
    junk: Any,
    auth: str,
) -> None:
    headers: dict[str, str] = {}
    if auth != "none":
        good = platform.huawei_headers(creds) if auth == "good" else {}
        bearer = good.get("Authorization", "Bearer nope")
        if auth == "double-space":
            bearer = bearer.replace("Bearer ", "Bearer  ")
        headers = {"X-APP-Key": creds.app_key, "Authorization": bearer}
    base = {
        "app_key": creds.app_key,
        "app_secret": creds.app_secret,
        "voiceContent": "$Hello$",
        "called": "88880000",
        "caller": "88889001",
        "callSerialNo": "1000000000000001",
        "accessCode": "640003",
        "name": "sales",
    }
    fields, encoding = parts.draw(request_parts(HUAWEI_FIELDS, base))
    r = send(platform.http, path, fields, encoding, headers, junk)
    check(r)
    event(f"http {r.status_code}")
