"""The ``voxgate`` tenant commands and ``provision``, run as a user runs them: a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import harness
from tests.support import store as stores
from voxgate.api.services import Services

SECRET_KEY = "test-secret-key-0123456789"


class Cli:
    def __init__(self, store: stores.TestStore, data_dir: Path) -> None:
        self.store = store
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "VOXGATE_DATA_DIR": str(data_dir),
            "VOXGATE_DATABASE_URL": store.url,
            "VOXGATE_SECRET_KEY": SECRET_KEY,
        }
        self.env.pop("VOXGATE_ADMIN_TOKEN", None)

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "voxgate", *args],
            env=self.env,
            cwd=self.data_dir.parent,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    def describe(self, tenant: str) -> dict[str, Any]:
        """Read back in-process (each CLI start costs seconds), through the same service."""
        return self.service(lambda s: s.tenants.describe(tenant))  # type: ignore[no-any-return]

    def tenant(self, name: str) -> str:
        """A tenant made in-process, for tests of the other commands."""
        return self.service(lambda s: s.tenants.create(name)).tenant_id  # type: ignore[no-any-return]

    def service(self, job: Any) -> Any:
        settings = harness.test_settings(self.store, self.data_dir)

        async def main() -> Any:
            services = Services.build(settings)
            try:
                return await job(services)
            finally:
                await services.close()

        return asyncio.run(main())


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """The CLI against a fresh SQLite store (the CLI needs no server)."""
    tmp = tmp_path_factory.mktemp("cli")
    with stores.fresh_store("sqlite", tmp) as store:
        yield Cli(store, tmp / "data")


def create(cli: Cli, name: str, *extra: str) -> dict[str, Any]:
    return json.loads(cli("tenant", "create", name, "--json", *extra).stdout)  # type: ignore[no-any-return]


def test_tenant_create_json(cli: Cli) -> None:
    body = create(cli, "acme")
    assert set(body) == {"tenant_id", "name", "huawei", "nxcloud", "sipcall"}
    assert body["name"] == "acme"
    assert set(body["huawei"]) == {"app_key", "app_secret"}
    assert set(body["nxcloud"]) == {"appkey", "secretkey"}
    assert set(body["sipcall"]) == {"appid", "accesskey", "companycode"}
    # The secret works: it was stored hashed, under the installation key.
    ok = cli.service(
        lambda s: _secret_ok(s, body["huawei"]["app_key"], body["huawei"]["app_secret"])
    )
    assert ok
    shown = json.loads(cli("tenant", "show", body["tenant_id"]).stdout)
    assert shown["name"] == "acme"
    assert shown["trial"] is False
    assert body["huawei"]["app_secret"] not in json.dumps(shown)


async def _secret_ok(s: Services, app_key: str, secret: str) -> bool:
    app = await s.apps.get("huawei_app_key", app_key)
    return app is not None and s.box.verify(secret, app.huawei_secret_hash)


def test_tenant_create_trial_and_duplicate(cli: Cli) -> None:
    body = create(cli, "trialco", "--trial")
    assert cli.describe("trialco")["trial"] is True
    again = cli("tenant", "create", "trialco", "--json", ok=False)
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert body["tenant_id"] == cli.describe("trialco")["tenant_id"]


def test_trust_callback_and_number(cli: Cli) -> None:
    tenant_id = cli.tenant("trusty")
    cli("tenant", "trust-callback", "trusty", "Hooks.Example:8443")
    cli("tenant", "trust-number", tenant_id, "+8613800000000")
    shown = cli.describe("trusty")
    assert shown["trusted_callback_hosts"] == ["hooks.example:8443"]
    assert shown["trusted_numbers"] == ["8613800000000"]
    bad = cli("tenant", "trust-number", "trusty", "12ab", ok=False)
    assert bad.returncode == 1
    assert "number" in bad.stderr


def test_access_codes_and_softphone_ranges(cli: Cli) -> None:
    cli.tenant("codes")
    cli("access-code", "add", "codes", "640003")
    cli("access-code", "add", "codes", "640003")  # adding twice keeps one
    cli("softphone-range", "add", "codes", "88889000", "88889099")
    shown = cli.describe("codes")
    assert shown["access_codes"] == ["640003"]
    assert shown["softphone_ranges"] == [["88889000", "88889099"]]
    bad = cli("softphone-range", "add", "codes", "200", "100", ok=False)
    assert bad.returncode == 1


def test_extension_add(cli: Cli) -> None:
    cli.tenant("exts")
    cli("extension", "add", "exts", "1001", "--password", "s3cret", "--group", "sales")
    cli("extension", "add", "exts", "1002", "--password", "s3cret", "--group", "sales")
    assert cli.describe("exts")["extension_groups"] == ["sales"]

    async def members(s: Services) -> list[str]:
        from voxgate.store.tenants import extensions_in_group

        tenant = await s.tenants.resolve("exts")
        async with s.db.connect() as conn:
            return list(await extensions_in_group(conn, tenant.id, "sales"))

    assert cli.service(members) == ["1001", "1002"]


def test_unknown_tenant_is_a_clear_error(cli: Cli) -> None:
    done = cli("access-code", "add", "nobody", "1", ok=False)
    assert done.returncode == 1
    assert "no tenant" in done.stderr
    assert "Traceback" not in done.stderr


PLAN = """
[[tenant]]
name = "provisioned"
trial = true
anonymize_caller = true
webhook_url = "https://hooks.example/w"
callback_secret = "callback-secret-123"
dr_url = "https://dr.example/receipts"
access_codes = ["640003", "640060"]
trusted_numbers = ["8613800000000"]
trusted_callback_hosts = ["hooks.example"]
softphone_ranges = [["88889000", "88889099"]]

