"""The delivery worker: claims due deliveries, sends them, records every attempt.

One loop, the pump, does all the SQL: in one transaction it gives back what it will not send,
records the attempts that finished since its last turn and claims due deliveries. Sending
happens in *lanes*: at most ``concurrency`` per process and ``per_host`` to any one host, so a
slow or hostile receiver holds at most ``per_host`` lanes.

The pump claims ahead into per-host ready queues (:mod:`voxgate.webhooks.dispatch`), so a lane
that finishes an attempt starts the next at once instead of waiting for the database. How far
ahead follows each host's attempt latency, bounded so that every claimed delivery can still be
started within its lease; one that could not is never sent by this worker but given back. The
lease therefore only has to cover one attempt plus the wait in the queue, not a fixed number
of attempts.

When the pump runs: at once when a commit enqueued deliveries (then every 5 ms for 100 ms),
when a host's ready queue runs low while the database had more for it, or when
``record_batch`` attempts have finished; finished attempts otherwise wait at most
``record_delay`` to be recorded; and every ``poll_seconds`` regardless.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from voxgate import __version__
from voxgate.clock import Clock, SystemClock
from voxgate.security.secrets import SecretBox
from voxgate.store import webhooks as store
from voxgate.store.db import Database
from voxgate.webhooks import signing, targets
from voxgate.webhooks.dispatch import Claimed, Dispatch
from voxgate.webhooks.formats.base import compact_json
from voxgate.webhooks.keys import KeyCache, TenantKeys, open_keys
from voxgate.webhooks.outbox import on_enqueue_commit
from voxgate.webhooks.retry import RetryPolicy
from voxgate.webhooks.sender import AttemptResult, Sender, Timeouts

log = logging.getLogger(__name__)

__all__ = ["DeliveryWorker", "TenantKeys", "WorkerConfig", "prepare_request"]


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    concurrency: int = 64
    per_host: int = 8
    poll_seconds: float = 0.5
    lease_seconds: float = 60.0  # must exceed attempt_deadline: the rest is the queue's window
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    attempt_deadline: float = 30.0
    response_cap: int = 4096
    batch: int = 256  # most deliveries claimed per pump turn
    prefetch_rounds: int = 32  # most claimed ahead per host, in multiples of per_host
    record_batch: int = 64  # finished attempts that make the pump record them at once
    record_delay: float = 0.02  # otherwise the longest a finished attempt waits to be recorded
    key_cache_seconds: float = 2.0

    def __post_init__(self) -> None:
        if self.lease_seconds <= self.attempt_deadline:
            raise ValueError("the lease must be longer than the attempt deadline")

    @property
    def giveback_margin(self) -> float:
        """Lease a set-aside delivery must have left to be given back rather than left to
        expire: the release must land before another worker may claim it."""
        return min(1.0, self.attempt_deadline / 4)


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


def request_record(urls: list[str], headers: Mapping[str, str], content: bytes, stored: str) -> str:
    """The attempt log's account of a request: ``POST <url>`` per URL posted to (a redirect
    adds one), the headers, and the body when it is not the delivery's stored one (a Huawei
    callback signed per attempt)."""
    lines = [*(f"POST {url}" for url in urls), *(f"{k}: {v}" for k, v in headers.items())]
    text = "\n".join(lines)
    if content != stored.encode("utf-8"):
        text += "\n\n" + content.decode("utf-8", "replace")
    return text


class DeliveryWorker:
    def __init__(
        self,
        *,
        db: Database,
        box: SecretBox,
        config: WorkerConfig,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        sender: Sender | None = None,
    ) -> None:
        self.db = db
        self.box = box
        self.config = config
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self._sender = sender
        self._own_sender = sender is None
        self._dispatch = Dispatch(
            concurrency=config.concurrency,
            per_host=config.per_host,
            max_depth=config.prefetch_rounds * config.per_host,
            window=config.lease_seconds - config.attempt_deadline,
            deadline=config.attempt_deadline,
        )
        self._keys = KeyCache(self._load_keys, ttl=config.key_cache_seconds)
        self._wake = asyncio.Event()
        self._results: list[store.AttemptRecord] = []
        self._flush: asyncio.TimerHandle | None = None
        self._saturated: set[str] = set()  # hosts whose last claim was cut short by their room
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._unlisten: Callable[[], None] | None = None
        self._eager_until = 0.0
        self._stopping = False
        self.delivered = 0
        self.failed_attempts = 0

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._sender is None:
            cfg = self.config
            self._sender = Sender.pooled(
                connections=cfg.concurrency,
                timeouts=Timeouts(cfg.connect_timeout, cfg.read_timeout, cfg.attempt_deadline),
                response_cap=cfg.response_cap,
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
        self._dispatch.set_aside_all()
        with contextlib.suppress(Exception):
            await self.pump(claim=False)  # record the outcomes, give back what waited
        if self._own_sender and self._sender is not None:
            await self._sender.aclose()
            self._sender = None

    def wake(self) -> None:
        """Look for work now (and keep looking closely for a moment: a commit may be landing)."""
        self._eager_until = time.monotonic() + 0.1
        self._wake.set()

    # --- the pump: give back, record, claim, in one transaction -----------------------------

    async def _pump_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()  # a wake-up during the turn makes another turn
            try:
                more = await self.pump()
            except Exception:
                log.exception("webhook pump failed", extra={"action": "webhook_pump_failed"})
                await asyncio.sleep(min(1.0, self.config.poll_seconds))
                continue
            if more or self._wanted():
                continue
            if self._results and self._flush is None:
                self._flush = asyncio.get_running_loop().call_later(
                    self.config.record_delay, self._flush_now
                )
            eager = time.monotonic() < self._eager_until
            timeout = 0.005 if eager else self.config.poll_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _wanted(self) -> bool:
        """Whether the pump has a reason to run now rather than wait."""
        if len(self._results) >= self.config.record_batch:
            return True
        return any(self._dispatch.low(host) for host in self._saturated)

    def _flush_now(self) -> None:
        self._flush = None
        self._wake.set()

    async def pump(self, *, claim: bool = True) -> bool:
        """Give back, record what finished, claim what fits; True if more may be due now."""
        cfg = self.config
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        results, self._results = self._results, []
        stale = self._dispatch.take_stale()
        limit = min(self._dispatch.total_room(), cfg.batch) if claim else 0
        if not results and not stale and limit <= 0:
            return False
        full = self._dispatch.full_hosts()
        rows: list[dict[str, Any]] = []
        giveback: list[str] = []
        try:
            async with self.db.begin() as conn:
                # the time once the transaction has begun (on SQLite it may have waited for
                # another writer, whose deliveries are then due too)
                now = self.clock.now()
                giveback = [c.id for c in stale if c.lease_until - now > cfg.giveback_margin]
                lease_until = now + cfg.lease_seconds
                if giveback:
                    await store.release(conn, giveback, now=now)
                if results:
                    await store.record_attempts(conn, results)
                if limit > 0:
                    rows = await store.claim_due(
                        conn,
                        now=now,
                        limit=limit,
                        lease_until=lease_until,
                        host_room=self._dispatch.room,
                        busy_hosts=full,
                    )
        except BaseException:
            self._results = results + self._results
            self._dispatch.set_aside(stale)  # for the next turn
            raise
        if len(giveback) < len(stale):
            log.info(
                "webhook deliveries left to their lease",
                extra={"action": "webhook_lease_left", "count": len(stale) - len(giveback)},
            )
        delivered = sum(1 for r in results if r.new_status == "delivered")
        self.delivered += delivered
        self.failed_attempts += len(results) - delivered
        for row in rows:
            self._dispatch.add(row, lease_until)
        if limit > 0:  # hosts that may have more due than they had room for
            self._saturated = set(full) | {
                str(r["host"]) for r in rows if self._dispatch.room(r["host"]) <= 0
            }
        self._start_lanes()
        return bool(rows) and len(rows) >= limit

    # --- sending ----------------------------------------------------------------------------

    def _start_lanes(self) -> None:
        if self._stopping:
            return
        for host, item in self._dispatch.start(self.clock.now()):
            task = asyncio.create_task(self._lane(host, item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _lane(self, host: str, item: Claimed | None) -> None:
        """Send to one host, one delivery at a time, while its ready queue has any."""
        try:
            while item is not None:
                started = time.monotonic()
                record = await self._attempt(item.row)
                self._results.append(record)  # (not before the await: the pump swaps the list)
                self._dispatch.timed(host, time.monotonic() - started)
                if len(self._results) >= self.config.record_batch or (
                    host in self._saturated and self._dispatch.low(host)
                ):
                    self._wake.set()
                elif self._flush is None:
                    self._flush = asyncio.get_running_loop().call_later(
                        self.config.record_delay, self._flush_now
                    )
                item = None if self._stopping else self._dispatch.next(host, self.clock.now())
        finally:
            self._dispatch.lane_done(host)
            self._start_lanes()  # another host's deliveries may wait for a lane

    async def _load_keys(self, tenant_id: str) -> TenantKeys:
        async with self.db.connect() as conn:
            target = await store.hook_target(conn, tenant_id)
        return open_keys(target, self.box)

    async def _refusal(self, url: str, keys: TenantKeys, from_request: bool) -> str | None:
        """Why ``url`` may not be called, as far as the URL alone says. A host the tenant
        does not trust is resolved when it is connected to, by the sender's public pool,
        which refuses non-public addresses (see :mod:`voxgate.webhooks.network`)."""
        literal = targets.literal_address(url)
        return targets.refusal(
            url,
            trustlist=keys.trustlist,
            from_request=from_request,
            addresses=() if literal is None else (literal,),
        )

    async def _attempt(self, row: dict[str, Any]) -> store.AttemptRecord:
        attempt = int(row["attempts"])
        request: str | None = None
        try:
            keys = await self._keys.get(row["tenant_id"])
            from_request = bool(row["url_from_request"])
            reason = await self._refusal(row["url"], keys, from_request)
            if reason is not None:
                result = AttemptResult(False, None, None, f"target refused: {reason}", 0.0, True)
            else:
                content, headers = prepare_request(
                    row, keys, now=self.clock.now(), nonce=secrets.token_hex(16)
                )
                assert self._sender is not None
                result = await self._sender.send(
                    fmt=row["format"],
                    url=row["url"],
                    content=content,
                    headers=headers,
                    trusted=partial(targets.trusted, trustlist=keys.trustlist),
                    check_redirect=partial(self._refusal, keys=keys, from_request=from_request),
                )
                if result.url is not None:  # something was posted
                    urls = [row["url"]] if result.url == row["url"] else [row["url"], result.url]
                    request = request_record(urls, headers, content, row["body"])
        except Exception as exc:  # a bug or a bad stored secret: log it, retry later
            log.exception(
                "webhook attempt crashed",
                extra={"action": "webhook_attempt_crashed", "call_id": row["call_id"]},
            )
            result = AttemptResult(False, None, None, f"internal error: {exc!r}", 0.0)
        return self._decide(row, attempt, result, request)

    def _decide(
        self, row: Mapping[str, Any], attempt: int, res: AttemptResult, request: str | None
    ) -> store.AttemptRecord:
        now = self.clock.now()
        if res.ok:
            status, next_at = "delivered", None
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "webhook delivered",
                    extra={"action": "webhook_delivered", **self._log_fields(row, attempt, res)},
                )
        else:
            decision = self.config.policy.decide(
                attempt, now=now, draw=self.rng.random(), permanent=res.permanent
            )
            status, next_at = ("dead", None) if decision.dead else ("pending", decision.retry_at)
            action = "webhook_dead" if decision.dead else "webhook_attempt_failed"
            level = logging.WARNING if decision.dead else logging.INFO
            log.log(
                level,
                "webhook attempt failed: %s",
                res.error,
                extra={"action": action, **self._log_fields(row, attempt, res)},
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
            request=request,
        )

    @staticmethod
    def _log_fields(row: Mapping[str, Any], attempt: int, res: AttemptResult) -> dict[str, Any]:
        return {
            "call_id": row["call_id"],
            "delivery_id": row["id"],
            "format": row["format"],
            "attempt": attempt,
            "status_code": res.status_code,
        }

    def __repr__(self) -> str:
        return f"<DeliveryWorker {self._dispatch!r}>"
