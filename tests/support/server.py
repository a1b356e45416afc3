"""A real voxgate HTTP server in a background thread, on a free loopback port."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from uvicorn._types import ASGIApplication

from voxgate.api.app import create_app
from voxgate.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(settings: Settings, *, schema: str | None = None) -> Iterator[str]:
    with serving(create_app(settings, schema=schema), lifespan="on") as base_url:
        yield base_url


@contextmanager
def serving(
    app: ASGIApplication,
    *,
    lifespan: str = "off",
    tls: tuple[str, str] | None = None,
) -> Iterator[str]:
    """Serve any ASGI app on a free loopback port; yields its base URL. ``tls`` is a
    (certificate file, key file) pair: the app is then served over HTTPS."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan=lifespan,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
