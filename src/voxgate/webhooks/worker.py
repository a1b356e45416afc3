"""The delivery worker: claims due deliveries, sends them, records every attempt.

A slot is taken before a delivery is claimed (``concurrency`` in flight per process); a host
at ``per_host`` deliveries in flight is left out of the claim, so one slow or hostile receiver
holds at most ``per_host`` slots. Outcomes are written in batches, one transaction per batch.
A commit that enqueued deliveries wakes the worker at once; otherwise it polls.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from voxgate import __version__
from voxgate.clock import Clock, SystemClock
from voxgate.security.secrets import SecretBox
from voxgate.store import webhooks as store
from voxgate.store.db import Database
from voxgate.webhooks import signing, targets
from voxgate.webhooks.formats.base import compact_json
from voxgate.webhooks.outbox import on_enqueue_commit
from voxgate.webhooks.retry import RetryPolicy
from voxgate.webhooks.sender import AttemptResult, send_once

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    concurrency: int = 64
    per_host: int = 8
    poll_seconds: float = 0.5
    lease_seconds: float = 60.0
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    attempt_deadline: float = 30.0
    response_cap: int = 4096
    batch: int = 100
    key_cache_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class TenantKeys:
    """What sending needs from a tenant, decrypted."""

    trustlist: frozenset[str]
    callback_secret: str | None
    webhook_secret: str | None
    ed25519: Ed25519PrivateKey | None


def prepare_request(
    row: Mapping[str, Any], keys: TenantKeys, *, now: float, nonce: str
) -> tuple[bytes, dict[str, str]]:
    """The bytes and headers of one attempt. Pure: signatures are made per attempt."""
    fmt = row["format"]
    body: str = row["body"]
    headers = {"Content-Type": row["content_type"], "User-Agent": f"voxgate/{__version__}"}
    if fmt.startswith("huawei.") and row["url_from_request"] and keys.callback_secret:
        fields = json.loads(body)
        body = compact_json(
            signing.huawei_signed(fields, keys.callback_secret, str(int(now * 1000)), nonce)
        )
    content = body.encode("utf-8")
    if fmt == "native":
        headers["Idempotency-Key"] = row["event_id"]
        headers["Voxgate-Event-Id"] = row["event_id"]
        headers["Voxgate-Event-Type"] = row["event_type"]
        headers["Voxgate-Delivery-Id"] = row["id"]
        sig = signing.native_signature(
            content, int(now), secret=keys.webhook_secret, ed25519_key=keys.ed25519
        )
        if sig is not None:
            headers[signing.SIGNATURE_HEADER] = sig
    return content, headers


class DeliveryWorker:
    def __init__(
        self,
        *,
        db: Database,
        box: SecretBox,
        config: WorkerConfig,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.db = db
        self.box = box
        self.config = config
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self._client = client
        self._own_client = client is None
        self._wake = asyncio.Event()
        self._results: list[store.AttemptRecord] = []
        self._results_ready = asyncio.Event()
        self._inflight = 0
        self._hosts: Counter[str] = Counter()
        self._slot_freed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._keys: dict[str, tuple[float, TenantKeys]] = {}
        self._unlisten: Callable[[], None] | None = None
        self._eager_until = 0.0
        self._stopping = False
        self.delivered = 0
        self.failed_attempts = 0

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._client is None:
            cfg = self.config
            self._client = httpx.AsyncClient(
                http2=True,
                follow_redirects=False,
                trust_env=False,
                timeout=httpx.Timeout(
                    cfg.read_timeout, connect=cfg.connect_timeout, pool=cfg.attempt_deadline
                ),
                limits=httpx.Limits(
                    max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency
                ),
            )
        loop = asyncio.get_running_loop()
        self._unlisten = on_enqueue_commit(self.db.engine, lambda: loop.call_soon(self.wake))
        self._loops = [
            asyncio.create_task(self._claim_loop(), name="webhooks-claim"),
            asyncio.create_task(self._record_loop(), name="webhooks-record"),
        ]
        log.info("webhook worker started", extra={"action": "webhook_worker_started"})

    async def stop(self) -> None:
        self._stopping = True
        self.wake()
        if self._unlisten is not None:
            self._unlisten()
        claim = self._loops[0] if self._loops else None
        if claim is not None:
            claim.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await claim
        if self._tasks:  # let attempts in flight finish so their outcomes are recorded
            await asyncio.wait(self._tasks, timeout=self.config.attempt_deadline)
        self._results_ready.set()
        for task in self._loops[1:]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._flush()
        if self._own_client and self._client is not None:
            await self._client.aclose()
        self._loops = []

    def wake(self) -> None:
        self._eager_until = time.monotonic() + 0.1
        self._wake.set()

    # --- claiming ---------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping:
            try:
                claimed = await self.claim_and_send()
            except Exception:
                log.exception("claiming webhooks failed", extra={"action": "webhook_claim_failed"})
                claimed = 0
            if claimed:
                continue
            eager = time.monotonic() < self._eager_until
            timeout = 0.005 if eager else self.config.poll_seconds
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def claim_and_send(self) -> int:
        """Claim what fits in the free slots and start sending it; return how many."""
        free = self.config.concurrency - self._inflight
        if free <= 0:
            self._slot_freed.clear()
            await self._slot_freed.wait()
            return 1
        busy = [h for h, n in self._hosts.items() if n >= self.config.per_host]
        now = self.clock.now()
        async with self.db.begin() as conn:
            rows = await store.claim_due(
                conn,
                now=now,
                limit=min(free, self.config.batch),
                lease_until=now + self.config.lease_seconds,
                busy_hosts=busy,
                skip_locked=not self.db.is_sqlite,
            )
            over = {r["id"] for r in self._over_host_limit(rows)}
            if over:
                await store.release(conn, sorted(over), now=now)
        for row in rows:
            if row["id"] in over:
                continue
            self._inflight += 1
            self._hosts[row["host"]] += 1
            task = asyncio.create_task(self._deliver(row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(rows) - len(over)

    def _over_host_limit(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: Counter[str] = Counter()
        over = []
        for row in rows:
            seen[row["host"]] += 1
            if self._hosts[row["host"]] + seen[row["host"]] > self.config.per_host:
                over.append(row)
        return over

    # --- sending ----------------------------------------------------------------------------

    async def _tenant_keys(self, tenant_id: str) -> TenantKeys:
        now = time.monotonic()
        hit = self._keys.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self.db.connect() as conn:
            target = await store.hook_target(conn, tenant_id)
        if target is None:
            keys = TenantKeys(frozenset(), None, None, None)
        else:
            seed = target.webhook_signing_key
            keys = TenantKeys(
                trustlist=target.trusted_hosts,
                callback_secret=self._open(target.callback_secret),
                webhook_secret=self._open(target.webhook_secret),
                ed25519=(
                    signing.ed25519_key(base64.b64decode(self.box.decrypt(seed))) if seed else None
                ),
            )
        self._keys[tenant_id] = (now + self.config.key_cache_seconds, keys)
        return keys

    def _open(self, sealed: bytes | None) -> str | None:
        return self.box.decrypt(sealed) if sealed else None

    async def _refusal(self, url: str, keys: TenantKeys, from_request: bool) -> str | None:
        reason = targets.refusal(
            url, trustlist=keys.trustlist, from_request=from_request, addresses=()
        )
        if reason is not None or targets.trusted(url, keys.trustlist):
            return reason
        literal = targets.literal_address(url)
        if literal is not None:
            addresses = [literal]
        else:
            hostname = urlsplit(url).hostname or ""
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(hostname, None)
            except OSError as exc:
                return f"cannot resolve {hostname}: {exc}"
            addresses = [str(info[4][0]) for info in infos]
        return targets.refusal(
            url, trustlist=keys.trustlist, from_request=from_request, addresses=addresses
        )

    async def _deliver(self, row: dict[str, Any]) -> None:
        attempt = int(row["attempts"])
        try:
            keys = await self._tenant_keys(row["tenant_id"])
            reason = await self._refusal(row["url"], keys, bool(row["url_from_request"]))
            if reason is not None:
                result = AttemptResult(False, None, None, f"target refused: {reason}", 0.0, True)
            else:
                content, headers = prepare_request(
                    row, keys, now=self.clock.now(), nonce=secrets.token_hex(16)
                )
                assert self._client is not None

                async def check(url: str) -> str | None:
                    return await self._refusal(url, keys, bool(row["url_from_request"]))

                result = await send_once(
                    self._client,
                    fmt=row["format"],
                    url=row["url"],
                    content=content,
                    headers=headers,
                    response_cap=self.config.response_cap,
                    deadline=self.config.attempt_deadline,
                    check_redirect=check,
                )
        except Exception as exc:  # a bug or a bad stored secret: log it, retry later
            log.exception(
                "webhook attempt crashed",
                extra={"action": "webhook_attempt_crashed", "call_id": row["call_id"]},
            )
            result = AttemptResult(False, None, None, f"internal error: {exc!r}", 0.0)
        self._results.append(self._decide(row, attempt, result))
        self._results_ready.set()
        self._inflight -= 1
        self._hosts[row["host"]] -= 1
        if self._hosts[row["host"]] <= 0:
            del self._hosts[row["host"]]
        self._slot_freed.set()

    def _decide(
        self, row: Mapping[str, Any], attempt: int, res: AttemptResult
    ) -> store.AttemptRecord:
        now = self.clock.now()
        extra = {
            "call_id": row["call_id"],
            "delivery_id": row["id"],
            "format": row["format"],
            "attempt": attempt,
            "status_code": res.status_code,
        }
        if res.ok:
            status, next_at = "delivered", None
            log.debug("webhook delivered", extra={"action": "webhook_delivered", **extra})
        else:
            decision = self.config.policy.decide(
                attempt, now=now, draw=self.rng.random(), permanent=res.permanent
            )
            status, next_at = ("dead", None) if decision.dead else ("pending", decision.retry_at)
            action = "webhook_dead" if decision.dead else "webhook_attempt_failed"
            level = logging.WARNING if decision.dead else logging.INFO
            log.log(
                level, "webhook attempt failed: %s", res.error, extra={"action": action, **extra}
            )
        head = res.response_head[:1024] if res.response_head is not None else None
        return store.AttemptRecord(
            delivery_id=row["id"],
            attempt=attempt,
            status_code=res.status_code,
            response_head=head,
            error=res.error,
            latency_ms=res.latency_ms,
            at=now,
            new_status=status,
            next_attempt_at=next_at,
        )

    # --- recording --------------------------------------------------------------------------

    async def _record_loop(self) -> None:
        while True:
            await self._results_ready.wait()
            self._results_ready.clear()
            try:
                await self._flush()
            except Exception:
                log.exception(
                    "recording webhook attempts failed", extra={"action": "webhook_record_failed"}
                )
                await asyncio.sleep(0.5)
                self._results_ready.set()

    async def _flush(self) -> None:
        batch, self._results = self._results, []
        if not batch:
            return
        try:
            async with self.db.begin() as conn:
                await store.record_attempts(conn, batch)
        except Exception:
            self._results = batch + self._results
            raise
        delivered = sum(1 for r in batch if r.new_status == "delivered")
        self.delivered += delivered
        self.failed_attempts += len(batch) - delivered
        if delivered:
            self.wake()  # a call's next delivery may be due now

    def __repr__(self) -> str:
        return (
            f"<DeliveryWorker [{self._inflight} in flight, {len(self._hosts)} hosts"
            f" | limit {self.config.concurrency}/{self.config.per_host} per host]>"
        )
