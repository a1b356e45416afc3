"""PhalApi call-center API: the seed's PHP request, Login/Logout, every ret and error code."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.support.audio import AUDIO, loopback_platform
from tests.support.harness import Platform
from voxgate.api.services import Services
from voxgate.tenancy.service import Credentials

CDR_URL = "http://127.0.0.1:9/cdr"
STATUS_URL = "http://127.0.0.1:9/status"
# The seed's scheme-less voice URL (wwww.baidu.com/test.mp3), pointed at a real loopback
# server: PlayVoice fetches it while answering, and the platform allows loopback.
SEED_URL = AUDIO.url("test.mp3").removeprefix("http://")
platform = loopback_platform()


def tenant(
    platform: Platform, *, groups: tuple[str, ...] = ("extGroup-1",), **kw: Any
) -> Credentials:
    kw.setdefault("access_codes", ("13333333333", "2120280001"))
    creds = platform.tenant(**kw)

    async def setup(s: Services) -> None:
        await s.tenants.set_app_urls(creds.name, cdr_url=CDR_URL, status_url=STATUS_URL)
        for n, group in enumerate(groups):
            await s.tenants.add_extension(
                creds.name, f"2028000{n}", password="secret-pw", group=group
            )

    platform.run(setup)
    return creds


def add_voice_file(
    platform: Platform, creds: Credentials, name: str, status: str = "approved"
) -> str:
    file_id = f"vf{time.time_ns()}"

    async def insert(s: Services) -> None:
        from voxgate.store.voicefiles import insert_voice_file

        async with s.db.begin() as conn:
            await insert_voice_file(
                conn,
                id=file_id,
                tenant_id=creds.tenant_id,
                name=name,
                status=status,
                source="sipcall",
                sha256="0" * 64,
                duration_ms=1000,
                created_at=time.time(),
            )

    platform.run(insert)
    return file_id


def call(platform: Platform, fields: dict[str, Any], path: str = "/") -> dict[str, Any]:
    r = platform.http.post(path, data=fields)
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["ret", "data", "msg"]
    return body  # type: ignore[no-any-return]


def login(platform: Platform, creds: Credentials) -> str:
    body = call(
        platform,
        {"service": "App.Sip_Auth.Login", "appid": creds.appid, "accesskey": creds.accesskey},
    )
    assert body["ret"] == 200, body
    return str(body["data"]["result"]["token"])


def play(token: str, **over: Any) -> dict[str, Any]:
    base = {
        "service": "App.Sip_Call.PlayVoice",
        "token": token,
        "voicetype": "2",
        "destnumber": "13333333333",
        "voicefile": SEED_URL,
        "chengshudu": "1",
        "userid": "1@extGroup-1",
        "disnumber": "13333333333",
        "customuuid": "13333333333",
    }
    return {k: v for k, v in {**base, **over}.items() if v is not None}


def ret(platform: Platform, fields: dict[str, Any]) -> int:
    body = call(platform, fields)
    if body["ret"] != 200:
        assert body["data"] == [] and body["msg"], body
    return int(body["ret"])


def failure(platform: Platform, fields: dict[str, Any]) -> int:
    body = call(platform, fields)
    assert body["ret"] == 200, body
    data = body["data"]
    assert data["status"] == 1, data
    assert list(data) == ["status", "desc", "errors", "reqtime", "rsptime"]
    assert set(data["errors"]) == {"code", "codemsg"} and data["errors"]["codemsg"]
    return int(data["errors"]["code"])


def call_by_uuid(platform: Platform, call_uuid: str) -> tuple[Any, list[Any]]:
    async def load(s: Services) -> tuple[Any, list[Any]]:
        from sqlalchemy import select

        from voxgate.store.schema import call_jobs, calls

        async with s.db.connect() as conn:
            row = (await conn.execute(select(calls).where(calls.c.serial_no == call_uuid))).one()
            jobs = (
                await conn.execute(select(call_jobs).where(call_jobs.c.call_id == row.id))
            ).all()
        return row, list(jobs)

    return platform.run(load)


def ops(steps: list[dict[str, Any]]) -> list[str]:
    return [f"{s['op']} {s['group']}" if s["op"] == "transfer" else s["op"] for s in steps]


# --- the seed --------------------------------------------------------------------------------


def test_seed_php_example_as_multipart(platform: Platform) -> None:
    """The seed's PHP curl request (array POSTFIELDS = multipart/form-data), via requests."""
    creds = tenant(platform)
    token = login(platform, creds)
    post_fields = {
        "service": "App.Sip_Call.PlayVoice",
        "token": token,
        "voicetype": 2,
        "destnumber": "13333333333",
        "voicefile": SEED_URL,
        "chengshudu": 1,
        "userid": "1@extGroup-1",
        "disnumber": "13333333333",
        "customuuid": "13333333333",
    }
    r = requests.post(
        platform.base_url,
        files={k: (None, str(v)) for k, v in post_fields.items()},
        timeout=30,
    )
    assert str(r.request.headers["content-type"]).startswith("multipart/form-data")
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["ret", "data", "msg"]
    assert body["ret"] == 200 and body["msg"] == ""
    assert list(body["data"]) == ["status", "desc", "reqtime", "rsptime"]
    assert body["data"]["status"] == 0
    assert body["data"]["desc"] == "Play command sent successfully"
    assert isinstance(body["data"]["reqtime"], int)
    assert body["data"]["rsptime"] >= body["data"]["reqtime"] > 1_500_000_000

    call_uuid = r.headers["X-Voxgate-Call-Uuid"]
    row, jobs = call_by_uuid(platform, call_uuid)
    assert row.tenant_id == creds.tenant_id
    assert row.dialect == "sipcall" and row.kind == "voice_menu"
    assert row.callee == "13333333333" and row.caller == "13333333333"
    assert row.callback_url == CDR_URL
    steps = row.script["steps"]
    assert [s["op"] for s in steps] == ["dial", "play", "gather", "hangup"]
    assert steps[1]["file_id"].isdigit()
    assert row.dialect_data["voice_url"] == "http://" + SEED_URL
    assert steps[2]["max_digits"] == 1
    assert {k: ops(v) for k, v in steps[2]["branches"].items()} == {"1": ["transfer extGroup-1"]}
    assert ops(steps[2]["no_input"]) == ["hangup"]
    extra = row.dialect_data
    assert extra["uuid"] == call_uuid and len(call_uuid) == 36
    assert extra["customuuid"] == "13333333333"
    assert extra["chengshudu"] == "1"
    assert extra["companycode"] == creds.companycode
    assert extra["status_url"] == STATUS_URL
    assert [j.status for j in jobs] == ["queued"]


