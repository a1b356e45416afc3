"""PhalApi answers: ``{"ret", "data", "msg"}``, always HTTP 200 from the dialect itself.

``ret`` is the framework's verdict (200 handled; 400 bad request; 600-604 authorisation);
``data.status`` is the business verdict (0 done, 1 refused with ``data.errors``).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import Response

from voxgate.api.jsonresponse import json_response

RET_MESSAGES = {
    400: "Illegal request",
    500: "Internal server error",
    600: "The token is invalid or has expired",
    601: "The appid is not authorised",
    602: "The appid has expired",
    603: "The module is not authorised",
    604: "The IP address is not allowed",
}

CODE_MESSAGES = {
    1001: "Connect failure",
    1002: "Validation failure",
    1003: "Operation failure",
    1029: "The file does not exist",
}


class PhalApiError(Exception):
    """A request the framework refuses: ``ret`` other than 200, ``data`` empty."""

    def __init__(self, ret: int, detail: str | None = None) -> None:
        self.ret = ret
        base = RET_MESSAGES.get(ret, RET_MESSAGES[400])
        self.msg = f"{base}: {detail}" if detail else base
        super().__init__(self.msg)


class BusinessFailure(Exception):
    """A handled request that failed: ``data.status`` 1 with ``data.errors``."""

    def __init__(self, code: int, detail: str | None = None) -> None:
        self.code = code
        base = CODE_MESSAGES.get(code, CODE_MESSAGES[1003])
        self.codemsg = f"{base}: {detail}" if detail else base
        super().__init__(self.codemsg)


def _envelope(data: Any, ret: int = 200, msg: str = "", status_code: int = 200) -> Response:
    return json_response({"ret": ret, "data": data, "msg": msg}, status_code=status_code)


def ok(desc: str, reqtime: int, result: dict[str, Any] | None = None) -> Response:
    data: dict[str, Any] = {"status": 0, "desc": desc}
    if result is not None:
        data["result"] = result
    data["reqtime"] = reqtime
    data["rsptime"] = int(time.time())
    return _envelope(data)


def business_failure(exc: BusinessFailure, reqtime: int) -> Response:
    return _envelope(
        {
            "status": 1,
            "desc": exc.codemsg,
            "errors": {"code": exc.code, "codemsg": exc.codemsg},
            "reqtime": reqtime,
            "rsptime": int(time.time()),
        }
    )


def refused(exc: PhalApiError) -> Response:
    # PhalApi leaves ``data`` as an empty PHP array, which encodes as [].
    return _envelope([], ret=exc.ret, msg=exc.msg)


def http_error(status: int, detail: str) -> Response:
    """Wrong method or a crash on the PhalApi endpoint: ret 400 / 500, HTTP status kept."""
    ret = 500 if status >= 500 else 400
    return _envelope([], ret=ret, msg=f"{RET_MESSAGES[ret]}: {detail}", status_code=status)
