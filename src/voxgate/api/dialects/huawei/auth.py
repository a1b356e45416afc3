"""C1 authentication: tokenByAkSk, then X-APP-Key + ``Authorization: Bearer <token>``."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from voxgate.api.services import Services
from voxgate.tenancy.profile import TenantProfile

MAX_TOKEN_SECONDS = 3600
DEFAULT_TOKEN_SECONDS = 600


class GatewayError(Exception):
    """Answered with an HTTP status and the gateway's error body."""

    def __init__(self, status: int, detail: str | None = None) -> None:
        super().__init__(detail or str(status))
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Caller:
    app_id: str
    app_key: str
    profile: TenantProfile


async def authenticate(
    request: Request, services: Services, *, require_app_key: bool = False
) -> Caller:
    auth = request.headers.get("authorization")
    if auth is None or not auth.startswith("Bearer ") or auth.startswith("Bearer  "):
        raise GatewayError(403, "Authorization must be 'Bearer <AccessToken>'.")
    token = auth[len("Bearer ") :].strip()
    grant = await services.tokens.check(token, "huawei") if token else None
    if grant is None:
        raise GatewayError(403, "The access token is invalid or expired.")
    app_key = request.headers.get("x-app-key")
    if app_key is None and require_app_key:
        raise GatewayError(403, "X-APP-Key is required.")
    app = await services.apps.get("id", grant.app_id)
    if app is None:
        raise GatewayError(403, "The access token is invalid or expired.")
    if app_key is not None and app_key != app.huawei_app_key:
        raise GatewayError(403, "X-APP-Key does not match the access token.")
    profile = await services.profiles.get(grant.tenant_id)
    if not profile.tenant.active:
        raise GatewayError(401)
    return Caller(app_id=app.id, app_key=app.huawei_app_key, profile=profile)


def token_lifetime(header: str | None) -> int:
    if header is None or header.strip() == "":
        return DEFAULT_TOKEN_SECONDS
    try:
        seconds = int(header.strip())
    except ValueError:
        raise GatewayError(400, "X-Token-Expire must be a whole number of seconds.") from None
    if not 1 <= seconds <= MAX_TOKEN_SECONDS:
        raise GatewayError(400, "X-Token-Expire must be between 1 and 3600.")
    return seconds
