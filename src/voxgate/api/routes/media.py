"""Native API v1: the tenant's voice files (upload, list, read back).

An upload is decoded once (WAV, MP3, OGG, M4A, FLAC) and stored as 8 kHz audio; its ``id``
goes in a call script's ``play`` step (``{"op": "play", "file_id": …}``), its ``name`` is what
PhalApi ``voicefile`` (``voicetype=1``) refers to, and its ``url`` may be given wherever a
dialect takes an audio URL: it names the file on this server and is never fetched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response

from voxgate.api.auth_native import NativeCaller, native_caller
from voxgate.api.deps import services_of
from voxgate.api.schemas import from_epoch, problem_responses
from voxgate.dispatch.urls import media_url
from voxgate.errors import InvalidInput, NotFound
from voxgate.store import voicefiles as repo
from voxgate.voicefiles.service import MAX_UPLOAD_BYTES

router = APIRouter(prefix="/v1/media", tags=["media"])

MAX_PAGE = 100
MULTIPART_OVERHEAD = 64 * 1024
VOICE_ID = r"^[0-9]{16}$"
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class MediaNotFound(NotFound):
    """No such voice file."""

    error_id = "media_not_found"


class MediaTooLarge(InvalidInput):
    """The upload is larger than 8 MB."""

    error_id = "media_too_large"


class MediaFile(BaseModel):
    """A voice file of the tenant, stored as 8 kHz audio."""

    id: str = Field(description="The voice file's id: play it with a play step's file_id.")
    name: str = Field(description="Its name: what PhalApi voicefile (voicetype 1) refers to.")
    duration_ms: int = Field(ge=0, description="Length of the stored audio.")
    source: str = Field(description="How it arrived: native, huawei, nxcloud or url.")
    url: str = Field(description="The file's URL on this server, usable as an audio URL.")
    created_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any], public_url: str) -> MediaFile:
        return cls(
            id=row["id"],
            name=row["name"],
            duration_ms=row["duration_ms"],
            source=row["source"],
            url=media_url(public_url, row["id"]),
            created_at=from_epoch(row["created_at"]),
        )


class MediaPage(BaseModel):
    items: list[MediaFile]
    next_offset: int | None = Field(description="offset of the next page; null on the last.")


VoiceId = Annotated[str, Path(pattern=VOICE_ID, description="The voice file's id (16 digits).")]

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string", "maxLength": 255},
                    },
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise MediaTooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise MediaTooLarge()
    return bytes(body)


async def _replay(body: bytes) -> AsyncGenerator[bytes, None]:
    yield body


async def _multipart(request: Request, body: bytes) -> tuple[bytes, str | None]:
    parser = MultiPartParser(request.headers, _replay(body), max_files=1, max_fields=8)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidInput(f"the multipart body cannot be parsed: {exc.message}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("send the audio as the multipart field 'file'", field="file")
    data = await upload.read()
    await form.close()
    name = form.get("name")
    return data, (name if isinstance(name, str) and name.strip() else upload.filename)


@router.post(
    "",
    status_code=201,
    response_model=MediaFile,
    summary="Upload a voice file",
    responses=problem_responses(400, 401, 403, 422),
    openapi_extra=UPLOAD_BODY,
)
async def upload_media(
    request: Request,
    caller: Annotated[NativeCaller, Depends(native_caller)],
    name: Annotated[
        str | None,
        Query(min_length=1, max_length=255, description="The file's name (raw-body uploads)."),
    ] = None,
) -> Response:
    """Upload audio as multipart ``file`` (with an optional ``name`` field), or as the raw body.

    WAV, MP3, OGG, M4A or FLAC up to 8 MB and 10 minutes; the content is sniffed, the
    declared type ignored. The name defaults to the multipart file name, else ``upload``.
    """
    services = services_of(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded":
        raise InvalidInput("send the audio as multipart/form-data or as the raw body")
    body = await _read_capped(request, MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD)
    filename: str | None = None
    if ctype == "multipart/form-data":
        body, filename = await _multipart(request, body)
    if len(body) > MAX_UPLOAD_BYTES:
        raise MediaTooLarge()
    stored = await services.voices.upload(
        tenant_id=caller.tenant_id,
        name=name or filename or "upload",
        data=body,
        source="native",
    )
    async with services.db.connect() as conn:
        row = await repo.by_id(conn, caller.tenant_id, stored.id)
    assert row is not None
    media = MediaFile.from_row(row, services.settings.public_url)
    return Response(
        media.model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"/v1/media/{stored.id}"},
    )


@router.get(
    "",
    response_model=MediaPage,
    summary="List voice files",
    responses=problem_responses(401, 403, 422),
)
async def list_media(
    request: Request,
    caller: Annotated[NativeCaller, Depends(native_caller)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Files to skip.")] = 0,
) -> MediaPage:
    """The tenant's voice files, oldest first, from every API (uploads and fetched URLs)."""
    services = services_of(request)
    rows = await services.voices.list(caller.tenant_id, offset=offset, limit=limit + 1)
    public = services.settings.public_url
    return MediaPage(
        items=[MediaFile.from_row(r, public) for r in rows[:limit]],
        next_offset=offset + limit if len(rows) > limit else None,
    )


async def _file(request: Request, caller: NativeCaller, voice_id: str) -> dict[str, Any]:
    async with services_of(request).db.connect() as conn:
        row = await repo.by_id(conn, caller.tenant_id, voice_id)
    if row is None or row["status"] != "approved":
        raise MediaNotFound()
    return row


@router.get(
    "/{voice_id}",
    response_model=MediaFile,
    summary="Get a voice file",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_media(
    request: Request, voice_id: VoiceId, caller: Annotated[NativeCaller, Depends(native_caller)]
) -> MediaFile:
    row = await _file(request, caller, voice_id)
    return MediaFile.from_row(row, services_of(request).settings.public_url)


@router.get(
    "/{voice_id}/audio",
    summary="Download a voice file",
    response_class=Response,
    responses={
        200: {"content": {"audio/wav": {}}, "description": "8 kHz 16-bit mono WAV."},
        **problem_responses(401, 403, 404, 422),
    },
)
async def get_media_audio(
    request: Request, voice_id: VoiceId, caller: Annotated[NativeCaller, Depends(native_caller)]
) -> Response:
    """The stored audio as callees hear it before G.711: 8 kHz 16-bit mono WAV."""
    row = await _file(request, caller, voice_id)
    path = services_of(request).voices.path_of(row["sha256"])
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise MediaNotFound("the voice file's audio is missing") from None
    return Response(data, media_type="audio/wav")
