"""Bearer tokens (Huawei AccessToken, PhalApi login token): minted, stored hashed, cached."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from voxgate.security.secrets import SecretBox
from voxgate.store.db import Database
from voxgate.store.schema import access_tokens


@dataclass(frozen=True, slots=True)
class TokenGrant:
    tenant_id: str
    app_id: str
    dialect: str
    created_at: float
    expires_at: float

    def __repr__(self) -> str:
        return f"<TokenGrant {self.dialect} tenant={self.tenant_id[:8]} exp={self.expires_at:.0f}>"


class TokenService:
    """Issues and checks tokens. A short positive cache keeps the hot path off the database.

    A revoked token may keep working on another node for up to ``cache_seconds``.
    """

    def __init__(self, *, db: Database, box: SecretBox, cache_seconds: float = 5.0) -> None:
        self.db = db
        self.box = box
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, TokenGrant]] = {}

    async def issue(
        self, *, tenant_id: str, app_id: str, dialect: str, ttl: float
    ) -> tuple[str, TokenGrant]:
        token = secrets.token_hex(24)
        now = time.time()
        grant = TokenGrant(tenant_id, app_id, dialect, now, now + ttl)
        async with self.db.begin() as conn:
            await conn.execute(
                insert(access_tokens).values(
                    token_hash=self.box.hash(token),
                    app_id=app_id,
                    tenant_id=tenant_id,
                    dialect=dialect,
                    created_at=grant.created_at,
                    expires_at=grant.expires_at,
                    revoked=False,
                )
            )
        return token, grant

    async def check(self, token: str, dialect: str) -> TokenGrant | None:
        """The grant for a live token of this dialect, else None."""
        now = time.time()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            grant = hit[1]
        else:
            async with self.db.connect() as conn:
                row = (
                    await conn.execute(
                        select(
                            access_tokens.c.tenant_id,
                            access_tokens.c.app_id,
                            access_tokens.c.dialect,
                            access_tokens.c.created_at,
                            access_tokens.c.expires_at,
                        ).where(
                            (access_tokens.c.token_hash == self.box.hash(token))
                            & (access_tokens.c.revoked == False)  # noqa: E712
                        )
                    )
                ).first()
            if row is None:
                self._cache.pop(token, None)
                return None
            grant = TokenGrant(*row)
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[token] = (now + self.cache_seconds, grant)
        if grant.dialect != dialect or grant.expires_at <= now:
            return None
        return grant

    async def revoke(self, token: str) -> bool:
        self._cache.pop(token, None)
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(access_tokens)
                .where(access_tokens.c.token_hash == self.box.hash(token))
                .values(revoked=True)
            )
        return bool(result.rowcount)

    async def revoke_app(self, app_id: str, dialect: str) -> int:
        """Revoke every live token of one app in one dialect; returns how many."""
        self._cache = {t: hit for t, hit in self._cache.items() if hit[1].app_id != app_id}
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(access_tokens)
                .where(
                    (access_tokens.c.app_id == app_id)
                    & (access_tokens.c.dialect == dialect)
                    & (access_tokens.c.revoked == False)  # noqa: E712
                )
                .values(revoked=True)
            )
        return int(result.rowcount or 0)
