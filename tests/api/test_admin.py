"""The admin REST API: bearer admin token, tenants, trust lists, number plans, URLs, secrets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import harness
from tests.support.harness import ADMIN_TOKEN, Platform
from tests.support.server import running_server
from voxgate.api.services import Services

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def admin(platform: Platform, method: str, path: str, **kw: Any) -> httpx.Response:
    return platform.http.request(method, "/v1/admin" + path, headers=ADMIN, **kw)


def problem(r: httpx.Response, status: int, error_id: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    if error_id is not None:
        assert body["error_id"] == error_id, body
    return body


def new_tenant(platform: Platform, **extra: Any) -> dict[str, Any]:
    r = admin(platform, "POST", "/tenants", json={"name": f"a-{uuid.uuid4().hex[:10]}", **extra})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


# --- the admin token -----------------------------------------------------------------------


def test_missing_token_is_401_and_wrong_token_403(platform: Platform) -> None:
    problem(platform.http.post("/v1/admin/tenants", json={"name": "x"}), 401, "unauthorized")
    r = platform.http.get("/v1/admin/tenants/x", headers={"Authorization": "Basic abc"})
    problem(r, 401, "unauthorized")
    r = platform.http.get("/v1/admin/tenants/x", headers={"Authorization": "Bearer nope"})
    problem(r, 403, "forbidden")


def test_tenant_credentials_do_not_open_the_admin_api(platform: Platform) -> None:
    creds = platform.tenant()
    r = platform.http.get(
        f"/v1/admin/tenants/{creds.tenant_id}",
        auth=httpx.BasicAuth(creds.app_key, creds.app_secret),
    )
    problem(r, 401)


@pytest.fixture(scope="module")
def no_admin_server(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = harness.test_settings(platform.store, tmp_path_factory.mktemp("noadmin"))
    settings = base.model_copy(update={"admin_token": None})
    with running_server(settings, schema=platform.store.schema) as url:
        yield url


def test_admin_api_is_absent_without_a_configured_token(no_admin_server: str) -> None:
    with httpx.Client(base_url=no_admin_server) as http:
        for headers in ({}, ADMIN, {"Authorization": "Bearer wrong"}):
            r = http.post("/v1/admin/tenants", json={"name": "x"}, headers=headers)
            problem(r, 404, "not_found")


# --- tenants --------------------------------------------------------------------------------


def test_create_tenant_answers_like_the_cli(platform: Platform) -> None:
    body = new_tenant(platform, trial=True)
    assert set(body) == {"tenant_id", "name", "huawei", "nxcloud", "sipcall"}
    assert set(body["huawei"]) == {"app_key", "app_secret"}
    assert set(body["nxcloud"]) == {"appkey", "secretkey"}
    assert set(body["sipcall"]) == {"appid", "accesskey", "companycode"}
    # The credentials work at once, in the dialect and in the native API.
    token = platform.http.post(
        "/apigovernance/api/oauth/tokenByAkSk",
        json={"app_key": body["huawei"]["app_key"], "app_secret": body["huawei"]["app_secret"]},
    )
    assert token.status_code == 200
    native = platform.http.get(
        "/v1/calls", auth=httpx.BasicAuth(body["huawei"]["app_key"], body["huawei"]["app_secret"])
    )
    assert native.status_code == 200
    shown = admin(platform, "GET", f"/tenants/{body['tenant_id']}").json()
    assert shown["trial"] is True
    assert shown["name"] == body["name"]


def test_create_tenant_with_settings(platform: Platform) -> None:
    body = new_tenant(
        platform,
        vdn_enabled=False,
        anonymize_caller=True,
        bidirectional_type="ITA",
        webhook_url="https://hooks.example/w",
    )
    shown = admin(platform, "GET", f"/tenants/{body['name']}").json()
    assert shown["vdn_enabled"] is False
    assert shown["anonymize_caller"] is True
    assert shown["bidirectional_type"] == "ITA"
    assert shown["webhook_url"] == "https://hooks.example/w"


def test_duplicate_name_is_409(platform: Platform) -> None:
    body = new_tenant(platform)
    r = admin(platform, "POST", "/tenants", json={"name": body["name"]})
    problem(r, 409, "conflict")


def test_invalid_tenant_bodies_are_422(platform: Platform) -> None:
    for bad in (
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"name": "tab\there"},
        {"name": "x", "bidirectional_type": "XYZ"},
        {"name": "x", "webhook_url": "not a url"},
        {"name": "x", "colour": "red"},
    ):
        problem(admin(platform, "POST", "/tenants", json=bad), 422, "invalid_request")


def test_get_unknown_tenant_is_404(platform: Platform) -> None:
    problem(admin(platform, "GET", f"/tenants/{uuid.uuid4().hex}"), 404, "not_found")
    problem(admin(platform, "PATCH", "/tenants/nobody", json={"trial": True}), 404, "not_found")
    problem(
        admin(platform, "POST", "/tenants/nobody/access-codes", json={"code": "1"}),
        404,
        "not_found",
    )


def test_update_tenant(platform: Platform) -> None:
    body = new_tenant(platform)
    r = admin(
        platform,
        "PATCH",
        f"/tenants/{body['tenant_id']}",
        json={"trial": True, "default_callback_url": "https://cb.example/x"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["trial"] is True
    assert r.json()["default_callback_url"] == "https://cb.example/x"
    assert r.json()["vdn_enabled"] is True  # untouched
    r = admin(platform, "PATCH", f"/tenants/{body['tenant_id']}", json={"status": "paused"})
    problem(r, 422, "invalid_request")


def test_suspending_takes_effect_at_once(platform: Platform) -> None:
    body = new_tenant(platform)
    basic = httpx.BasicAuth(body["huawei"]["app_key"], body["huawei"]["app_secret"])
    assert platform.http.get("/v1/calls", auth=basic).status_code == 200
    r = admin(platform, "PATCH", f"/tenants/{body['tenant_id']}", json={"status": "suspended"})
    assert r.json()["status"] == "suspended"
    problem(platform.http.get("/v1/calls", auth=basic), 403, "tenant_suspended")
    admin(platform, "PATCH", f"/tenants/{body['tenant_id']}", json={"status": "active"})
    assert platform.http.get("/v1/calls", auth=basic).status_code == 200


# --- trust lists and number plans -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "payload", "field", "shown"),
    [
        ("trusted-callback-hosts", {"host": "Hooks.Example:8443"}, "trusted_callback_hosts",
         "hooks.example:8443"),
        ("trusted-numbers", {"number": "+8613800000000"}, "trusted_numbers", "8613800000000"),
        ("access-codes", {"code": "640003"}, "access_codes", "640003"),
        ("softphone-ranges", {"from": "88889000", "to": "88889099"}, "softphone_ranges",
         ["88889000", "88889099"]),
    ],
)  # fmt: skip
def test_list_entries_add_once(
    platform: Platform, path: str, payload: dict[str, str], field: str, shown: Any
) -> None:
    tenant = new_tenant(platform)["tenant_id"]
    first = admin(platform, "POST", f"/tenants/{tenant}/{path}", json=payload)
    assert first.status_code == 201, first.text
    assert first.json()[field] == [shown]
    again = admin(platform, "POST", f"/tenants/{tenant}/{path}", json=payload)
    assert again.status_code == 200
    assert again.json()[field] == [shown]


@pytest.mark.parametrize(
    ("path", "payload", "status"),
    [
        ("trusted-callback-hosts", {"host": "a/b"}, 422),
        ("trusted-callback-hosts", {"host": "a b"}, 422),
        ("trusted-numbers", {"number": "12ab"}, 422),
        ("access-codes", {"code": "64-0003"}, 422),
        ("softphone-ranges", {"from": "200", "to": "100"}, 400),
        ("softphone-ranges", {"from": "100", "to": "1000"}, 400),
    ],
)
def test_bad_list_entries(
    platform: Platform, path: str, payload: dict[str, str], status: int
) -> None:
    tenant = new_tenant(platform)["tenant_id"]
    problem(admin(platform, "POST", f"/tenants/{tenant}/{path}", json=payload), status)


def test_trusted_callback_host_lets_native_callbacks_through(platform: Platform) -> None:
    body = new_tenant(platform)
    basic = httpx.BasicAuth(body["huawei"]["app_key"], body["huawei"]["app_secret"])
    call = {
        "script": {"steps": [{"op": "dial", "to": "88880001"}]},
        "callback_url": "https://cb.example/hook",
    }
    assert platform.http.post("/v1/calls", json=call, auth=basic).status_code == 403
    admin(
        platform,
        "POST",
        f"/tenants/{body['name']}/trusted-callback-hosts",
        json={"host": "cb.example"},
    )
    assert platform.http.post("/v1/calls", json=call, auth=basic).status_code == 201


def test_extensions_upsert_with_groups(platform: Platform) -> None:
    tenant = new_tenant(platform)["tenant_id"]
    r = admin(
        platform,
        "PUT",
        f"/tenants/{tenant}/extensions/1001",
        json={"password": "s3cret", "group": "sales"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["extension_groups"] == ["sales"]
    r = admin(
        platform,
        "PUT",
        f"/tenants/{tenant}/extensions/1001",
        json={"password": "other", "group": "support"},
    )
    assert r.json()["extension_groups"] == ["sales", "support"]

    async def members(s: Services) -> tuple[list[str], list[str]]:
        from voxgate.store.tenants import extensions_in_group

        async with s.db.connect() as conn:
            return (
                list(await extensions_in_group(conn, tenant, "sales")),
                list(await extensions_in_group(conn, tenant, "support")),
            )

    assert platform.run(members) == ([], ["1001"])
    r = admin(platform, "PUT", f"/tenants/{tenant}/extensions/1002", json={"password": "abc"})
    problem(r, 422, "invalid_request")
    r = admin(platform, "PUT", f"/tenants/{tenant}/extensions/10a2", json={"password": "abcd"})
    problem(r, 422, "invalid_request")


def test_app_urls_set_and_clear(platform: Platform) -> None:
    tenant = new_tenant(platform)["tenant_id"]
    r = admin(
        platform,
        "PATCH",
        f"/tenants/{tenant}/app-urls",
        json={"dr_url": "https://dr.example/r", "cdr_url": "http://cdr.example:8080/c"},
    )
    assert r.status_code == 200, r.text
    app = r.json()["apps"][0]
    assert (app["dr_url"], app["cdr_url"], app["status_url"]) == (
        "https://dr.example/r",
        "http://cdr.example:8080/c",
        None,
    )
    r = admin(platform, "PATCH", f"/tenants/{tenant}/app-urls", json={"dr_url": None})
    app = r.json()["apps"][0]
    assert (app["dr_url"], app["cdr_url"]) == (None, "http://cdr.example:8080/c")
    r = admin(platform, "PATCH", f"/tenants/{tenant}/app-urls", json={"status_url": "javascript:x"})
    problem(r, 422, "invalid_request")


def test_signing_secrets_are_stored_encrypted_and_never_shown(platform: Platform) -> None:
    tenant = new_tenant(platform)["tenant_id"]
    for which in ("callback_secret", "webhook_secret"):
        r = admin(platform, "PUT", f"/tenants/{tenant}/secrets/{which}", json={"secret": "x" * 32})
        assert r.status_code == 204, r.text
    shown = admin(platform, "GET", f"/tenants/{tenant}")
    assert shown.json()["callback_secret_set"] is True
    assert shown.json()["webhook_secret_set"] is True
    assert "x" * 32 not in shown.text

    async def stored(s: Services) -> str:
        t = await s.tenants.resolve(tenant)
        assert t.callback_secret is not None
        assert b"x" * 32 not in t.callback_secret
        return s.box.decrypt(t.callback_secret)

    assert platform.run(stored) == "x" * 32
    r = admin(
        platform, "PUT", f"/tenants/{tenant}/secrets/callback_secret", json={"secret": "short"}
    )
    problem(r, 422, "invalid_request")
    r = admin(platform, "PUT", f"/tenants/{tenant}/secrets/api_key", json={"secret": "x" * 32})
    problem(r, 422, "invalid_request")


def test_admin_api_and_cli_share_one_service(platform: Platform) -> None:
    """What the admin API writes is what the service (used by the CLI) reads back."""
    body = new_tenant(platform)
    admin(platform, "POST", f"/tenants/{body['name']}/access-codes", json={"code": "7001"})
    described = platform.run(lambda s: s.tenants.describe(body["name"]))
    assert described == admin(platform, "GET", f"/tenants/{body['name']}").json()
