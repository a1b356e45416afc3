"""Building the webhook objects from Settings (the composition root calls these)."""

from __future__ import annotations

from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from voxgate.settings import Settings
from voxgate.webhooks.formats.base import Platform
from voxgate.webhooks.retry import RetryPolicy
from voxgate.webhooks.worker import WorkerConfig


def platform_of(settings: Settings) -> Platform:
    host = urlsplit(settings.public_url).hostname or settings.http_host
    return Platform(public_host=host, tz=ZoneInfo(settings.webhook_timezone))


def policy_of(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.webhook_max_attempts,
        base=settings.webhook_backoff_base,
        factor=settings.webhook_backoff_factor,
        cap=settings.webhook_backoff_cap,
        jitter=settings.webhook_backoff_jitter,
    )


def worker_config_of(settings: Settings) -> WorkerConfig:
    return WorkerConfig(
        policy=policy_of(settings),
        concurrency=settings.webhook_concurrency,
        per_host=settings.webhook_per_host,
        poll_seconds=settings.webhook_poll_seconds,
        # one attempt, plus as long again for waiting in the host's ready queue (at least)
        lease_seconds=max(settings.webhook_lease_seconds, 2 * settings.webhook_attempt_deadline),
        connect_timeout=settings.webhook_connect_timeout,
        read_timeout=settings.webhook_read_timeout,
        attempt_deadline=settings.webhook_attempt_deadline,
        response_cap=settings.webhook_response_cap,
    )