def test_login_result_and_both_paths(platform: Platform) -> None:
    creds = tenant(platform)
    for path in ("/", "/sipcall/", "/sipcall"):
        body = call(
            platform,
            {"service": "App.Sip_Auth.Login", "appid": creds.appid, "accesskey": creds.accesskey},
            path,
        )
        assert body["ret"] == 200 and body["msg"] == ""
        data = body["data"]
        assert list(data) == ["status", "desc", "result", "reqtime", "rsptime"]
        assert data["status"] == 0 and data["desc"] == "Authorization successful"
        result = data["result"]
        assert list(result) == ["companycode", "companyname", "token", "authtime", "authmodel"]
        assert result["companycode"] == creds.companycode
        assert result["companyname"] == creds.name
        assert abs(result["authtime"] - time.time()) < 60
    # the service may also come in the query string, as PhalApi's ?s=
    r = platform.http.post(
        "/?s=App.Sip_Auth.Login",
        files={"appid": (None, creds.appid), "accesskey": (None, creds.accesskey)},
    )
    assert r.json()["ret"] == 200


def test_token_lives_12_hours(platform: Platform) -> None:
    creds = tenant(platform)
    token = login(platform, creds)

    async def grant(s: Services) -> Any:
        return await s.tokens.check(token, "sipcall")

    g = platform.run(grant)
    assert g.expires_at - g.created_at == 12 * 3600


def test_logout_ends_the_token(platform: Platform) -> None:
    creds = tenant(platform)
    token = login(platform, creds)
    body = call(platform, {"service": "App.Sip_Auth.Logout", "token": token})
    assert body["ret"] == 200 and body["data"]["status"] == 0
    assert ret(platform, play(token)) == 600
    assert ret(platform, {"service": "App.Sip_Auth.Logout", "token": token}) == 600


