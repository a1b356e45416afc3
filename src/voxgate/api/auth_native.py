"""Who is calling the native API: tenants by HTTP Basic, the operator by the admin token.

Tenants authenticate with the credentials they already hold: the Huawei ``app_key`` as the
user name and ``app_secret`` as the password. Nothing new is minted or stored, and a secret
is checked against its keyed hash the same way tokenByAkSk checks it.

The admin API takes ``Authorization: Bearer <VOXGATE_ADMIN_TOKEN>``. With no admin token
configured, the admin API does not exist (404).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from fastapi import Depends
from fastapi.security import HTTPBasic, HTTPBearer
from starlette.requests import Request

from voxgate.api.deps import services_of
from voxgate.errors import Forbidden, NotFound, Unauthorized
from voxgate.tenancy.profile import TenantProfile


class TenantSuspended(Forbidden):
    """The tenant is suspended or not subscribed."""

    error_id = "tenant_suspended"


class AdminDisabled(NotFound):
    """The admin API is disabled: no admin token is configured."""

    error_id = "not_found"


class _DocumentedBasic(HTTPBasic):
    """Declares HTTP Basic in the OpenAPI document; the checking is ``native_caller``'s."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


class _DocumentedBearer(HTTPBearer):
    """Declares the admin bearer token in the OpenAPI document; ``admin`` checks it."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


basic_scheme = _DocumentedBasic(
    scheme_name="tenant",
    realm="voxgate",
    description="User name: the tenant's Huawei app_key; password: its app_secret.",
)
bearer_scheme = _DocumentedBearer(
    scheme_name="admin", description="The operator's admin token (VOXGATE_ADMIN_TOKEN)."
)


@dataclass(frozen=True)
class NativeCaller:
    app_id: str
    profile: TenantProfile

    @property
    def tenant_id(self) -> str:
        return self.profile.id

    def __repr__(self) -> str:
        return f"<NativeCaller tenant={self.profile.id[:8]} app={self.app_id[:8]}>"


def _basic_pair(header: str | None) -> tuple[str, str]:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise Unauthorized("Send Authorization: Basic base64(app_key:app_secret).")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("The Basic credentials are not valid base64 of UTF-8.") from None
    user, sep, password = decoded.partition(":")
    if not sep or not user or not password:
        raise Unauthorized("The Basic credentials must be app_key:app_secret.")
    return user, password


async def native_caller(request: Request, _: None = Depends(basic_scheme)) -> NativeCaller:
    """The tenant behind a native request (401 unknown, 403 suspended)."""
    services = services_of(request)
    app_key, app_secret = _basic_pair(request.headers.get("authorization"))
    app = await services.apps.get("huawei_app_key", app_key)
    if app is None or not services.box.verify(app_secret, app.huawei_secret_hash):
        raise Unauthorized("Unknown app_key or wrong app_secret.")
    profile = await services.profiles.get(app.tenant_id)
    if not profile.tenant.active:
        raise TenantSuspended()
    return NativeCaller(app_id=app.id, profile=profile)


async def admin(request: Request, _: None = Depends(bearer_scheme)) -> None:
    """Lets the operator through (404 disabled, 401 no token, 403 wrong token)."""
    configured = services_of(request).settings.admin_token
    if configured is None or not configured.get_secret_value():
        raise AdminDisabled("Not Found")
    scheme, _sp, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send Authorization: Bearer <admin token>.")
    if not hmac.compare_digest(token.strip().encode(), configured.get_secret_value().encode()):
        raise Forbidden("The admin token is wrong.")
