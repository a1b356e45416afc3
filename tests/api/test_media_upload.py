"""Voice files uploaded through every API: native /v1/media, NXCloud uploadVoiceFile, Huawei;
each usable by id in scripts, by name in PhalApi, and by its URL in NXCloud gpsend."""

from __future__ import annotations

import base64
import io
import wave
from typing import Any

import httpx

from tests.support.audio import WAV, loopback_platform, tone_wav
from tests.support.harness import Platform
from voxgate.api.services import Services
from voxgate.tenancy.service import Credentials

UPLOAD = "/api/voiceSms/uploadVoiceFile"
GPSEND = "/api/voiceSms/gpsend"

platform = loopback_platform()


def native(creds: Credentials) -> httpx.BasicAuth:
    return httpx.BasicAuth(creds.app_key, creds.app_secret)


def nx_upload(platform: Platform, creds: Credentials, **over: str) -> dict[str, Any]:
    fields = {
        "appkey": creds.appkey,
        "secretkey": creds.secretkey,
        "filename": "hello.wav",
        "content": base64.b64encode(WAV).decode(),
        **over,
    }
    r = platform.http.post(UPLOAD, data=fields)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def sipcall_play(platform: Platform, creds: Credentials, voicefile: str) -> dict[str, Any]:
    login = platform.http.post(
        "/",
        data={"service": "App.Sip_Auth.Login", "appid": creds.appid, "accesskey": creds.accesskey},
    ).json()
    token = login["data"]["result"]["token"]
    r = platform.http.post(
        "/",
        data={
            "service": "App.Sip_Call.PlayVoice",
            "token": token,
            "voicetype": "1",
            "destnumber": "13333333333",
            "voicefile": voicefile,
            "chengshudu": "1",
            "userid": "1@g1",
        },
    )
    return {"body": r.json(), "uuid": r.headers.get("X-Voxgate-Call-Uuid")}


def tenant(platform: Platform) -> Credentials:
    creds = platform.tenant(access_codes=("13333333333",))

    async def group(s: Services) -> None:
        await s.tenants.add_extension(creds.name, "20280001", password="pw-secret", group="g1")

    platform.run(group)
    return creds


def script_of(platform: Platform, **where: str) -> dict[str, Any]:
    async def load(s: Services) -> dict[str, Any]:
        from sqlalchemy import select

        from voxgate.store.schema import calls

        query = select(calls.c.script, calls.c.dialect_data)
        for key, value in where.items():
            query = query.where(calls.c[key] == value)
        async with s.db.connect() as conn:
            row = (await conn.execute(query)).one()
        return {"script": row.script, "dialect_data": row.dialect_data}

    return platform.run(load)


# --- native ---------------------------------------------------------------------------------