def test_logout_with_appid_ends_every_token(platform: Platform) -> None:
    """The public CRM client logs out with appid/accesskey and no token."""
    creds = tenant(platform)
    first, second = login(platform, creds), login(platform, creds)
    body = call(
        platform,
        {"service": "App.Sip_Auth.Logout", "appid": creds.appid, "accesskey": creds.accesskey},
    )
    assert body["ret"] == 200 and body["data"]["status"] == 0
    assert ret(platform, play(first)) == 600
    assert ret(platform, play(second)) == 600


def test_userid_rules_and_transfer_without_a_key(platform: Platform) -> None:
    creds = tenant(platform, groups=("sales", "support", "operator"))
    token = login(platform, creds)
    r = platform.http.post("/", data=play(token, userid="1@sales, 2@support,@operator"))
    assert r.json()["data"]["status"] == 0, r.text
    row, _ = call_by_uuid(platform, r.headers["X-Voxgate-Call-Uuid"])
    steps = row.script["steps"]
    gather = steps[2]
    assert {k: v[0]["group"] for k, v in gather["branches"].items()} == {
        "1": "sales",
        "2": "support",
    }
    assert ops(gather["no_input"]) == ["transfer operator"]
    assert ops(steps[3:]) == ["transfer operator"]  # any other key
    r = platform.http.post("/", data=play(token, userid="@operator", destnumber="13333333334"))
    row, _ = call_by_uuid(platform, r.headers["X-Voxgate-Call-Uuid"])
    assert row.script["steps"][2]["branches"] == {}
    assert ops(row.script["steps"][2]["no_input"]) == ["transfer operator"]


def test_offline_voice_file_by_name(platform: Platform) -> None:
    creds = tenant(platform)
    file_id = add_voice_file(platform, creds, "welcome.wav")
    token = login(platform, creds)
    r = platform.http.post("/", data=play(token, voicetype="1", voicefile="welcome.wav"))
    assert r.json()["data"]["status"] == 0, r.text
    row, _ = call_by_uuid(platform, r.headers["X-Voxgate-Call-Uuid"])
    assert row.script["steps"][1]["file_id"] == file_id


def test_blank_disnumber_picks_an_access_code(platform: Platform) -> None:
    creds = tenant(platform)
    token = login(platform, creds)
    seen = set()
    for n in range(12):
        r = platform.http.post("/", data=play(token, disnumber="", destnumber=f"1333333{n:04d}"))
        row, _ = call_by_uuid(platform, r.headers["X-Voxgate-Call-Uuid"])
        seen.add(row.caller)
    assert seen <= {"13333333333", "2120280001"} and len(seen) == 2
    bare = tenant(platform, access_codes=())
    token = login(platform, bare)
    r = platform.http.post("/", data=play(token, disnumber=None))
    row, _ = call_by_uuid(platform, r.headers["X-Voxgate-Call-Uuid"])
    assert row.caller is None


# --- ret codes -------------------------------------------------------------------------------


