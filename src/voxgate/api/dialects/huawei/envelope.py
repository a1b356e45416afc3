"""Huawei answers: business results as 200 + retCode (always a string); gateway errors."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from voxgate.api.jsonresponse import json_response

GATEWAY_ERRORS = {
    400: ("APIGW.0101", "Incorrect request. Check the request path and parameters."),
    401: ("APIGW.0305", "Unauthorized operation. The tenant is suspended or not subscribed."),
    403: ("APIGW.0301", "Authentication fails."),
    404: ("APIGW.0101", "The requested content is not found. Check the request path."),
    405: ("APIGW.0101", "The request method is not supported."),
    500: ("APIGW.0203", "Business failure. Internal error."),
}


class HuaweiFailure(Exception):
    """A business failure answered as HTTP 200 with a non-zero retCode."""

    def __init__(self, code: str | int, message: str, *, key: str = "retCode") -> None:
        super().__init__(message)
        self.code = str(code)
        self.message = message
        self.key = key


def ok(result: dict[str, Any] | None, message: str) -> Response:
    body: dict[str, Any] = {}
    if result is not None:
        body["result"] = result
    body["retCode"] = "0"
    body["retMsg"] = message
    return json_response(body)


def failure(exc: HuaweiFailure) -> Response:
    if exc.key == "returnCode":
        return json_response({"returnCode": exc.code, "description": exc.message})
    return json_response({"retCode": exc.code, "retMsg": exc.message})


def gateway_error(status: int, detail: str | None = None) -> Response:
    code, message = GATEWAY_ERRORS.get(status, GATEWAY_ERRORS[500])
    return json_response({"error_code": code, "error_msg": detail or message}, status_code=status)
