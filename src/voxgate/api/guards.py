"""Pure ASGI guards applied before any route: requests no store could keep are refused."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from voxgate.api.errors import http_error


class RejectNul:
    """A NUL character in the path or query string gets a 400 in the path's dialect."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope.get("path", "")
            query: bytes = scope.get("query_string", b"")
            if "\x00" in path or b"%00" in query or b"\x00" in query:
                response = http_error(Request(scope), 400, "NUL characters are not allowed")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
