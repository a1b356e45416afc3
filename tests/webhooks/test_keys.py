"""Tenant keys: lanes that miss the cache together share one fetch."""

from __future__ import annotations

import asyncio

from voxgate.webhooks.keys import NO_KEYS, KeyCache, TenantKeys


def test_concurrent_misses_share_one_fetch() -> None:
    fetched: list[str] = []

    async def fetch(tenant_id: str) -> TenantKeys:
        fetched.append(tenant_id)
        await asyncio.sleep(0.01)
        return NO_KEYS

    async def main() -> None:
        cache = KeyCache(fetch, ttl=60.0)
        got = await asyncio.gather(*(cache.get("t1") for _ in range(8)), cache.get("t2"))
        assert all(k is NO_KEYS for k in got)
        assert sorted(fetched) == ["t1", "t2"]
        await cache.get("t1")  # fresh: no fetch
        assert len(fetched) == 2

    asyncio.run(main())


def test_a_failed_fetch_reaches_every_waiter_and_is_retried() -> None:
    calls = 0

    async def fetch(tenant_id: str) -> TenantKeys:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise RuntimeError("store down")
        return NO_KEYS

    async def main() -> None:
        cache = KeyCache(fetch, ttl=60.0)
        got = await asyncio.gather(*(cache.get("t") for _ in range(3)), return_exceptions=True)
        assert all(isinstance(g, RuntimeError) for g in got)
        assert await cache.get("t") is NO_KEYS
        assert calls == 2

    asyncio.run(main())


def test_expired_keys_are_fetched_again() -> None:
    calls = 0

    async def fetch(tenant_id: str) -> TenantKeys:
        nonlocal calls
        calls += 1
        return NO_KEYS

    async def main() -> None:
        cache = KeyCache(fetch, ttl=0.0)
        await cache.get("t")
        await cache.get("t")
        assert calls == 2

    asyncio.run(main())
