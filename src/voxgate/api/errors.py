"""The one place where errors become HTTP answers, in the dialect the path belongs to."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from voxgate.api.dialects.huawei.envelope import gateway_error
from voxgate.api.dialects.nxcloud import envelope as nxcloud_envelope
from voxgate.api.dialects.sipcall import envelope as sipcall_envelope
from voxgate.api.jsonresponse import json_response
from voxgate.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    VoxgateError,
)

log = logging.getLogger(__name__)

STATUS_OF: dict[type[VoxgateError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
}

HUAWEI_PREFIXES = ("/apiaccess/", "/apigovernance/")
NXCLOUD_PREFIXES = ("/api/voiceSms/",)
SIPCALL_PATHS = ("/", "/sipcall", "/sipcall/")


def problem(status: int, error_id: str, detail: str, **extra: object) -> Response:
    body = {"type": f"about:blank#{error_id}", "title": error_id, "status": status}
    body["detail"] = detail
    body["error_id"] = error_id
    body.update(extra)
    resp = json_response(body, status_code=status)
    resp.headers["content-type"] = "application/problem+json"
    return resp


def http_error(request: Request, status: int, detail: str) -> Response:
    """A plain HTTP error (unknown path, wrong method, crash) in the path's dialect."""
    path = request.url.path
    if path.startswith(HUAWEI_PREFIXES):
        return gateway_error(status)
    if path.startswith(NXCLOUD_PREFIXES):
        return nxcloud_envelope.http_error(status, detail)
    if path in SIPCALL_PATHS:
        return sipcall_envelope.http_error(status, detail)
    return problem(status, "http_error", detail)


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return http_error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return problem(422, "invalid_request", "The request does not validate.", errors=errors)

    @app.exception_handler(VoxgateError)
    async def _domain(request: Request, exc: VoxgateError) -> Response:
        status = next((s for t, s in STATUS_OF.items() if isinstance(exc, t)), 500)
        return problem(status, exc.error_id, exc.message)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception(
            "unhandled error", extra={"action": "http_unhandled", "path": request.url.path}
        )
        return http_error(request, 500, "Internal error.")
