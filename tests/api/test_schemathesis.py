"""Fuzzing the native API from its own /openapi.json: no 500s, no stack traces.

Schemathesis reads the live server's OpenAPI document and sends a bounded number of
generated requests (valid and invalid) to every operation, as a tenant for /v1/calls and as
the operator for /v1/admin, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error

from tests.support.harness import ADMIN_TOKEN, Platform
from voxgate.tenancy.service import Credentials

MAX_EXAMPLES = 25
TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.", "asyncpg.")


@pytest.fixture(scope="module")
def fuzz_tenant(platform: Platform) -> Credentials:
    return platform.tenant(trusted_hosts=("hooks.example",))


def _authorization(case: Case[Any], creds: Credentials) -> str:
    """The operator's token where the operation declares it, else the tenant's Basic pair."""
    declared = case.operation.definition.raw.get("security") or []
    if any("admin" in requirement for requirement in declared):
        return f"Bearer {ADMIN_TOKEN}"
    pair = f"{creds.app_key}:{creds.app_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_no_stack_traces(
    platform: Platform, fuzz_tenant: Credentials, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(platform.base_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 4
    for operation in operations:
        # Valid requests name the fuzz tenant, so they get past "no such tenant".
        fixed = (
            {"tenant": fuzz_tenant.tenant_id}
            if mode is GenerationMode.POSITIVE and "{tenant}" in operation.path
            else None
        )

        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: Case[Any]) -> None:
            headers = {"Authorization": _authorization(case, fuzz_tenant)}
            response = case.call(base_url=platform.base_url, headers=headers, timeout=30)
            case.validate_response(response, checks=[not_a_server_error])
            for marker in TRACE_MARKERS:
                assert marker not in response.text, response.text

        try:
            fuzz()
        except BaseException as exc:
            exc.add_note(f"while fuzzing {operation.label} ({mode.value})")
            raise


def test_openapi_describes_the_native_api_only(platform: Platform) -> None:
    doc: dict[str, Any] = platform.http.get("/openapi.json").json()
    assert doc["paths"], "no operations"
    assert all(path.startswith("/v1/") for path in doc["paths"]), sorted(doc["paths"])
    assert {"/v1/calls", "/v1/calls/{call_id}", "/v1/calls/{call_id}/events"} <= set(doc["paths"])
    assert "/v1/admin/tenants" in doc["paths"]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["tenant"]["scheme"] == "basic"
    assert schemes["admin"]["scheme"] == "bearer"
    create = doc["paths"]["/v1/calls"]["post"]
    assert {"201", "401", "409", "422"} <= set(create["responses"])
    assert "application/problem+json" in create["responses"]["409"]["content"]
    header = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    assert header["in"] == "header"
    assert doc["components"]["schemas"]["CallCreate"]["description"]


def test_docs_page_is_served(platform: Platform) -> None:
    r = httpx.get(platform.base_url + "/docs")
    assert r.status_code == 200
    assert "/openapi.json" in r.text