def test_ret_400_bad_request(platform: Platform) -> None:
    creds = tenant(platform)
    token = login(platform, creds)
    assert ret(platform, {"token": token}) == 400  # no service
    assert ret(platform, {"service": "App.Nope.Nope", "token": token}) == 400
    assert ret(platform, {"service": "App.Sip_Call.MakeCall", "token": token}) == 400
    for name in ("destnumber", "voicetype", "voicefile", "chengshudu", "userid"):
        assert ret(platform, play(token, **{name: None})) == 400, name
    assert ret(platform, {"service": "App.Sip_Auth.Login", "appid": creds.appid}) == 400
    r = platform.http.post(
        "/", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert r.status_code == 200 and r.json()["ret"] == 400
    r = platform.http.get("/sipcall/")
    assert r.status_code == 405 and r.json()["ret"] == 400 and r.json()["data"] == []


def test_ret_600_token_invalid_or_expired(platform: Platform) -> None:
    creds = tenant(platform)
    assert ret(platform, play("")) == 600
    assert ret(platform, play("not-a-token")) == 600
    huawei = platform.huawei_token(creds)
    assert ret(platform, play(huawei)) == 600  # another dialect's token

    async def expired(s: Services) -> str:
        app = await s.apps.get("sipcall_appid", creds.appid)
        assert app is not None
        token, _ = await s.tokens.issue(
            tenant_id=creds.tenant_id, app_id=app.id, dialect="sipcall", ttl=-1
        )
        return token

    assert ret(platform, play(platform.run(expired))) == 600


def test_ret_601_appid_not_authorised(platform: Platform) -> None:
    creds = tenant(platform)
    login_fields = {"service": "App.Sip_Auth.Login", "appid": creds.appid, "accesskey": "x"}
    assert ret(platform, login_fields) == 601
    assert ret(platform, {**login_fields, "appid": "nosuch", "accesskey": creds.accesskey}) == 601


def test_ret_602_appid_expired(platform: Platform) -> None:
    creds = tenant(platform)
    token = login(platform, creds)

    async def suspend(s: Services) -> None:
        await s.tenants.update(creds.name, status="suspended")

    platform.run(suspend)
    assert ret(platform, play(token)) == 602
    login_fields = {
        "service": "App.Sip_Auth.Login",
        "appid": creds.appid,
        "accesskey": creds.accesskey,
    }
    assert ret(platform, login_fields) == 602


def test_ret_603_module_not_authorised(platform: Platform) -> None:
    creds = tenant(platform, subscribed=False)
    login_fields = {
        "service": "App.Sip_Auth.Login",
        "appid": creds.appid,
        "accesskey": creds.accesskey,
    }
    assert ret(platform, login_fields) == 603


# --- business failures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "over",
    [
        {"destnumber": "12"},
        {"destnumber": "abc"},
        {"voicetype": "3"},
        {"voicefile": "ftp://host/a.mp3"},
        {"voicefile": "http://host:99999/a.mp3"},
        {"userid": "1extGroup-1"},
        {"userid": "12@extGroup-1"},
        {"userid": "1@extGroup-1,1@extGroup-1"},
        {"userid": "@extGroup-1,@extGroup-1"},
        {"userid": ","},
        {"userid": "1@nosuchgroup"},
        {"disnumber": "99999999"},
        {"chengshudu": "x" * 65},
        {"customuuid": "x" * 129},
        {"waittime": "0"},
    ],
)
def test_code_1002_validation_failure(platform: Platform, over: dict[str, str]) -> None:
    creds = tenant(platform)
    token = login(platform, creds)
    assert failure(platform, play(token, **over)) == 1002


def test_code_1029_offline_file_missing(platform: Platform) -> None:
    creds = tenant(platform)
    add_voice_file(platform, creds, "pending.wav", status="pending")
    token = login(platform, creds)
    assert failure(platform, play(token, voicetype="1", voicefile="nosuch.wav")) == 1029
    assert failure(platform, play(token, voicetype="1", voicefile="pending.wav")) == 1029


# --- tenants are isolated ----------------------------------------------------------------------


def test_tenants_are_isolated(platform: Platform) -> None:
    a = tenant(platform, groups=("a-only",), access_codes=("2120280001",))
    b = tenant(platform, groups=("b-only",), access_codes=("2120280002",))
    add_voice_file(platform, a, "a-welcome.wav")
    token_b = login(platform, b)
    # B cannot use A's extension group, voice file or caller ID
    assert failure(platform, play(token_b, userid="1@a-only", disnumber=None)) == 1002
    b_file = play(token_b, userid="1@b-only", disnumber=None, voicetype="1")
    assert failure(platform, {**b_file, "voicefile": "a-welcome.wav"}) == 1029
    assert failure(platform, play(token_b, userid="1@b-only", disnumber="2120280001")) == 1002
    # B's token only ever creates B's calls; A's accesskey never logs B in
    r = platform.http.post("/", data=play(token_b, userid="1@b-only", disnumber=None))
    row, _ = call_by_uuid(platform, r.headers["X-Voxgate-Call-Uuid"])
    assert row.tenant_id == b.tenant_id and row.caller == "2120280002"
    wrong = {"service": "App.Sip_Auth.Login", "appid": b.appid, "accesskey": a.accesskey}
    assert ret(platform, wrong) == 601

    async def reads(s: Services) -> Any:
        from voxgate.store.calls import get_call

        async with s.db.connect() as conn:
            return await get_call(conn, a.tenant_id, row.id)

    assert platform.run(reads) is None
