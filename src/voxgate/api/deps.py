"""Reaching the composition root from a request."""

from __future__ import annotations

from typing import cast

from starlette.requests import Request

from voxgate.api.services import Services


def services_of(request: Request) -> Services:
    return cast(Services, request.app.state.services)
