"""The media preparer: every call's audio is ready before the call may be dialled.

Accepted calls arrive as ``queued`` call jobs (written in the accepting transaction). The
preparer claims them (``store/jobs.py``), and for each call:

- fetches any ``play`` URL still in the script (native scripts; the dialects fetch theirs
  while answering the request) into a voice file, and rewrites the script to play it;
- renders every ``say`` step to telephone audio in each configured codec, through the
  content-addressed TTS cache, in a thread (``asyncio.to_thread``);
- loads every ``play`` file to prove it exists and decodes;

then marks the job ``ready`` for the dialler. At answer time the engine asks
:func:`say_audio` again and gets a cache hit: nothing is synthesised after answer. A call
whose media cannot be prepared ends ``failed`` with the reason in its ``result`` and a
``call.failed`` event; unexpected errors are retried up to ``max_attempts`` times.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from voxgate.calls.events import CallEvent, EventSink, record_event
from voxgate.calls.script import CallScript, Gather, Play, Say, Step
from voxgate.dispatch.urls import AudioUrls
from voxgate.errors import InvalidInput, NotFound, VoxgateError
from voxgate.fetch import FetchError
from voxgate.media.g711 import Codec
from voxgate.media.render import TelephoneAudio
from voxgate.settings import Settings
from voxgate.store import jobs
from voxgate.store import voicefiles as voice_repo
from voxgate.store.db import Database
from voxgate.tts.base import UnknownVoice
from voxgate.tts.service import COMMON_PHRASES, DIGITS, Speech
from voxgate.tts.text import spell_digits
from voxgate.voicefiles.service import VoiceFileService

log = logging.getLogger(__name__)


class VoiceFileMissing(NotFound):
    """A voice file the call plays does not exist (or is not approved) for the tenant."""

    error_id = "voice_file_not_found"


# Errors that another attempt cannot fix: the call fails at once.
PERMANENT: tuple[type[Exception], ...] = (FetchError, UnknownVoice, NotFound, InvalidInput)


# --- what a script plays --------------------------------------------------------------------


def steps_of(steps: Iterable[Step]) -> Iterator[Step]:
    """Every step, including those inside a gather's branches and no-input path."""
    for step in steps:
        yield step
        if isinstance(step, Gather):
            for branch in step.branches.values():
                yield from steps_of(branch)
            yield from steps_of(step.no_input)


def spoken_text(step: Say) -> str:
    """The text a ``say`` step speaks (digit steps read one digit at a time)."""
    return spell_digits(step.text) if step.digits else step.text


def say_audio(speech: Speech, step: Say, codec: Codec, *, force: bool = False) -> TelephoneAudio:
    """A ``say`` step as telephone audio: the one rendering the preparer and the player share."""
    return speech.say(
        spoken_text(step), voice=step.voice, language=step.language, codec=codec, force=force
    )


def _replace_urls(steps: Sequence[Step], files: dict[str, str]) -> list[Step]:
    out: list[Step] = []
    for step in steps:
        if isinstance(step, Play) and step.url is not None:
            step = Play(file_id=files[step.url], loop=step.loop)
        elif isinstance(step, Gather):
            step = step.model_copy(
                update={
                    "branches": {k: _replace_urls(v, files) for k, v in step.branches.items()},
                    "no_input": _replace_urls(step.no_input, files),
                }
            )
        out.append(step)
    return out


# --- the worker -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PrepareConfig:
    concurrency: int = 2
    poll_seconds: float = 0.25
    lease_seconds: float = 300.0
    max_attempts: int = 3
    codecs: tuple[Codec, ...] = ("pcmu", "pcma")
    prewarm: bool = True
    prewarm_phrases: tuple[str, ...] = field(default=(*DIGITS, *COMMON_PHRASES))


