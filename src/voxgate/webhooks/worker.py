"""The delivery worker: claims due deliveries, sends them, records every attempt.

One loop, the pump, does all the SQL: in one transaction it records the attempts that finished
since its last turn and claims due deliveries. Sending happens in *lanes*: at most
``concurrency`` per process and ``per_host`` to any one host, so a slow or hostile receiver
holds at most ``per_host`` lanes. The pump claims up to ``prefetch_rounds`` rounds ahead
(``per_host`` each, per host) into a per-host ready queue, so a lane that finishes an attempt
starts the next at once instead of waiting for a database round trip; the lease covers that
wait (it is at least ``(prefetch_rounds + 1) * attempt_deadline``).
A commit that enqueued deliveries, or a finished attempt, wakes the pump at once; otherwise it
polls every ``poll_seconds``.
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
from collections import Counter, defaultdict, deque
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
    prefetch_rounds: int = 3  # claimed-ahead deliveries per host, in multiples of per_host
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
        self._inflight = 0
        self._hosts: Counter[str] = Counter()  # lanes (attempts in flight) per host
        self._ready: dict[str, deque[dict[str, Any]]] = defaultdict(deque)  # claimed, waiting
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
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
        self._unlisten = on_enqueue_commit(
            self.db.write_engines, lambda: loop.call_soon_threadsafe(self.wake)
        )
        self._loop = asyncio.create_task(self._pump_loop(), name="webhooks")
        log.info("webhook worker started", extra={"action": "webhook_worker_started"})

    async def stop(self) -> None:
        self._stopping = True
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        if self._tasks:  # let attempts in flight finish so their outcomes are recorded
            await asyncio.wait(self._tasks, timeout=self.config.attempt_deadline)
        waiting = [r["id"] for q in self._ready.values() for r in q]
        self._ready.clear()
        with contextlib.suppress(Exception):
            await self.pump(claim=False)
            if waiting:
                async with self.db.begin() as conn:
                    await store.release(conn, waiting, now=self.clock.now())
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self) -> None:
        """Look for work now (and keep looking closely for a moment: a commit may be landing)."""
        self._eager_until = time.monotonic() + 0.1
        self._wake.set()

    # --- the pump: record finished attempts and claim new ones, in one transaction ---------

    async def _pump_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                busy = await self.pump()
            except Exception:
                log.exception("webhook pump failed", extra={"action": "webhook_pump_failed"})
                await asyncio.sleep(min(1.0, self.config.poll_seconds))
                continue
            if busy:
                continue
            eager = time.monotonic() < self._eager_until
            timeout = 0.005 if eager else self.config.poll_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def pump(self, *, claim: bool = True) -> bool:
        """Record what finished, claim what fits; True if it did anything."""
        cfg = self.config
        results, self._results = self._results, []
        waiting = sum(len(q) for q in self._ready.values())
        ahead = 1 + cfg.prefetch_rounds
        room = ahead * cfg.concurrency - self._inflight - waiting if claim else 0
        if not results and room <= 0:
            return False
        now = self.clock.now()

        def host_room(host: str) -> int:
            return ahead * cfg.per_host - self._hosts[host] - len(self._ready.get(host, ()))

        busy = [h for h in self._hosts if host_room(h) <= 0]
        try:
            async with self.db.begin() as conn:
                if results:
                    await store.record_attempts(conn, results)
                rows = []
                if room > 0:
                    rows = await store.claim_due(
                        conn,
                        now=now,
                        limit=min(room, cfg.batch),
                        lease_until=now + cfg.lease_seconds,
                        host_room=host_room,
                        busy_hosts=busy,
                    )
        except BaseException:
            self._results = results + self._results
            raise
        delivered = sum(1 for r in results if r.new_status == "delivered")
        self.delivered += delivered
        self.failed_attempts += len(results) - delivered
        for row in rows:
            host = row["host"]
            if self._inflight < cfg.concurrency and self._hosts[host] < cfg.per_host:
                self._inflight += 1
                self._hosts[host] += 1
                task = asyncio.create_task(self._lane(host, row))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                self._ready[host].append(row)
        return bool(rows) or delivered > 0

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

    async def _lane(self, host: str, row: dict[str, Any] | None) -> None:
        """Send to one host, one delivery at a time, while the pump keeps it fed."""
        try:
            while row is not None:
                record = await self._attempt(row)  # (the pump swaps self._results meanwhile)
                self._results.append(record)
                self._wake.set()
                ready = self._ready.get(host)
                row = ready.popleft() if ready and not self._stopping else None
        finally:
            self._inflight -= 1
            self._hosts[host] -= 1
            if self._hosts[host] <= 0:
                del self._hosts[host]
            self._wake.set()

    async def _attempt(self, row: dict[str, Any]) -> store.AttemptRecord:
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
        return self._decide(row, attempt, result)

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

    def __repr__(self) -> str:
        return (
            f"<DeliveryWorker [{self._inflight} in flight, {len(self._hosts)} hosts"
            f" | limit {self.config.concurrency}/{self.config.per_host} per host]>"
        )
