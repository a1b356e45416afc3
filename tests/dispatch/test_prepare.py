"""The media preparer, running in a real server on SQLite and PostgreSQL.

After a call is accepted its job goes ``queued`` → ``ready`` only once every ``say`` step is
in the TTS cache in both codecs (rendering it again is a cache hit) and every ``play`` file
exists; a call whose media cannot be prepared ends ``failed`` with a reason and an event.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.support.audio import AUDIO, WAV, loopback_platform
from tests.support.harness import Platform
from voxgate.api.services import Services
from voxgate.calls.script import CallScript, Say
from voxgate.dispatch.prepare import PrepareConfig, Preparer, say_audio, steps_of
from voxgate.store import calls as calls_repo
from voxgate.store import jobs
from voxgate.tenancy.service import Credentials

platform = loopback_platform(prepare_enabled=True, tts_prewarm=False, prepare_poll_seconds=0.05)


def auth(creds: Credentials) -> httpx.BasicAuth:
    return httpx.BasicAuth(creds.app_key, creds.app_secret)


def place(platform: Platform, creds: Credentials, steps: list[dict[str, Any]]) -> str:
    script = {"steps": [{"op": "dial", "to": "88880000"}, *steps, {"op": "hangup"}]}
    r = platform.http.post("/v1/calls", json={"script": script}, auth=auth(creds))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def job_status(platform: Platform, call_id: str) -> str | None:
    async def load(s: Services) -> str | None:
        async with s.db.connect() as conn:
            return await jobs.job_status(conn, call_id)

    return platform.run(load)


def wait_for(platform: Platform, call_id: str, *, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = job_status(platform, call_id)
        if status not in ("queued", "preparing"):
            assert status is not None
            return status
        assert time.monotonic() < deadline, f"job still {status}"
        time.sleep(0.1)


def call_and_events(platform: Platform, creds: Credentials, call_id: str) -> tuple[Any, Any]:
    async def load(s: Services) -> tuple[Any, Any]:
        async with s.db.connect() as conn:
            call = await calls_repo.get_call(conn, creds.tenant_id, call_id)
            events = await calls_repo.events_of(conn, call_id)
        return call, [e["type"] for e in events]

    return platform.run(load)


def cache_hits(platform: Platform, script: dict[str, Any]) -> tuple[int, int, int]:
    """Render every say step again, in both codecs: (renders, hits, misses)."""

    async def render(s: Services) -> tuple[int, int, int]:
        cache = s.speech.cache
        assert cache is not None
        says = [
            st for st in steps_of(CallScript.model_validate(script).steps) if isinstance(st, Say)
        ]
        renders = 0
        for say in says:
            for codec in s.settings.prepare_codecs:
                audio = say_audio(s.speech, say, codec)
                assert audio.codec == codec and audio.duration > 0.2
                renders += 1
        return renders, cache.hits, cache.misses

    return platform.run(render)


def test_say_steps_are_rendered_and_play_files_checked_before_ready(platform: Platform) -> None:
    creds = platform.tenant()
    upload = platform.http.post(
        "/v1/media", files={"file": ("hello.wav", WAV)}, auth=auth(creds)
    ).json()
    call_id = place(
        platform,
        creds,
        [
            {"op": "say", "text": "Welcome to the test line.", "voice": "flite:slt"},
            {"op": "play", "file_id": upload["id"]},
            {
                "op": "gather",
                "branches": {"1": [{"op": "say", "text": "You pressed one.", "voice": "rms"}]},
                "no_input": [{"op": "say", "text": "4827", "digits": True, "voice": "awb"}],
            },
        ],
    )
    assert wait_for(platform, call_id) == "ready"
    call, events = call_and_events(platform, creds, call_id)
    assert call["status"] == "queued" and events == ["call.queued"]
    renders, hits, misses = cache_hits(platform, call["script"])
    assert renders == 6  # three say steps (one in a branch, one in no_input) x two codecs
    assert misses == 0 and hits >= renders


def test_nxcloud_code_in_the_default_voice_is_ready(platform: Platform) -> None:
    creds = platform.tenant(access_codes=("640003",))
    fields = {
        "appkey": creds.appkey,
        "secretkey": creds.secretkey,
        "phone": "8615088888888",
        "country_code": "86",
        "show_phone": "640003",
        "content": "Your code is 4827",
        "lang": "en",
    }
    body = platform.http.post("/api/voiceSms/versend", data=fields).json()
    assert body["code"] == "0", body

    async def call_of(s: Services) -> dict[str, Any]:
        async with s.db.connect() as conn:
            [row] = await calls_repo.list_calls(
                conn, creds.tenant_id, limit=1, filters={"request_ref": body["messageid"]}
            )
        return row

    call = platform.run(call_of)
    assert wait_for(platform, call["id"], timeout=120) == "ready"
    renders, _hits, misses = cache_hits(platform, call["script"])
    assert renders == 4 and misses == 0


def test_a_missing_voice_file_fails_the_call_with_a_reason(platform: Platform) -> None:
    creds = platform.tenant()
    call_id = place(platform, creds, [{"op": "play", "file_id": "1000000000000001"}])
    assert wait_for(platform, call_id) == "failed"
    call, events = call_and_events(platform, creds, call_id)
    assert call["status"] == "failed" and call["hangup_side"] == "system"
    assert call["ended_at"] is not None
    assert call["result"]["error"]["error_id"] == "voice_file_not_found"
    assert events == ["call.queued", "call.failed"]
    native = platform.http.get(f"/v1/calls/{call_id}", auth=auth(creds)).json()
    assert native["status"] == "failed"
    assert native["result"]["error"]["error_id"] == "voice_file_not_found"


def test_native_play_urls_are_fetched_into_voice_files(platform: Platform) -> None:
    creds = platform.tenant()
    url = AUDIO.url("native/prompt.wav")
    call_id = place(platform, creds, [{"op": "play", "url": url, "loop": 2}])
    assert wait_for(platform, call_id) == "ready"
    call, _ = call_and_events(platform, creds, call_id)
    play = call["script"]["steps"][1]
    assert play["url"] is None and play["loop"] == 2
    media = platform.http.get(f"/v1/media/{play['file_id']}", auth=auth(creds)).json()
    assert media["source"] == "url" and media["name"] == url

    bad = place(platform, creds, [{"op": "play", "url": AUDIO.url("missing.wav")}])
    assert wait_for(platform, bad) == "failed"
    call, events = call_and_events(platform, creds, bad)
    assert call["result"]["error"]["error_id"] == "audio_fetch_failed"
    assert events[-1] == "call.failed"


def test_prewarm_fills_the_cache_with_popular_prompts(platform: Platform) -> None:
    async def prewarm(s: Services) -> tuple[int, int, int]:
        config = PrepareConfig(codecs=("pcmu", "pcma"), prewarm_phrases=("7", "I repeat."))
        preparer = Preparer(
            db=s.db, speech=s.speech, voices=s.voices, urls=s.audio_urls, sink=None, config=config
        )
        await preparer.prewarm()
        cache = s.speech.cache
        assert cache is not None
        misses = cache.misses
        for phrase in config.prewarm_phrases:
            for codec in config.codecs:
                await asyncio.to_thread(s.speech.say, phrase, codec=codec)
        return preparer.prewarmed, cache.misses - misses, cache.hits

    prewarmed, new_misses, hits = platform.run(prewarm)
    assert prewarmed == 4 and new_misses == 0 and hits >= 4


def test_force_regenerate_renders_again(platform: Platform) -> None:
    creds = platform.tenant()
    steps = [{"op": "say", "text": "Forced render check.", "voice": "flite:slt"}]
    first = place(platform, creds, steps)
    assert wait_for(platform, first) == "ready"
    cache_dir = platform.settings.data_dir / "tts-cache"

    def stamps() -> dict[str, int]:
        # a hit only touches an entry (LRU); a render writes a new file in its place
        return {str(p): p.stat().st_ino for p in cache_dir.rglob("*") if p.is_file()}

    before = stamps()
    script = {"steps": [{"op": "dial", "to": "88880001"}, *steps, {"op": "hangup"}]}
    again = platform.http.post("/v1/calls", json={"script": script}, auth=auth(creds)).json()["id"]
    assert wait_for(platform, again) == "ready"
    assert stamps() == before  # a cache hit rewrites nothing
    forced = platform.http.post(
        "/v1/calls", json={"script": script | {}, "force_regenerate": True}, auth=auth(creds)
    )
    assert forced.status_code == 201, forced.text
    assert wait_for(platform, forced.json()["id"]) == "ready"
    after = stamps()
    rewritten = [p for p, t in after.items() if before.get(p) != t]
    assert len(rewritten) >= 2  # the sentence, in both codecs
