"""Huawei voice files: importVoiceFile/upload and queryVoiceNotificationRecording."""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from voxgate.api.bodies import read_fields, text
from voxgate.api.deps import services_of
from voxgate.api.dialects.huawei.auth import authenticate
from voxgate.api.dialects.huawei.calls import huawei
from voxgate.api.dialects.huawei.config import BAD_PARAM, done, fail, integer
from voxgate.api.dialects.huawei.envelope import HuaweiFailure
from voxgate.api.jsonresponse import json_response
from voxgate.errors import InvalidInput

router = APIRouter(include_in_schema=False)
LOCALES = {"zh_CN", "en_US", "pt_BR", "th_TH"}
FILE_TYPES = {"WAV", "MP3"}
UNDECODABLE = "7"


@router.post("/apiaccess/rest/cc-management/v1/importVoiceFile/upload")
@huawei
async def import_voice_file(request: Request) -> Response:
    services = services_of(request)
    caller = await authenticate(request, services)
    data = await read_fields(request, unwrap=True)
    raw = text(data, "fileInfo")
    if not raw:
        raise fail(BAD_PARAM, "fileInfo is required.")
    try:
        audio = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise fail(BAD_PARAM, "fileInfo is not Base64.") from None
    locale = text(data, "locale") or "en_US"
    if locale not in LOCALES:
        raise fail(BAD_PARAM, "locale must be zh_CN, en_US, pt_BR or th_TH.")
    voice_type = integer(data, "voiceType", default=3, hi=3)
    file_type = (text(data, "fileType") or "WAV").upper()
    if file_type not in FILE_TYPES:
        raise fail(BAD_PARAM, "fileType must be WAV or MP3.")
    name = text(data, "fileName") or text(data, "name") or f"voice-{int(time.time())}"
    try:
        stored = await services.voices.upload(
            tenant_id=caller.profile.id,
            name=name,
            data=audio,
            source="huawei",
            locale=locale,
            scene=str(voice_type),
        )
    except InvalidInput as exc:
        raise HuaweiFailure(UNDECODABLE, exc.message, key="returnCode") from None
    return done("upload success", {"voiceId": stored.id, "name": stored.name})


@router.post("/apiaccess/rest/voiceNotification/v1/queryVoiceNotificationRecording")
@huawei
async def query_recordings(request: Request) -> Response:
    services = services_of(request)
    caller = await authenticate(request, services)
    data = await read_fields(request, unwrap=True)
    offset = integer(data, "offset", default=0)
    limit = integer(data, "limit", default=100, lo=1, hi=100)
    kind = integer(data, "type", default=0, hi=2)
    items: list[dict[str, Any]] = []
    if kind == 0:
        rows = await services.voices.list(caller.profile.id, offset=offset, limit=limit)
        items = [
            {
                "tenant_id": r["tenant_id"],
                "uploaddate": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["created_at"])),
                "voice_id": r["id"],
                "name": r["name"],
                "voicecontent": "",
                "type": "0",
                "tenantSpaceName": caller.profile.tenant.name,
                "auditaccount": "system",
                "noReference": "0",
                "auditcomments": "",
                "auditdate": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["created_at"])),
                "scene": r["scene"],
                "uploadaccount": caller.app_key,
                "isUpdateRec": "0",
                "status": "1",
                "callbackTimes": 0,
            }
            for r in rows
        ]
    return json_response({"returnCode": "0", "description": "success", "voiceInfo": items})
