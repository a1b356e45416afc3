"""Audio URLs are fetched while the request is answered, from a real loopback HTTP server.

NXCloud gpsend ``url`` and PhalApi ``voicetype=2`` become a voice file of the tenant (source
``url``) that the call script plays; a URL that cannot be fetched or decoded fails the
request (NXCloud 20, PhalApi 1029). Loopback is reachable only because this platform's
``fetch_allow`` lists it; ``strict`` has no allow list and refuses it without connecting.
"""

from __future__ import annotations

from typing import Any

from tests.support.audio import AUDIO, loopback_platform
from tests.support.harness import Platform
from voxgate.api.services import Services
from voxgate.tenancy.service import Credentials

GPSEND = "/api/voiceSms/gpsend"

platform = loopback_platform()
strict = loopback_platform(name="strict", fetch_allow=())


def tenant(platform: Platform) -> Credentials:
    creds = platform.tenant(access_codes=("13333333333",))

    async def group(s: Services) -> None:
        await s.tenants.add_extension(creds.name, "20280001", password="pw-secret", group="g1")

    platform.run(group)
    return creds


def gpsend(platform: Platform, creds: Credentials, url: str, phone: str) -> dict[str, Any]:
    fields = {
        "appkey": creds.appkey,
        "secretkey": creds.secretkey,
        "phone": phone,
        "country_code": "86",
        "show_phone": "13333333333",
        "url": url,
    }
    r = platform.http.post(GPSEND, data=fields)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def play_voice(platform: Platform, creds: Credentials, url: str) -> tuple[dict[str, Any], str]:
    login = platform.http.post(
        "/",
        data={"service": "App.Sip_Auth.Login", "appid": creds.appid, "accesskey": creds.accesskey},
    ).json()
    r = platform.http.post(
        "/",
        data={
            "service": "App.Sip_Call.PlayVoice",
            "token": login["data"]["result"]["token"],
            "voicetype": "2",
            "destnumber": "13333333333",
            "voicefile": url,
            "chengshudu": "1",
            "userid": "1@g1",
        },
    )
    return r.json(), r.headers.get("X-Voxgate-Call-Uuid", "")


def stored(platform: Platform, tenant_id: str, **where: str) -> dict[str, Any]:
    """The call matching ``where`` and the voice file its play step plays."""

    async def load(s: Services) -> dict[str, Any]:
        from sqlalchemy import select

        from voxgate.store.schema import calls, voice_files

        query = select(calls.c.script, calls.c.dialect_data)
        for key, value in where.items():
            query = query.where(calls.c[key] == value)
        async with s.db.connect() as conn:
            calls_found = (await conn.execute(query)).all()
            file_id = calls_found[0].script["steps"][1]["file_id"]
            voice = (
                await conn.execute(
                    select(voice_files).where(
                        (voice_files.c.id == file_id) & (voice_files.c.tenant_id == tenant_id)
                    )
                )
            ).one()
        return {"calls": calls_found, "voice": voice}

    return platform.run(load)


def voice_count(platform: Platform, tenant_id: str) -> int:
    async def count(s: Services) -> int:
        return len(await s.voices.list(tenant_id, offset=0, limit=100))

    return platform.run(count)


def test_gpsend_fetches_once_and_plays_the_stored_file(platform: Platform) -> None:
    creds = tenant(platform)
    before = AUDIO.hits("group/ok-1.m4a")
    body = gpsend(platform, creds, AUDIO.url("group/ok-1.m4a"), "8615088888801,8615088888802")
    assert body["code"] == "0", body
    assert AUDIO.hits("group/ok-1.m4a") == before + 1  # once per request, not per number
    found = stored(platform, creds.tenant_id, request_ref=body["messageid"])
    assert len(found["calls"]) == 2
    file_ids = {c.script["steps"][1]["file_id"] for c in found["calls"]}
    assert file_ids == {found["voice"].id}
    assert [s["op"] for s in found["calls"][0].script["steps"]] == ["dial", "play", "hangup"]
    assert found["calls"][0].dialect_data["url"] == AUDIO.url("group/ok-1.m4a")
    voice = found["voice"]
    assert voice.source == "url" and voice.name == AUDIO.url("group/ok-1.m4a")
    assert abs(voice.duration_ms - 500) <= 5


def test_gpsend_code_20_when_the_url_cannot_be_used(platform: Platform) -> None:
    creds = tenant(platform)
    for path in ("missing.mp3", "page.mp3", f"redirect?to={AUDIO.url('missing.wav')}"):
        body = gpsend(platform, creds, AUDIO.url(path), "8615088888811")
        assert body["code"] == "20", (path, body)
        assert list(body) == ["result", "code"] and "messageid" not in body
    # a redirect is followed to audio that exists
    body = gpsend(
        platform,
        creds,
        AUDIO.url(f"redirect?to={AUDIO.url('after-redirect.wav')}"),
        "8615088888812",
    )
    assert body["code"] == "0", body
    assert voice_count(platform, creds.tenant_id) == 1  # failures stored nothing


def test_playvoice_fetches_the_url_or_fails_1029(platform: Platform) -> None:
    creds = tenant(platform)
    body, call_uuid = play_voice(platform, creds, AUDIO.url("menu.mp3"))
    assert body["ret"] == 200 and body["data"]["status"] == 0, body
    found = stored(platform, creds.tenant_id, serial_no=call_uuid)
    [call] = found["calls"]
    assert [s["op"] for s in call.script["steps"]] == ["dial", "play", "gather", "hangup"]
    assert found["voice"].source == "url"
    assert call.dialect_data["voice_url"] == AUDIO.url("menu.mp3")
    for path in ("missing.mp3", "page.mp3"):
        body, _ = play_voice(platform, creds, AUDIO.url(path))
        assert body["ret"] == 200 and body["data"]["status"] == 1, body
        assert body["data"]["errors"]["code"] == 1029
        assert "voice URL cannot be used" in body["data"]["errors"]["codemsg"]


def test_without_the_allow_list_loopback_is_refused_before_connecting(strict: Platform) -> None:
    creds = tenant(strict)
    before = AUDIO.hits("strict.wav")
    body = gpsend(strict, creds, AUDIO.url("strict.wav"), "8615088888821")
    assert body["code"] == "20", body
    assert "not a public address" in body["result"]
    reply, _ = play_voice(strict, creds, AUDIO.url("strict.wav"))
    assert reply["data"]["errors"]["code"] == 1029
    for url in ("http://localhost:9/a.wav", "http://[::1]:9/a.wav", "http://10.0.0.1/a.wav"):
        assert gpsend(strict, creds, url, "8615088888822")["code"] == "20", url
    assert AUDIO.hits("strict.wav") == before
    assert voice_count(strict, creds.tenant_id) == 0
