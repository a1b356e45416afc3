"""A delivery enqueued by the server goes out at once, not at the worker's next poll."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.webhooks.support import hook_platform, make_tenant, post_native_call, wait_settled


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_commit_wakes_the_worker(kind: str, tmp_path: Path) -> None:
    # a poll interval far longer than the wait below: only the commit's wake-up can deliver
    with hook_platform(kind, tmp_path, webhook_poll_seconds=60) as hp:
        path = "/wake/queued"
        t = make_tenant(hp.p)
        hp.p.run(lambda s: s.tenants.add_access_code(t.name, "640003"))
        for _ in range(3):  # the first, and later ones once the worker is idle again
            call_id = post_native_call(hp, t, f"{hp.rx.base_url}{path}")
            [d] = wait_settled(hp.p, call_id, timeout=10)
            assert d["status"] == "delivered"
