"""One delivery attempt over HTTP, and what counts as an acknowledgement.

Attempts go to httpcore, the connection layer of httpx, on voxgate's own asyncio network
backend (:mod:`voxgate.webhooks.network`), not through ``httpx.AsyncClient``: the client's
layers (cookie jar, auth, redirect machinery, default headers, content decoding, request and
response models) are all unused here or unwanted. Cookies set by one tenant's receiver must
not ride along to another's; redirects are followed below, after the target checks; and no
``Accept-Encoding`` is sent, so the capped response head is the receiver's own bytes.

Two connection pools: one for hosts the tenant trusts, which may connect anywhere, and one for
every other host, whose backend connects only to public addresses it resolved itself. A
connection in the second pool therefore never reaches a private address, whatever DNS says
later, and the two never share a connection.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import urljoin, urlsplit

import httpcore

from voxgate.webhooks import targets
from voxgate.webhooks.network import AsyncioBackend, TargetRefused

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
    url: str | None = None  # the last URL posted to (after redirects), None if none was


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


async def read_capped(response: httpcore.Response, cap: int) -> bytes:
    """At most ``cap`` bytes of the body; the rest is never read (the connection is dropped)."""
    head = b""
    try:
        async for chunk in response.aiter_stream():
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


def _pool(
    connections: int, backend: AsyncioBackend, ssl_context: ssl.SSLContext
) -> httpcore.AsyncConnectionPool:
    return httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=connections,
        max_keepalive_connections=connections,
        http1=True,
        http2=True,
        network_backend=backend,
    )


class Sender:
    """POSTs attempts through two connection pools; ``aclose`` closes their connections."""

    def __init__(
        self,
        *,
        trusted: httpcore.AsyncConnectionPool,
        public: httpcore.AsyncConnectionPool,
        timeouts: Timeouts,
        response_cap: int,
    ) -> None:
        self.trusted_pool = trusted
        self.public_pool = public
        self.timeouts = timeouts
        self.response_cap = response_cap
        self._extensions = {"timeout": timeouts.extension()}
        self._urls: dict[str, tuple[httpcore.URL, bytes]] = {}

    @classmethod
    def pooled(
        cls,
        *,
        connections: int,
        timeouts: Timeouts,
        response_cap: int,
        public_backend: AsyncioBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> Sender:
        """``public_backend`` replaces the one that connects to public addresses only, and
        ``ssl_context`` the system's certificate authorities (both for tests)."""
        public = public_backend or AsyncioBackend(allowed=targets.is_public)
        context = ssl_context or ssl.create_default_context()
        return cls(
            trusted=_pool(connections, AsyncioBackend(), context),
            public=_pool(connections, public, context),
            timeouts=timeouts,
            response_cap=response_cap,
        )

    async def aclose(self) -> None:
        await self.trusted_pool.aclose()
        await self.public_pool.aclose()

    def _target(self, url: str) -> tuple[httpcore.URL, bytes]:
        """The parsed URL and its ``Host`` header (httpcore's requests carry only the
        headers given)."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= URL_CACHE:
                self._urls.clear()
            host = urlsplit(url).netloc.rpartition("@")[2]
            parsed = self._urls[url] = (httpcore.URL(url), host.encode("idna"))
        return parsed

    async def _post(
        self,
        pool: httpcore.AsyncConnectionPool,
        url: str,
        content: bytes,
        headers: list[tuple[bytes, bytes]],
    ) -> tuple[int, str | None, bytes]:
        target, host = self._target(url)
        request = httpcore.Request(
            b"POST",
            target,
            headers=[(b"Host", host), *headers, (b"Content-Length", b"%d" % len(content))],
            content=content,
            extensions=self._extensions,
        )
        response = await pool.handle_async_request(request)
        location = None
        for name, value in response.headers:
            if name.lower() == b"location":
                location = value.decode("latin-1")
                break
        head = await read_capped(response, self.response_cap)
        return response.status, location, head

    async def send(
        self,
        *,
        fmt: str,
        url: str,
        content: bytes,
        headers: Mapping[str, str],
        trusted: Callable[[str], bool],
        check_redirect: Callable[[str], Awaitable[str | None]],
    ) -> AttemptResult:
        """POST once (following allowed 307/308 redirects); read at most ``response_cap``.

        ``trusted(url)`` says whether the tenant trusts the URL's host (its pool may connect
        to private addresses); ``check_redirect(url)`` why a redirect may not be followed."""
        posted: list[str] = []  # the URLs posted to, redirects included

        async def follow(url: str) -> AttemptResult:
            started = time.perf_counter()

            def elapsed() -> float:
                return round((time.perf_counter() - started) * 1000, 3)

            raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            deadline = self.timeouts.deadline
            try:
                async with asyncio.timeout(deadline):
                    for _hop in range(MAX_REDIRECTS + 1):
                        pool = self.trusted_pool if trusted(url) else self.public_pool
                        posted.append(url)
                        status, location, head = await self._post(pool, url, content, raw)
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
            except TargetRefused as exc:
                if len(posted) > 1:  # redirected: the first URL may answer otherwise next time
                    return AttemptResult(False, None, None, f"redirect refused: {exc}", elapsed())
                return AttemptResult(False, None, None, f"target refused: {exc}", elapsed(), True)
            except (
                httpcore.TimeoutException,
                httpcore.NetworkError,
                httpcore.ProtocolError,
            ) as exc:
                return AttemptResult(False, None, None, _error_text(exc), elapsed())
            except httpcore.UnsupportedProtocol as exc:
                return AttemptResult(False, None, None, _error_text(exc), elapsed(), True)
            except UnicodeError as exc:  # a host name the idna codec cannot encode
                return AttemptResult(False, None, None, f"bad host: {exc}", elapsed(), True)

        result = await follow(url)
        return replace(result, url=posted[-1]) if posted else result

    def __repr__(self) -> str:
        return f"<Sender cap={self.response_cap} deadline={self.timeouts.deadline:g}s>"
