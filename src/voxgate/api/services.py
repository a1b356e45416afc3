"""The composition root: every long-lived object, built once by the app's lifespan."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from voxgate.calls.accept import CallAcceptor
from voxgate.dispatch.prepare import Preparer, config_of
from voxgate.dispatch.urls import AudioUrls
from voxgate.security.secrets import SecretBox, load_or_create_key
from voxgate.security.tokens import TokenService
from voxgate.settings import Settings
from voxgate.store.db import Database
from voxgate.store.tenants import App, app_by
from voxgate.tenancy.profile import TenantProfile
from voxgate.tenancy.service import TenantService
from voxgate.tts.cache import AudioCache
from voxgate.tts.service import Speech
from voxgate.voicefiles.service import VoiceFileService
from voxgate.webhooks.config import platform_of, worker_config_of
from voxgate.webhooks.outbox import Outbox
from voxgate.webhooks.worker import DeliveryWorker


@dataclass
class AppCache:
    """Apps by id and by each public key, kept for a few seconds."""

    db: Database
    ttl: float
    _items: dict[tuple[str, str], tuple[float, App | None]] = field(default_factory=dict)

    async def get(self, column: str, value: str) -> App | None:
        now = time.monotonic()
        hit = self._items.get((column, value))
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self.db.connect() as conn:
            app = await app_by(conn, column, value)
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[(column, value)] = (now + self.ttl, app)
        return app


@dataclass
class ProfileCache:
    """Tenant profiles for the hot path, kept for a few seconds."""

    tenants: TenantService
    ttl: float
    _items: dict[str, tuple[float, TenantProfile]] = field(default_factory=dict)

    async def get(self, tenant_id: str) -> TenantProfile:
        now = time.monotonic()
        hit = self._items.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        profile = await self.tenants.profile(tenant_id)
        self._items[tenant_id] = (now + self.ttl, profile)
        return profile

    def forget(self, tenant_id: str | None = None) -> None:
        if tenant_id is None:
            self._items.clear()
        else:
            self._items.pop(tenant_id, None)


@dataclass
class Services:
    settings: Settings
    db: Database
    box: SecretBox
    tenants: TenantService
    tokens: TokenService
    profiles: ProfileCache
    apps: AppCache
    calls: CallAcceptor
    voices: VoiceFileService
    outbox: Outbox
    webhooks: DeliveryWorker
    speech: Speech
    audio_urls: AudioUrls
    preparer: Preparer

    @classmethod
    def build(cls, settings: Settings, *, schema: str | None = None) -> Services:
        db = Database(settings.effective_database_url, schema=schema)
        key = load_or_create_key(
            settings.secret_key.get_secret_value() if settings.secret_key else None,
            settings.data_dir,
        )
        box = SecretBox(key)
        tenants = TenantService(db=db, box=box)
        voices = VoiceFileService(db=db, data_dir=settings.data_dir)
        outbox = Outbox(platform=platform_of(settings))
        speech = Speech(
            engines=Speech.default().engines,
            cache=AudioCache(settings.data_dir / "tts-cache", max_bytes=settings.tts_cache_bytes),
        )
        audio_urls = AudioUrls(
            voices=voices, public_url=settings.public_url, allow=settings.fetch_allow
        )
        return cls(
            settings=settings,
            db=db,
            box=box,
            tenants=tenants,
            tokens=TokenService(db=db, box=box, cache_seconds=settings.token_cache_seconds),
            profiles=ProfileCache(tenants=tenants, ttl=settings.token_cache_seconds),
            apps=AppCache(db=db, ttl=settings.token_cache_seconds),
            calls=CallAcceptor(db=db),
            voices=voices,
            outbox=outbox,
            webhooks=DeliveryWorker(db=db, box=box, config=worker_config_of(settings)),
            speech=speech,
            audio_urls=audio_urls,
            preparer=Preparer(
                db=db,
                speech=speech,
                voices=voices,
                urls=audio_urls,
                sink=outbox,
                config=config_of(settings),
            ),
        )

    async def close(self) -> None:
        self.speech.close()
        await self.db.dispose()
