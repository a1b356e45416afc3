"""The admin API: tenants, their trust lists, number plans, app URLs and signing secrets.

Every route goes through the same TenantService as the ``voxgate`` CLI and ``provision``,
so the two surfaces cannot drift apart. ``{tenant}`` is a tenant's id or its name.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from starlette.requests import Request
from starlette.responses import Response

from voxgate.api.auth_native import admin
from voxgate.api.deps import services_of
from voxgate.api.schemas import (
    DIGITS,
    PRINTABLE,
    AccessCode,
    AppUrls,
    Extension,
    SigningSecret,
    SoftphoneRange,
    Tenant,
    TenantCreate,
    TenantCredentials,
    TenantUpdate,
    TrustedHost,
    TrustedNumber,
    problem_responses,
)
from voxgate.api.services import Services

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[Depends(admin)],
    responses=problem_responses(401, 403, 404, 422),
)

TenantRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        pattern=PRINTABLE,
        description="The tenant's id or name.",
    ),
]


async def _described(services: Services, tenant_id: str) -> Tenant:
    services.profiles.forget(tenant_id)
    return Tenant.model_validate(await services.tenants.describe(tenant_id))


async def _added(request: Request, response: Response, tenant: str, added: bool) -> Tenant:
    """201 when the entry is new, 200 when it was there already; the tenant either way."""
    services = services_of(request)
    found = await services.tenants.resolve(tenant)
    response.status_code = 201 if added else 200
    return await _described(services, found.id)


@router.post(
    "/tenants",
    status_code=201,
    response_model=TenantCredentials,
    summary="Create a tenant",
    responses=problem_responses(400, 409),
)
async def create_tenant(request: Request, body: TenantCreate) -> TenantCredentials:
    """The answer is what `voxgate tenant create NAME --json` prints. Keep the secrets."""
    services = services_of(request)
    flags = body.model_dump(exclude_none=True, exclude={"name", "trial"})
    creds = await services.tenants.create(body.name, trial=body.trial)
    if flags:
        # TenantService.create fixes these columns itself; they are settings to apply after.
        await services.tenants.update(creds.tenant_id, **flags)
    return TenantCredentials.model_validate(creds.as_json())


@router.get("/tenants/{tenant}", response_model=Tenant, summary="Get a tenant")
async def get_tenant(request: Request, tenant: TenantRef) -> Tenant:
    services = services_of(request)
    found = await services.tenants.resolve(tenant)
    return await _described(services, found.id)


@router.patch(
    "/tenants/{tenant}",
    response_model=Tenant,
    summary="Change tenant settings",
    responses=problem_responses(400),
)
async def update_tenant(request: Request, tenant: TenantRef, body: TenantUpdate) -> Tenant:
    """Suspend or resume a tenant, switch trial, VDN, anonymization, default URLs."""
    services = services_of(request)
    updated = await services.tenants.update(tenant, **body.model_dump(exclude_none=True))
    return await _described(services, updated.id)


@router.post(
    "/tenants/{tenant}/trusted-callback-hosts",
    response_model=Tenant,
    status_code=201,
    summary="Trust a callback host",
    responses={200: {"description": "The host was trusted already."}, **problem_responses(400)},
)
async def trust_callback_host(
    request: Request, response: Response, tenant: TenantRef, body: TrustedHost
) -> Tenant:
    """Callback URLs given in requests must point at a trusted host (or host:port)."""
    added = await services_of(request).tenants.trust_callback_host(tenant, body.host)
    return await _added(request, response, tenant, added)


@router.post(
    "/tenants/{tenant}/trusted-numbers",
    response_model=Tenant,
    status_code=201,
    summary="Trust a number (trial tenants)",
    responses={200: {"description": "The number was trusted already."}, **problem_responses(400)},
)
async def trust_number(
    request: Request, response: Response, tenant: TenantRef, body: TrustedNumber
) -> Tenant:
    added = await services_of(request).tenants.trust_number(tenant, body.number)
    return await _added(request, response, tenant, added)


@router.post(
    "/tenants/{tenant}/access-codes",
    response_model=Tenant,
    status_code=201,
    summary="Add an access code",
    responses={200: {"description": "The code was there already."}, **problem_responses(400)},
)
async def add_access_code(
    request: Request, response: Response, tenant: TenantRef, body: AccessCode
) -> Tenant:
    """Access codes are the numbers a tenant's calls may present to callees."""
    added = await services_of(request).tenants.add_access_code(tenant, body.code)
    return await _added(request, response, tenant, added)


@router.post(
    "/tenants/{tenant}/softphone-ranges",
    response_model=Tenant,
    status_code=201,
    summary="Add a softphone number range",
    responses={200: {"description": "The range was there already."}, **problem_responses(400)},
)
async def add_softphone_range(
    request: Request, response: Response, tenant: TenantRef, body: SoftphoneRange
) -> Tenant:
    """A block of mobile-agent numbers that Huawei createCall accepts as `caller`."""
    added = await services_of(request).tenants.add_softphone_range(tenant, body.from_, body.to)
    return await _added(request, response, tenant, added)


@router.put(
    "/tenants/{tenant}/extensions/{number}",
    response_model=Tenant,
    summary="Create or update an extension",
    responses=problem_responses(400),
)
async def put_extension(
    request: Request,
    tenant: TenantRef,
    number: Annotated[str, Path(pattern=DIGITS, description="The extension number.")],
    body: Extension,
) -> Tenant:
    """An agent phone with its SIP password, optionally in a group (made when new)."""
    services = services_of(request)
    await services.tenants.add_extension(tenant, number, password=body.password, group=body.group)
    found = await services.tenants.resolve(tenant)
    return await _described(services, found.id)


@router.patch(
    "/tenants/{tenant}/app-urls",
    response_model=Tenant,
    summary="Set the apps' callback URLs",
    responses=problem_responses(400),
)
async def set_app_urls(request: Request, tenant: TenantRef, body: AppUrls) -> Tenant:
    """NXCloud receipts (dr_url), SIP call-center CDRs (cdr_url) and extension status."""
    services = services_of(request)
    urls = body.model_dump(exclude_unset=True)
    if urls:
        await services.tenants.set_app_urls(tenant, **urls)
    found = await services.tenants.resolve(tenant)
    return await _described(services, found.id)


@router.put(
    "/tenants/{tenant}/secrets/{which}",
    status_code=204,
    summary="Set a signing secret",
    responses=problem_responses(400),
)
async def set_secret(
    request: Request,
    tenant: TenantRef,
    which: Annotated[
        Literal["callback_secret", "webhook_secret"],
        Path(description="Which signing secret: callback_secret or webhook_secret."),
    ],
    body: SigningSecret,
) -> Response:
    """Stored encrypted; never shown again (the tenant shows only that one is set)."""
    services = services_of(request)
    await services.tenants.set_secret(tenant, which, body.secret)
    found = await services.tenants.resolve(tenant)
    services.profiles.forget(found.id)
    return Response(status_code=204)