[tenant.credentials]
app_key = "prov-app-key"
app_secret = "prov-app-secret"
companycode = "7777"

[[tenant.extensions]]
number = "1001"
password = "s3cret"
group = "sales"

[[tenant]]
name = "second"
access_codes = ["123"]
"""


def test_provision_creates_then_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    first = json.loads(cli("provision", str(plan)).stdout)
    assert sorted(t["name"] for t in first["created"]) == ["provisioned", "second"]
    made = next(t for t in first["created"] if t["name"] == "provisioned")
    assert made["huawei"]["app_key"] == "prov-app-key"
    assert made["sipcall"]["companycode"] == "7777"
    before = {name: cli.describe(name) for name in ("provisioned", "second")}
    shown = before["provisioned"]
    assert shown["trial"] is True
    assert shown["anonymize_caller"] is True
    assert shown["webhook_url"] == "https://hooks.example/w"
    assert shown["callback_secret_set"] is True
    assert shown["access_codes"] == ["640003", "640060"]
    assert shown["trusted_numbers"] == ["8613800000000"]
    assert shown["trusted_callback_hosts"] == ["hooks.example"]
    assert shown["softphone_ranges"] == [["88889000", "88889099"]]
    assert shown["extension_groups"] == ["sales"]
    assert shown["apps"][0]["dr_url"] == "https://dr.example/receipts"
    assert cli.service(lambda s: _secret_ok(s, "prov-app-key", "prov-app-secret"))

    second = json.loads(cli("provision", str(plan)).stdout)
    assert second["created"] == []
    assert sorted(second["updated"]) == ["provisioned", "second"]
    after = {name: cli.describe(name) for name in ("provisioned", "second")}
    assert after == before


def test_provision_rejects_a_bad_file(cli: Cli, tmp_path: Path) -> None:
    plan = tmp_path / "bad.toml"
    plan.write_text('[[tenant]]\nname = "x"\ncolour = "red"\n')
    done = cli("provision", str(plan), ok=False)
    assert done.returncode == 2
    assert "colour" in done.stderr
    plan.write_text("not toml [")
    done = cli("provision", str(plan), ok=False)
    assert done.returncode == 2
    assert "TOML" in done.stderr
