"""The platform under test: a real server, its store, and helpers to set tenants up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.support.store import TestStore
from voxgate.api.services import Services
from voxgate.settings import Settings
from voxgate.tenancy.service import Credentials

T = TypeVar("T")
ADMIN_TOKEN = "test-admin-token"


def test_settings(store: TestStore, data_dir: Path, **extra: Any) -> Settings:
    """Background workers are off unless a test turns them on: a test that accepts a call
    with a callback URL of a public host must never send anything off this machine."""
    defaults: dict[str, Any] = {
        "database_url": store.url,
        "data_dir": data_dir,
        "admin_token": ADMIN_TOKEN,
        "token_cache_seconds": 0,
        "secret_key": "test-secret-key-0123456789",
        "dispatcher_enabled": False,
        "webhooks_enabled": False,
    }
    return Settings(**{**defaults, **extra})


@dataclass
class Platform:
    base_url: str
    settings: Settings
    store: TestStore
    http: httpx.Client

    def run(self, job: Callable[[Services], Awaitable[T]]) -> T:
        """Run a service call against the same store, from the test's thread."""

        async def main() -> T:
            services = Services.build(self.settings, schema=self.store.schema)
            try:
                return await job(services)
            finally:
                await services.close()

        return asyncio.run(main())

    def tenant(
        self,
        *,
        trial: bool = False,
        access_codes: tuple[str, ...] = ("640003", "640060"),
        trusted_hosts: tuple[str, ...] = (),
        trusted_numbers: tuple[str, ...] = (),
        softphone: tuple[str, str] | None = ("88889000", "88889099"),
        **flags: Any,
    ) -> Credentials:
        name = f"t-{uuid.uuid4().hex[:10]}"

        async def setup(s: Services) -> Credentials:
            creds = await s.tenants.create(name, trial=trial)
            if flags:
                await s.tenants.update(name, **flags)
            for code in access_codes:
                await s.tenants.add_access_code(name, code)
            for host in trusted_hosts:
                await s.tenants.trust_callback_host(name, host)
            for number in trusted_numbers:
                await s.tenants.trust_number(name, number)
            if softphone:
                await s.tenants.add_softphone_range(name, *softphone)
            return creds

        return self.run(setup)

    def huawei_token(self, creds: Credentials, expire: int | None = None) -> str:
        headers = {"X-Token-Expire": str(expire)} if expire else {}
        r = self.http.post(
            "/apigovernance/api/oauth/tokenByAkSk",
            json={"app_key": creds.app_key, "app_secret": creds.app_secret},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        return str(r.json()["AccessToken"])

    def huawei_headers(self, creds: Credentials) -> dict[str, str]:
        return {
            "X-APP-Key": creds.app_key,
            "Authorization": f"Bearer {self.huawei_token(creds)}",
        }