def test_native_upload_multipart_and_raw_then_list_and_read(platform: Platform) -> None:
    creds = tenant(platform)
    auth = native(creds)
    r = platform.http.post(
        "/v1/media", files={"file": ("welcome.wav", WAV, "audio/x-wav")}, auth=auth
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert set(first) == {"id", "name", "duration_ms", "source", "url", "created_at"}
    assert first["name"] == "welcome.wav" and first["source"] == "native"
    assert len(first["id"]) == 16 and first["id"].isdigit()
    assert abs(first["duration_ms"] - 500) <= 5
    assert r.headers["location"] == f"/v1/media/{first['id']}"
    assert first["url"] == f"{platform.settings.public_url}/v1/media/{first['id']}"

    # a multipart name field wins over the file name; a raw body takes ?name=
    r = platform.http.post(
        "/v1/media",
        files={"file": ("x.wav", WAV, "application/octet-stream")},
        data={"name": "menu"},
        auth=auth,
    )
    assert r.status_code == 201 and r.json()["name"] == "menu", r.text
    long_wav = tone_wav(rate=44100, seconds=1.25)
    r = platform.http.post(
        "/v1/media",
        params={"name": "raw prompt"},
        content=long_wav,
        headers={"Content-Type": "audio/wav"},
        auth=auth,
    )
    assert r.status_code == 201, r.text
    raw = r.json()
    assert raw["name"] == "raw prompt" and abs(raw["duration_ms"] - 1250) <= 5

    listed = platform.http.get("/v1/media", auth=auth).json()
    assert [m["name"] for m in listed["items"]] == ["welcome.wav", "menu", "raw prompt"]
    assert listed["next_offset"] is None
    page = platform.http.get("/v1/media", params={"limit": 2}, auth=auth).json()
    assert len(page["items"]) == 2 and page["next_offset"] == 2
    rest = platform.http.get("/v1/media", params={"offset": 2}, auth=auth).json()
    assert [m["id"] for m in rest["items"]] == [raw["id"]]

    assert platform.http.get(f"/v1/media/{raw['id']}", auth=auth).json() == raw
    audio = platform.http.get(f"/v1/media/{raw['id']}/audio", auth=auth)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(audio.content)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() == 10000


def test_native_upload_refusals(platform: Platform) -> None:
    creds = tenant(platform)
    auth = native(creds)
    post = platform.http.post

    def refused(r: httpx.Response, status: int, error_id: str) -> None:
        assert r.status_code == status, r.text
        assert r.json()["error_id"] == error_id, r.text

    refused(post("/v1/media", content=WAV), 401, "unauthorized")
    refused(post("/v1/media", content=b"", auth=auth), 400, "invalid_input")
    refused(post("/v1/media", content=b"<html>no audio</html>", auth=auth), 400, "invalid_audio")
    big = b"RIFF" + b"\0" * (8 * 1024 * 1024 + 1)
    refused(post("/v1/media", content=big, auth=auth), 400, "media_too_large")
    refused(post("/v1/media", data={"name": "x"}, auth=auth), 400, "invalid_input")
    refused(post("/v1/media", files={"other": ("a.wav", WAV)}, auth=auth), 400, "invalid_input")
    refused(platform.http.get("/v1/media/1234567890123456", auth=auth), 404, "media_not_found")
    assert platform.http.get("/v1/media", auth=auth).json()["items"] == []


def test_tenants_do_not_see_each_others_files(platform: Platform) -> None:
    a, b = tenant(platform), tenant(platform)
    r = platform.http.post("/v1/media", content=WAV, params={"name": "a-only"}, auth=native(a))
    voice_id = r.json()["id"]
    assert platform.http.get("/v1/media", auth=native(b)).json()["items"] == []
    for path in (f"/v1/media/{voice_id}", f"/v1/media/{voice_id}/audio"):
        assert platform.http.get(path, auth=native(b)).status_code == 404
    assert sipcall_play(platform, b, "a-only")["body"]["data"]["errors"]["code"] == 1029


# --- NXCloud uploadVoiceFile -----------------------------------------------------------------


def test_nxcloud_upload_answers_a_url_that_gpsend_plays_without_fetching(
    platform: Platform,
) -> None:
    creds = tenant(platform)
    body = nx_upload(platform, creds, filename="promo.wav")
    assert list(body) == ["code", "info"] and body["code"] == "success"
    prefix = f"{platform.settings.public_url}/v1/media/"
    assert body["info"].startswith(prefix)
    voice_id = body["info"].removeprefix(prefix)
    listed = platform.http.get("/v1/media", auth=native(creds)).json()["items"]
    assert [(m["id"], m["name"], m["source"]) for m in listed] == [
        (voice_id, "promo.wav", "nxcloud")
    ]
    # the info URL in gpsend names the stored file: played directly, never fetched
    fields = {
        "appkey": creds.appkey,
        "secretkey": creds.secretkey,
        "phone": "8615088888888",
        "country_code": "86",
        "show_phone": "13333333333",
        "url": body["info"],
    }
    sent = platform.http.post(GPSEND, data=fields).json()
    assert sent["code"] == "0", sent
    call = script_of(platform, request_ref=sent["messageid"])
    assert call["script"]["steps"][1]["file_id"] == voice_id
    assert len(platform.http.get("/v1/media", auth=native(creds)).json()["items"]) == 1
    # another tenant cannot play it by URL
    other = tenant(platform)
    stolen = {**fields, "appkey": other.appkey, "secretkey": other.secretkey}
    assert platform.http.post(GPSEND, data=stolen).json()["code"] == "20"


def test_nxcloud_upload_codes(platform: Platform) -> None:
    creds = tenant(platform)
    assert nx_upload(platform, creds, secretkey="wrong")["code"] == "1"
    fields = {"appkey": creds.appkey, "secretkey": creds.secretkey, "filename": "a.wav"}
    missing = platform.http.post(UPLOAD, data=fields).json()
    assert missing["code"] == "2" and list(missing) == ["result", "code"]
    assert nx_upload(platform, creds, content="%%% not base64")["code"] == "77"
    assert nx_upload(platform, creds, content="")["code"] == "77"
    not_audio = base64.b64encode(b"just some text, not audio").decode()
    assert nx_upload(platform, creds, content=not_audio)["code"] == "77"
    assert nx_upload(platform, creds, filename="  ")["code"] == "77"
    # Base64 with line breaks, and '+' that arrived as spaces, still decode
    wrapped = base64.encodebytes(WAV).decode().replace("+", " ")
    assert nx_upload(platform, creds, content=wrapped)["code"] == "success"


# --- one name space: every upload route is a PhalApi voicefile -------------------------------


def test_files_from_every_route_are_phalapi_voicefiles_by_name(platform: Platform) -> None:
    creds = tenant(platform)
    native_id = platform.http.post(
        "/v1/media", files={"file": ("native.wav", WAV)}, auth=native(creds)
    ).json()["id"]
    nx_id = nx_upload(platform, creds, filename="nx.wav")["info"].rsplit("/", 1)[1]
    token = platform.huawei_token(creds)
    hw = platform.http.post(
        "/apiaccess/rest/cc-management/v1/importVoiceFile/upload",
        json={"fileInfo": base64.b64encode(WAV).decode(), "fileName": "hw.wav"},
        headers={"X-APP-Key": creds.app_key, "Authorization": f"Bearer {token}"},
    ).json()
    assert hw["returnCode"] == "0", hw
    for name, voice_id in (
        ("native.wav", native_id),
        ("nx.wav", nx_id),
        ("hw.wav", hw["data"]["voiceId"]),
    ):
        played = sipcall_play(platform, creds, name)
        assert played["body"]["data"]["status"] == 0, played
        call = script_of(platform, serial_no=played["uuid"])
        assert call["script"]["steps"][1]["file_id"] == voice_id
