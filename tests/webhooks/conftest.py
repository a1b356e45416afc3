"""Webhook tests run against SQLite and PostgreSQL, with a real receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.webhooks.support import HookPlatform, hook_platform


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def hp(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HookPlatform]:
    with hook_platform(request.param, tmp_path_factory.mktemp(f"hooks-{request.param}")) as hp:
        yield hp
