"""Shared fixtures: every API test runs against SQLite and PostgreSQL, through a real server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.harness import Platform, test_settings
from tests.support.server import running_server
from tests.support.store import fresh_store


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    tmp = tmp_path_factory.mktemp(f"voxgate-{request.param}")
    with fresh_store(request.param, tmp) as store:
        settings = test_settings(store, tmp / "data")
        with (
            running_server(settings, schema=store.schema) as base_url,
            httpx.Client(base_url=base_url, timeout=30) as http,
        ):
            yield Platform(base_url=base_url, settings=settings, store=store, http=http)
