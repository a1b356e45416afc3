"""The ASGI app factory. The lifespan owns every resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from voxgate import __version__
from voxgate.api import errors
from voxgate.api.dialects.huawei import calls as huawei_calls
from voxgate.api.dialects.huawei import config as huawei_config
from voxgate.api.dialects.huawei import voices as huawei_voices
from voxgate.api.dialects.nxcloud import routes as nxcloud_routes
from voxgate.api.dialects.sipcall import routes as sipcall_routes
from voxgate.api.guards import RejectNul
from voxgate.api.routes import admin as admin_routes
from voxgate.api.routes import calls as native_calls
from voxgate.api.routes import media as native_media
from voxgate.api.routes import webhooks as webhook_routes
from voxgate.api.services import Services
from voxgate.settings import Settings


def create_app(settings: Settings, *, schema: str | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.build(settings, schema=schema)
        app.state.services = services
        if settings.webhooks_enabled:
            await services.webhooks.start()
        if settings.prepare_on:
            await services.preparer.start()
        try:
            yield
        finally:
            if settings.prepare_on:
                await services.preparer.stop()
            if settings.webhooks_enabled:
                await services.webhooks.stop()
            await services.close()

    app = FastAPI(
        title="voxgate",
        version=__version__,
        description="Self-hostable voice call platform: native API v1.",
        lifespan=lifespan,
        # no OpenTelemetry export: FastAPI's own hooks would otherwise look up the global
        # providers (reading the environment) on every request
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    errors.install(app)
    app.add_middleware(RejectNul)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return PlainTextResponse("ok")

    @app.post("/hello", include_in_schema=False)
    async def hello(request: Request) -> Response:
        """A bare endpoint: the baseline the benchmarks compare against."""
        await request.body()
        return PlainTextResponse("hello")

    app.include_router(huawei_calls.router)
    app.include_router(huawei_config.router)
    app.include_router(huawei_voices.router)
    app.include_router(nxcloud_routes.router)
    app.include_router(sipcall_routes.router)
    app.include_router(native_calls.router)
    app.include_router(native_media.router)
    app.include_router(admin_routes.router)
    app.include_router(webhook_routes.router)
    return app