def config_of(settings: Settings) -> PrepareConfig:
    return PrepareConfig(
        concurrency=settings.prepare_concurrency,
        poll_seconds=settings.prepare_poll_seconds,
        lease_seconds=settings.prepare_lease_seconds,
        max_attempts=settings.prepare_max_attempts,
        codecs=tuple(settings.prepare_codecs),
        prewarm=settings.tts_prewarm,
    )


class Preparer:
    def __init__(
        self,
        *,
        db: Database,
        speech: Speech,
        voices: VoiceFileService,
        urls: AudioUrls,
        sink: EventSink | None,
        config: PrepareConfig,
    ) -> None:
        self.db = db
        self.speech = speech
        self.voices = voices
        self.urls = urls
        self.sink = sink
        self.config = config
        self.worker = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._loop: asyncio.Task[None] | None = None
        self._beat: asyncio.Task[None] | None = None
        self._prewarm: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.prepared = 0
        self.failed = 0
        self.prewarmed = 0

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="prepare")
        self._beat = asyncio.create_task(self._heartbeat(), name="prepare-heartbeat")
        if self.config.prewarm:
            self._prewarm = asyncio.create_task(self.prewarm(), name="tts-prewarm")
        log.info("media preparer started", extra={"action": "prepare_started"})

    async def stop(self) -> None:
        for task in (self._prewarm, self._loop, self._beat):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._prewarm = self._loop = self._beat = None
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        # A cancelled job stays ``preparing`` until its lease runs out; then it is re-claimed.
        await asyncio.gather(*tasks, return_exceptions=True)

    async def prewarm(self) -> None:
        """Render popular prompts into the cache, one at a time, in the background."""
        started = time.monotonic()
        for phrase in self.config.prewarm_phrases:
            for codec in self.config.codecs:
                try:
                    await asyncio.to_thread(self.speech.say, phrase, codec=codec)
                except VoxgateError as exc:
                    log.warning(
                        "prewarm failed: %s",
                        exc.message,
                        extra={"action": "tts_prewarm_failed"},
                    )
                    return
                self.prewarmed += 1
        log.info(
            "tts cache prewarmed",
            extra={
                "action": "tts_prewarmed",
                "count": self.prewarmed,
                "seconds": round(time.monotonic() - started, 2),
            },
        )

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                claimed = await self.pump()
            except Exception:
                log.exception("prepare pump failed", extra={"action": "prepare_pump_failed"})
                claimed = 0
            if claimed:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.poll_seconds)

    async def _heartbeat(self) -> None:
        every = self.config.lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            if not self._inflight:
                continue
            try:
                async with self.db.begin() as conn:
                    await jobs.heartbeat(
                        conn, list(self._inflight), worker=self.worker, now=time.time()
                    )
            except Exception:
                log.exception("prepare heartbeat failed", extra={"action": "prepare_heartbeat"})

    async def pump(self) -> int:
        """Claim what fits in the free slots and start preparing it; how many were claimed."""
        room = self.config.concurrency - len(self._inflight)
        if room <= 0:
            return 0
        now = time.time()
        async with self.db.begin() as conn:
            claimed = await jobs.claim_queued(
                conn,
                worker=self.worker,
                now=now,
                stale_before=now - self.config.lease_seconds,
                limit=room,
                skip_locked=not self.db.is_sqlite,
            )
        for job in claimed:
            task = asyncio.create_task(self.prepare(job), name=f"prepare-{job.id}")
            self._inflight[job.id] = task
            task.add_done_callback(functools.partial(self._done, job.id))
        return len(claimed)

    def _done(self, job_id: int, _task: asyncio.Task[None]) -> None:
        self._inflight.pop(job_id, None)
        self._wake.set()

    # --- one job ---------------------------------------------------------------------------

    async def prepare(self, job: jobs.ClaimedJob) -> None:
        started = time.monotonic()
        try:
            async with self.db.connect() as conn:
                call = await jobs.call_row(conn, job.call_id)
            if call is None:
                return  # deleted with its tenant; the job went with it
            if call["status"] != jobs.QUEUED:
                await self._finish(job, jobs.FAILED)
                return
            script = CallScript.model_validate(call["script"])
            script = await self._fetch_urls(job, script)
            force = bool((call["dialect_data"] or {}).get("force_regenerate"))
            await self._render(job.tenant_id, script, force=force)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._failed(job, exc)
            return
        await self._finish(job, jobs.READY)
        self.prepared += 1
        log.info(
            "call media ready",
            extra={
                "action": "call_prepared",
                "call_id": job.call_id,
                "ms": round((time.monotonic() - started) * 1000, 1),
            },
        )

    async def _fetch_urls(self, job: jobs.ClaimedJob, script: CallScript) -> CallScript:
        urls = {s.url for s in steps_of(script.steps) if isinstance(s, Play) and s.url}
        if not urls:
            return script
        files = {url: await self.urls.voice_file(job.tenant_id, url) for url in sorted(urls)}
        script = CallScript(steps=_replace_urls(script.steps, files))
        async with self.db.begin() as conn:
            await jobs.replace_script(
                conn, job.call_id, script.model_dump(mode="json", by_alias=True), now=time.time()
            )
        return script

    async def _render(self, tenant_id: str, script: CallScript, *, force: bool = False) -> None:
        says: dict[Say, None] = {}
        files: dict[str, None] = {}
        for step in steps_of(script.steps):
            if isinstance(step, Say):
                says[step] = None
            elif isinstance(step, Play) and step.file_id is not None:
                files[step.file_id] = None
        for say in says:
            for codec in self.config.codecs:
                await asyncio.to_thread(say_audio, self.speech, say, codec, force=force)
        for file_id in files:
            async with self.db.connect() as conn:
                row = await voice_repo.by_id(conn, tenant_id, file_id)
            if row is None or row["status"] != "approved":
                raise VoiceFileMissing(f"the call plays voice file {file_id}, which does not exist")
            try:
                await asyncio.to_thread(self.voices.load_pcm, row["sha256"])
            except OSError as exc:
                raise VoiceFileMissing(f"the audio of voice file {file_id} is missing") from exc

    async def _finish(self, job: jobs.ClaimedJob, status: str) -> bool:
        async with self.db.begin() as conn:
            return await jobs.finish(
                conn, job.id, worker=self.worker, status=status, now=time.time()
            )

    async def _failed(self, job: jobs.ClaimedJob, exc: Exception) -> None:
        permanent = isinstance(exc, PERMANENT)
        if not permanent and job.attempts < self.config.max_attempts:
            log.warning(
                "call media preparation failed; will retry",
                exc_info=exc,
                extra={"action": "call_prepare_retry", "call_id": job.call_id},
            )
            await self._finish(job, jobs.QUEUED)
            return
        error_id = exc.error_id if isinstance(exc, VoxgateError) else "media_preparation_failed"
        detail = exc.message if isinstance(exc, VoxgateError) else "the call's media failed"
        log.warning(
            "call media cannot be prepared: %s",
            detail,
            exc_info=None if permanent else exc,
            extra={"action": "call_prepare_failed", "call_id": job.call_id, "error": error_id},
        )
        now = time.time()
        result: dict[str, Any] = {"error": {"error_id": error_id, "detail": detail}}
        async with self.db.begin() as conn:
            if not await jobs.finish(conn, job.id, worker=self.worker, status=jobs.FAILED, now=now):
                return
            row = await jobs.fail_queued_call(conn, job.call_id, result=result, now=now)
            if row is not None:
                event = CallEvent("call.failed", now, {"reason": error_id})
                await record_event(conn, row, event, sink=self.sink)
        self.failed += 1

    def __repr__(self) -> str:
        return (
            f"<Preparer {self.worker} [{len(self._inflight)} preparing | "
            f"limit {self.config.concurrency}] prepared={self.prepared} failed={self.failed}>"
        )
