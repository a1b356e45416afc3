"""One delivery attempt over HTTP, and what counts as an acknowledgement."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

REDIRECTS = (307, 308)  # method-preserving; other 3xx are failures
MAX_REDIRECTS = 3


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


async def send_once(
    client: httpx.AsyncClient,
    *,
    fmt: str,
    url: str,
    content: bytes,
    headers: Mapping[str, str],
    response_cap: int,
    deadline: float,
    check_redirect: Callable[[str], Awaitable[str | None]],
) -> AttemptResult:
    """POST once (following allowed 307/308 redirects); read at most ``response_cap`` bytes."""
    started = time.perf_counter()

    def elapsed() -> float:
        return round((time.perf_counter() - started) * 1000, 3)

    try:
        async with asyncio.timeout(deadline):
            for _hop in range(MAX_REDIRECTS + 1):
                async with client.stream("POST", url, content=content, headers=headers) as resp:
                    head = bytearray()
                    async for chunk in resp.aiter_bytes():
                        head += chunk[: response_cap - len(head)]
                        if len(head) >= response_cap:
                            break
                    status = resp.status_code
                    location = resp.headers.get("location")
                if status in REDIRECTS and location:
                    nxt = urljoin(url, location)
                    reason = await check_redirect(nxt)
                    if reason is not None:
                        return AttemptResult(
                            False, status, None, f"redirect refused: {reason}", elapsed()
                        )
                    url = nxt
                    continue
                text = bytes(head).decode("utf-8", "replace")
                ok = acknowledged(fmt, status, bytes(head))
                error = None if ok else f"not acknowledged: HTTP {status}"
                return AttemptResult(ok, status, text, error, elapsed())
            return AttemptResult(False, None, None, "too many redirects", elapsed())
    except TimeoutError:
        return AttemptResult(False, None, None, f"attempt deadline {deadline:g}s passed", elapsed())
    except httpx.HTTPError as exc:
        return AttemptResult(False, None, None, _error_text(exc), elapsed())
