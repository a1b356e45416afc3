"""Request bodies as vendors send them: JSON, urlencoded or multipart, flat or wrapped."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request

from voxgate.errors import InvalidInput

WRAPPERS = ("reqBody", "requestBody")
MAX_BODY = 12 * 1024 * 1024


class MalformedBody(InvalidInput):
    """The request body cannot be read."""

    error_id = "malformed_body"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def reject_nul(data: dict[str, Any]) -> dict[str, Any]:
    """No text field may carry a NUL character: no store keeps one and no vendor sends one."""
    if _has_nul(data):
        raise MalformedBody("text fields must not contain NUL characters")
    return data


def _unwrap(data: dict[str, Any]) -> dict[str, Any]:
    for key in WRAPPERS:
        inner = data.get(key)
        if isinstance(inner, str) and inner.strip().startswith("{"):
            try:
                inner = orjson.loads(inner)
            except orjson.JSONDecodeError:
                raise MalformedBody(f"{key} is not valid JSON") from None
        if isinstance(inner, dict):
            rest = {k: v for k, v in data.items() if k != key}
            return {**rest, **inner}
    return data


async def read_fields(request: Request, *, unwrap: bool = False) -> dict[str, Any]:
    """The body's fields as a flat dict. Uploads become bytes."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form(max_part_size=MAX_BODY)
        except Exception as exc:  # multipart parser errors come in many types
            raise MalformedBody(f"form body cannot be parsed: {exc}") from None
        data: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                data[key] = await value.read()
            else:
                data[key] = value
        return reject_nul(_unwrap(data) if unwrap else data)
    raw = await request.body()
    if not raw.strip():
        return {}
    if len(raw) > MAX_BODY:
        raise MalformedBody("request body too large")
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedBody("request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise MalformedBody("request body must be a JSON object")
    return reject_nul(_unwrap(parsed) if unwrap else parsed)


def text(data: dict[str, Any], key: str) -> str | None:
    """A field as a string: numbers are accepted as their text, null as absent."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    return None
