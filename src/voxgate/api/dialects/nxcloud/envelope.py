"""NXCloud answers: JSON with a string ``code``; a ``messageid`` only when accepted."""

from __future__ import annotations

from starlette.responses import Response

from voxgate.api.jsonresponse import json_response

OK_TEXT = "Request succeeded"

# The documented codes and the text voxgate answers with (``result``).
MESSAGES = {
    "1": "Application unavailable or key error",
    "2": "Parameter error or empty",
    "3": "Insufficient balance",
    "4": "Content is empty or contains illegal keywords",
    "5": "Content is too long",
    "6": "Invalid phone number",
    "7": "More than 100 numbers",
    "10": "Content must be UTF-8 encoded",
    "13": "Application does not exist",
    "20": "Voice file URL does not exist or cannot be used",
    "21": "Show number error",
    "23": "Country code error",
    "24": "No callee number",
    "26": "Same phone number and content within 5 minutes",
    "29": "Task time is in the past",
    "31": "Task time zone is empty",
    "77": "File error",
    "88": "Request error",
    "99": "System error",
    "101": "Feature disabled",
    "102": "Account disabled",
    "103": "Emoji not supported",
}


class NxFailure(Exception):
    """A refused request, answered as HTTP 200 with a non-zero ``code``."""

    def __init__(self, code: int, detail: str | None = None) -> None:
        self.code = str(code)
        self.result = MESSAGES.get(self.code, "Request error")
        if detail:
            self.result = f"{self.result}: {detail}"
        super().__init__(self.result)


def accepted(messageid: str) -> Response:
    return json_response({"result": OK_TEXT, "messageid": messageid, "code": "0"})


def uploaded(url: str) -> Response:
    """uploadVoiceFile's answer: ``code`` "success" and the file's URL in ``info``."""
    return json_response({"code": "success", "info": url})


def failure(exc: NxFailure) -> Response:
    return json_response({"result": exc.result, "code": exc.code})


def http_error(status: int, detail: str) -> Response:
    """Unknown path, wrong method or a crash, in NXCloud's shape (88 request / 99 system)."""
    code = "99" if status >= 500 else "88"
    return json_response({"result": detail, "code": code}, status_code=status)
