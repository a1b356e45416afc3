"""A real HTTP webhook receiver (uvicorn in a thread) that records what it is sent.

Each test uses its own path prefix. What the receiver answers is scripted per path: a queue of
``Reply`` objects, then the default (200 ``success``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from tests.support.server import serving


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"success"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    def __init__(self) -> None:
        self.base_url = ""
        self.requests: list[Received] = []
        self.scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self.lock = threading.Lock()
        self.active: dict[str, int] = defaultdict(int)
        self.max_active: dict[str, int] = defaultdict(int)

    def script(self, path: str, *replies: Reply) -> None:
        with self.lock:
            self.scripts[path].extend(replies)

    def received(self, prefix: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def wait_for(self, prefix: str, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(prefix)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{prefix}: {len(self.received(prefix))} requests, wanted {count}")

    async def __call__(self, scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        if scope["type"] != "http":
            return
        request = Request(scope, receive)  # type: ignore[arg-type]
        try:
            body = await request.body()
        except ClientDisconnect:  # the sender died mid-request (the crash test)
            return
        path = request.url.path
        with self.lock:
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.requests.append(Received(path, headers, body, time.time()))
            queue = self.scripts.get(path)
            reply = queue.popleft() if queue else Reply()
            group = "/".join(path.split("/")[:3])
            self.active[group] += 1
            self.max_active[group] = max(self.max_active[group], self.active[group])
        try:
            if reply.delay:
                await asyncio.sleep(reply.delay)
        finally:
            with self.lock:
                self.active[group] -= 1
        response = Response(reply.body, status_code=reply.status, headers=reply.headers)
        await response(scope, receive, send)  # type: ignore[arg-type]


@contextmanager
def running_receiver(tls: tuple[str, str] | None = None) -> Iterator[Receiver]:
    """``tls``: (certificate file, key file) to receive over HTTPS."""
    receiver = Receiver()
    with serving(receiver, tls=tls) as base_url:  # type: ignore[arg-type]
        receiver.base_url = base_url
        yield receiver
