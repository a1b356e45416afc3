"""One delivery attempt over HTTP, and what counts as an acknowledgement.

Attempts go straight to an httpx transport (its connection pool), not through
``httpx.AsyncClient``: the client's layers (cookie jar, auth, redirect machinery, default
headers, content decoding) are all unused here or unwanted. Cookies set by one tenant's
receiver must not ride along to another's; redirects are followed below, after the target
checks; and no ``Accept-Encoding`` is sent, so the capped response head is the receiver's
own bytes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

REDIRECTS = (307, 308)  # method-preserving; other 3xx are failures
MAX_REDIRECTS = 3
URL_CACHE = 1024  # parsed URLs kept per sender


@dataclass(frozen=True, slots=True)
class AttemptResult:
    ok: bool
    status_code: int | None
    response_head: str | None
    error: str | None
    latency_ms: float
    permanent: bool = False  # no later attempt can succeed (the target is refused)


def acknowledged(fmt: str, status: int, body: bytes) -> bool:
    """2xx, and for the NXCloud DR a body of ``success`` (the vendor's acknowledgement)."""
    if not 200 <= status < 300:
        return False
    if fmt == "nxcloud.dr":
        return body.strip().lower() == b"success"
    return True


def _error_text(exc: BaseException) -> str:
    name = type(exc).__name__
    return f"{name}: {exc}" if str(exc) else name


async def read_capped(response: httpx.Response, cap: int) -> bytes:
    """At most ``cap`` bytes of the body; the rest is never read (the connection is dropped)."""
    stream = response.stream
    assert isinstance(stream, httpx.AsyncByteStream)
    head = b""
    try:
        async for chunk in stream:
            head += chunk[: cap - len(head)]
            if len(head) >= cap:
                break
    finally:
        await response.aclose()
    return head


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float
    read: float
    deadline: float  # the whole attempt, redirects included

    def extension(self) -> dict[str, float]:
        # waiting for a pooled connection is bounded by the deadline alone
        return {
            "connect": self.connect,
            "read": self.read,
            "write": self.read,
            "pool": self.deadline,
        }


class Sender:
    """POSTs attempts through one transport; ``aclose`` closes its connections."""

    def __init__(
        self, transport: httpx.AsyncBaseTransport, *, timeouts: Timeouts, response_cap: int
    ) -> None:
        self.transport = transport
        self.timeouts = timeouts
        self.response_cap = response_cap
        self._extensions = {"timeout": timeouts.extension()}
        self._urls: dict[str, httpx.URL] = {}

    @classmethod
    def pooled(cls, *, connections: int, timeouts: Timeouts, response_cap: int) -> Sender:
        transport = httpx.AsyncHTTPTransport(
            http2=True,
            trust_env=False,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        return cls(transport, timeouts=timeouts, response_cap=response_cap)

    async def aclose(self) -> None:
        await self.transport.aclose()

    def _url(self, url: str) -> httpx.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= URL_CACHE:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    async def _post(
        self, url: str, content: bytes, headers: Mapping[str, str]
    ) -> tuple[int, str | None, bytes]:
        request = httpx.Request(
            "POST", self._url(url), content=content, headers=headers, extensions=self._extensions
        )
        response = await self.transport.handle_async_request(request)
        location = response.headers.get("location")
        head = await read_capped(response, self.response_cap)
        return response.status_code, location, head

    async def send(
        self,
        *,
        fmt: str,
        url: str,
        content: bytes,
        headers: Mapping[str, str],
        check_redirect: Callable[[str], Awaitable[str | None]],
    ) -> AttemptResult:
        """POST once (following allowed 307/308 redirects); read at most ``response_cap``."""
        started = time.perf_counter()

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000, 3)

        deadline = self.timeouts.deadline
        try:
            async with asyncio.timeout(deadline):
                for _hop in range(MAX_REDIRECTS + 1):
                    status, location, head = await self._post(url, content, headers)
                    if status in REDIRECTS and location:
                        nxt = urljoin(url, location)
                        reason = await check_redirect(nxt)
                        if reason is not None:
                            return AttemptResult(
                                False, status, None, f"redirect refused: {reason}", elapsed()
                            )
                        url = nxt
                        continue
                    text = head.decode("utf-8", "replace")
                    ok = acknowledged(fmt, status, head)
                    error = None if ok else f"not acknowledged: HTTP {status}"
                    return AttemptResult(ok, status, text, error, elapsed())
                return AttemptResult(False, None, None, "too many redirects", elapsed())
        except TimeoutError:
            return AttemptResult(
                False, None, None, f"attempt deadline {deadline:g}s passed", elapsed()
            )
        except httpx.HTTPError as exc:
            return AttemptResult(False, None, None, _error_text(exc), elapsed())

    def __repr__(self) -> str:
        return f"<Sender cap={self.response_cap} deadline={self.timeouts.deadline:g}s>"
