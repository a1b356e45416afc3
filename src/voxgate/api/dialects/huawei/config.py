"""Huawei configuration APIs: called routes, skill queues and the IVR flow list.

These answer ``{"returnCode": "...", "description": "..."}``; codes beyond "0" are ours
where the vendor documents none (docs/dialects/huawei.md lists them).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from voxgate.api.bodies import read_fields, text
from voxgate.api.deps import services_of
from voxgate.api.dialects.huawei.auth import authenticate
from voxgate.api.dialects.huawei.calls import huawei
from voxgate.api.dialects.huawei.envelope import HuaweiFailure
from voxgate.api.jsonresponse import json_response
from voxgate.store import routing

router = APIRouter(include_in_schema=False)
BASE = "/apiaccess/rest/cc-management/v1"

BAD_PARAM, NO_ACCESS_CODE, NO_DEVICE, ROUTE_EXISTS, MEDIA_MISMATCH, NO_ROUTE = (
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
)
MEDIA_TYPES = {2, 5, 18, 19, 53}
# mediaTypeId of an access code / skill -> the route media types it accepts
COMPATIBLE = {5: {5, 19}, 19: {5, 19}, 53: {53}, 2: {2, 18}, 18: {2, 18}}


def fail(code: str, message: str) -> HuaweiFailure:
    return HuaweiFailure(code, message, key="returnCode")


def done(description: str, data: Any = None) -> Response:
    body: dict[str, Any] = {"returnCode": "0", "description": description}
    if data is not None:
        body["data"] = data
    return json_response(body)


def integer(
    data: dict[str, Any], key: str, *, default: int | None = None, lo: int = 0, hi: int = 2**53
) -> int:
    raw = data.get(key)
    if raw is None or raw == "":
        if default is None:
            raise fail(BAD_PARAM, f"{key} is required.")
        return default
    if isinstance(raw, bool):
        raise fail(BAD_PARAM, f"{key} must be an integer.")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise fail(BAD_PARAM, f"{key} must be an integer.") from None
    if isinstance(raw, float) and raw != value:
        raise fail(BAD_PARAM, f"{key} must be an integer.")
    if not lo <= value <= hi:
        raise fail(BAD_PARAM, f"{key} must be between {lo} and {hi}.")
    return value


def short_text(data: dict[str, Any], key: str, limit: int, *, required: bool) -> str:
    value = text(data, key)
    if value is None or value == "":
        if required:
            raise fail(BAD_PARAM, f"{key} is required.")
        return ""
    if len(value) > limit:
        raise fail(BAD_PARAM, f"{key} exceeds {limit} characters.")
    return value


def paging(data: dict[str, Any]) -> tuple[int, int]:
    return integer(data, "offset", default=0), integer(data, "limit", default=100, lo=1, hi=100)


@router.post(f"{BASE}/calledRoute/createCalledRoute")
@huawei
async def create_called_route(request: Request) -> Response:
    services = services_of(request)
    caller = await authenticate(request, services)
    data = await read_fields(request, unwrap=True)
    access_code = short_text(data, "accessCode", 32, required=True)
    ext_code = short_text(data, "extCode", 12, required=False)
    if ext_code and not ext_code.isdigit():
        raise fail(BAD_PARAM, "extCode must be digits.")
    media = integer(data, "mediaTypeId", default=5)
    if media not in MEDIA_TYPES:
        raise fail(BAD_PARAM, "mediaTypeId must be 2, 5, 18, 19 or 53.")
    device_type = integer(data, "devicetype")
    if device_type not in (1, 3):
        raise fail(BAD_PARAM, "devicetype must be 1 (skill queue) or 3 (IVR).")
    device_id = integer(data, "deviceId")
    if access_code not in caller.profile.access_codes:
        raise fail(NO_ACCESS_CODE, "The access code does not exist.")
    if device_type == 3 and media == 53:
        raise fail(MEDIA_MISMATCH, "The IVR flow cannot be selected for the multimedia channel.")
    async with services.db.begin() as conn:
        device = await routing.device_exists(conn, caller.profile.id, device_type, device_id)
        if device is None:
            raise fail(NO_DEVICE, "The skill queue or IVR flow does not exist.")
        if device_type == 1 and media not in COMPATIBLE.get(device["media_type_id"], {media}):
            raise fail(MEDIA_MISMATCH, "mediaTypeId does not match the skill queue's media type.")
        if await routing.route_exists(conn, caller.profile.id, access_code, ext_code):
            raise fail(ROUTE_EXISTS, "The access code and extended code are already bound.")
        await routing.insert_route(
            conn,
            tenant_id=caller.profile.id,
            access_code=access_code,
            ext_code=ext_code,
            media_type_id=media,
            device_type=device_type,
            device_id=device_id,
            created_at=time.time(),
        )
    return done("data create success")


def _route_json(row: dict[str, Any], device_desc: str) -> dict[str, Any]:
    return {
        "extCode": row["ext_code"],
        "editable": 1,
        "accessCode": row["access_code"],
        "dnid": str(row["id"]),
        "id": str(row["id"]),
        "deviceId": str(row["device_id"]),
        "devicetype": str(row["device_type"]),
        "deviceDesc": device_desc,
        "mediatypeId": str(row["media_type_id"]),
    }


@router.post(f"{BASE}/calledRoute/queryCalledRoute")
@huawei
async def query_called_route(request: Request) -> Response:
    services = services_of(request)
    caller = await authenticate(request, services)
    data = await read_fields(request, unwrap=True)
    offset, limit = paging(data)
    filters: dict[str, Any] = {}
    for key, column in (("accessCode", "access_code"), ("extCode", "ext_code")):
        value = text(data, key)
        if value:
            filters[column] = value
    for key, column in (("devicetype", "device_type"), ("mediaTypeId", "media_type_id")):
        if data.get(key) not in (None, ""):
            filters[column] = integer(data, key)
    desc_filter = (text(data, "deviceDesc") or "").lower()
    async with services.db.connect() as conn:
        total, rows = await routing.query_routes(
            conn, caller.profile.id, filters=filters, offset=offset, limit=limit
        )
        out = []
        for row in rows:
            device = await routing.device_exists(
                conn, caller.profile.id, row["device_type"], row["device_id"]
            )
            name = device["name"] if device else ""
            if desc_filter and desc_filter not in name.lower():
                continue
            out.append(_route_json(row, name))
    if desc_filter:
        total = len(out)
    return done("query success", {"total": total, "calledRouteList": out})


@router.post(f"{BASE}/calledRoute/modifyCalledRoute")
@huawei
async def modify_called_route(request: Request) -> Response:
    services = services_of(request)
    caller = await authenticate(request, services)
    data = await read_fields(request, unwrap=True)
    route_id = integer(data, "id")
    device_type = integer(data, "devicetype")
    if device_type not in (1, 3):
        raise fail(BAD_PARAM, "devicetype must be 1 (skill queue) or 3 (IVR).")
    device_id = integer(data, "deviceId")
    async with services.db.begin() as conn:
        route = await routing.get_route(conn, caller.profile.id, route_id)
        if route is None:
            raise fail(NO_ROUTE, "The called route does not exist.")
        if await routing.device_exists(conn, caller.profile.id, device_type, device_id) is None:
            raise fail(NO_DEVICE, "The skill queue or IVR flow does not exist.")
        if device_type == 3 and route["media_type_id"] == 53:
            raise fail(
                MEDIA_MISMATCH, "The IVR flow cannot be selected for the multimedia channel."
            )
        await routing.update_route(conn, route_id, device_type=device_type, device_id=device_id)
    return done("data update success")


@router.post(f"{BASE}/calledRoute/deleteCalledRoute")
@huawei
async def delete_called_route(request: Request) -> Response:
    services = services_of(request)
    caller = await authenticate(request, services)
    data = await read_fields(request, unwrap=True)
    raw = text(data, "dnids")
    if not raw:
        raise fail(BAD_PARAM, "dnids is required.")
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts or len(parts) > 1000 or not all(p.isdigit() for p in parts):
        raise fail(BAD_PARAM, "dnids must be up to 1000 comma-separated ids.")
    ids = sorted({int(p) for p in parts})
    async with services.db.begin() as conn:
        deleted = await routing.delete_routes(conn, caller.profile.id, ids)
    content = f"Success:{deleted},Failed:{len(parts) - deleted}"
    return done("data delete success", {"id": raw, "name": "calledRoute", "content": content})


@router.post(f"{BASE}/skill/createSkill")
@huawei
async def create_skill(request: Request) -> Response:
    services = services_of(request)
    caller = await authenticate(request, services)
    data = await read_fields(request, unwrap=True)
    name = short_text(data, "name", 100, required=True)
    description = short_text(data, "description", 50, required=False)
    media = integer(data, "mediaTypeId", default=5)
    if media not in MEDIA_TYPES:
        raise fail(BAD_PARAM, "mediaTypeId must be 2, 5, 18, 19 or 53.")
    wait_time = integer(data, "maxWaitTime", default=60, hi=60000)
    wait_num = integer(data, "maxWaitNum", default=100, hi=10000)
    wrapup = integer(data, "maxAgentWrapupTime", default=0, hi=3600)
    params = data.get("skillParam") or {}
    if not isinstance(params, dict):
        raise fail(BAD_PARAM, "skillParam must be an object.")
    async with services.db.begin() as conn:
        if await routing.skill_name_taken(conn, caller.profile.id, name):
            raise fail(ROUTE_EXISTS, "A skill queue with this name exists.")
        skill_id = await routing.insert_skill(
            conn,
            tenant_id=caller.profile.id,
            name=name,
            description=description,
            media_type_id=media,
            max_wait_time=wait_time,
            max_wait_num=wait_num,
            params={**params, "maxAgentWrapupTime": wrapup},
            created_at=time.time(),
        )
    return done("data create success", {"skillId": str(skill_id)})


@router.post(f"{BASE}/skill/querySkills")
@huawei
async def query_skills(request: Request) -> Response:
    services = services_of(request)
    caller = await authenticate(request, services)
    data = await read_fields(request, unwrap=True)
    offset, limit = paging(data)
    async with services.db.connect() as conn:
        total, rows = await routing.list_skills(conn, caller.profile.id, offset=offset, limit=limit)
    skills = [
        {
            "skillId": str(r["id"]),
            "name": r["name"],
            "description": r["description"],
            "mediaTypeId": r["media_type_id"],
            "maxWaitTime": r["max_wait_time"],
            "maxWaitNum": r["max_wait_num"],
        }
        for r in rows
    ]
    return done("query success", {"total": total, "skills": skills})


@router.post(f"{BASE}/skill/deleteSkill")
@huawei
async def delete_skill(request: Request) -> Response:
    services = services_of(request)
    caller = await authenticate(request, services)
    data = await read_fields(request, unwrap=True)
    raw = data.get("skillIds")
    items = raw if isinstance(raw, list) else str(raw or "").split(",")
    ids = [str(i).strip() for i in items if str(i).strip()]
    if not ids or len(ids) > 10 or not all(i.isdigit() for i in ids):
        raise fail(BAD_PARAM, "skillIds must be 1 to 10 skill ids.")
    async with services.db.begin() as conn:
        deleted = await routing.delete_skills(conn, caller.profile.id, [int(i) for i in ids])
    return done(
        "data delete success", {"content": f"Success:{deleted},Failed:{len(ids) - deleted}"}
    )


@router.post(f"{BASE}/ivrFlow/queryIVRFlowList")
@huawei
async def query_ivr_flows(request: Request) -> Response:
    services = services_of(request)
    caller = await authenticate(request, services)
    data = await read_fields(request, unwrap=True)
    offset, limit = paging(data)
    async with services.db.connect() as conn:
        total, rows = await routing.list_ivr_flows(
            conn, caller.profile.id, offset=offset, limit=limit
        )
    flows = [{"flowId": str(r["id"]), "flowName": r["name"], "status": "1"} for r in rows]
    return done("query success", {"total": total, "ivrFlowList": flows})
