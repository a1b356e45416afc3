"""What sending needs from a tenant, decrypted, cached briefly and fetched once at a time."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from voxgate.security.secrets import SecretBox
from voxgate.store.webhooks import HookTarget
from voxgate.webhooks import signing


@dataclass(frozen=True, slots=True)
class TenantKeys:
    """What sending needs from a tenant, decrypted."""

    trustlist: frozenset[str]
    callback_secret: str | None
    webhook_secret: str | None
    ed25519: Ed25519PrivateKey | None


NO_KEYS = TenantKeys(frozenset(), None, None, None)


def open_keys(target: HookTarget | None, box: SecretBox) -> TenantKeys:
    if target is None:
        return NO_KEYS

    def opened(sealed: bytes | None) -> str | None:
        return box.decrypt(sealed) if sealed else None

    seed = target.webhook_signing_key
    return TenantKeys(
        trustlist=target.trusted_hosts,
        callback_secret=opened(target.callback_secret),
        webhook_secret=opened(target.webhook_secret),
        ed25519=signing.ed25519_key(base64.b64decode(box.decrypt(seed))) if seed else None,
    )


class KeyCache:
    """Tenant keys for ``ttl`` seconds. Lanes that miss together share one fetch.

    ``fetch(tenant_id)`` reads and decrypts; it runs as a task of its own, which every lane
    that misses meanwhile awaits, instead of each lane querying the store.
    """

    def __init__(self, fetch: Callable[[str], Awaitable[TenantKeys]], *, ttl: float) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._fresh: dict[str, tuple[float, TenantKeys]] = {}
        self._pending: dict[str, asyncio.Task[TenantKeys]] = {}

    async def get(self, tenant_id: str) -> TenantKeys:
        hit = self._fresh.get(tenant_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        task = self._pending.get(tenant_id)
        if task is None:
            task = asyncio.create_task(self._load(tenant_id), name=f"webhook-keys-{tenant_id}")
            self._pending[tenant_id] = task
        return await asyncio.shield(task)

    async def _load(self, tenant_id: str) -> TenantKeys:
        try:
            keys = await self._fetch(tenant_id)
            self._fresh[tenant_id] = (time.monotonic() + self._ttl, keys)
            return keys
        finally:
            del self._pending[tenant_id]

    def __repr__(self) -> str:
        return f"<KeyCache {len(self._fresh)} tenants, {len(self._pending)} fetching>"
