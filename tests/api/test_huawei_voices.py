"""Huawei voice files: upload once, list, and use in voiceContent."""

from __future__ import annotations

import base64
import io
import wave

import numpy as np

from tests.support.harness import Platform

BASE = "/apiaccess/rest"


def tone_wav(rate: int = 16000, seconds: float = 0.5) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def test_upload_list_and_play(platform: Platform) -> None:
    creds = platform.tenant()
    h = platform.huawei_headers(creds)
    up = platform.http.post(
        BASE + "/cc-management/v1/importVoiceFile/upload",
        json={
            "fileInfo": base64.b64encode(tone_wav()).decode(),
            "locale": "en_US",
            "voiceType": 3,
            "fileType": "WAV",
            "fileName": "welcome",
        },
        headers=h,
    ).json()
    assert up["returnCode"] == "0", up
    voice_id = up["data"]["voiceId"]
    listed = platform.http.post(
        BASE + "/voiceNotification/v1/queryVoiceNotificationRecording",
        json={"offset": 0, "limit": 10, "type": 0},
        headers=h,
    ).json()
    assert listed["returnCode"] == "0"
    assert [v["voice_id"] for v in listed["voiceInfo"]] == [voice_id]
    assert listed["voiceInfo"][0]["name"] == "welcome"
    notify = platform.http.post(
        BASE + "/voiceNotification/v1/createVoiceNotification",
        json={"voiceContent": f"{voice_id}~$thank you$", "called": "88880000"},
        headers=h,
    ).json()
    assert notify["retCode"] == "0", notify
    # another tenant neither sees nor can play it
    other = platform.tenant()
    ho = platform.huawei_headers(other)
    assert (
        platform.http.post(
            BASE + "/voiceNotification/v1/queryVoiceNotificationRecording", json={}, headers=ho
        ).json()["voiceInfo"]
        == []
    )
    assert (
        platform.http.post(
            BASE + "/voiceNotification/v1/createVoiceNotification",
            json={"voiceContent": voice_id, "called": "88880000"},
            headers=ho,
        ).json()["retCode"]
        == "8"
    )


def test_upload_refuses_bad_input(platform: Platform) -> None:
    creds = platform.tenant()
    h = platform.huawei_headers(creds)
    path = BASE + "/cc-management/v1/importVoiceFile/upload"
    cases = [
        ({}, "1"),
        ({"fileInfo": "!!!"}, "1"),
        ({"fileInfo": base64.b64encode(tone_wav()).decode(), "locale": "xx"}, "1"),
        ({"fileInfo": base64.b64encode(tone_wav()).decode(), "fileType": "OGG"}, "1"),
        ({"fileInfo": base64.b64encode(b"not audio at all" * 10).decode()}, "7"),
    ]
    for body, code in cases:
        r = platform.http.post(path, json=body, headers=h)
        assert r.status_code == 200
        assert r.json()["returnCode"] == code, (body, r.text)
