"""Upload and look up voice files. The audio is stored once as 8 kHz 16-bit WAV on disk
under ``<data_dir>/voice/<sha256>.wav``; the row in ``voice_files`` names it per tenant."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voxgate.errors import InvalidInput
from voxgate.media.decode import decode_audio
from voxgate.media.wav import pcm_to_wav, wav_to_pcm
from voxgate.store import voicefiles as repo
from voxgate.store.db import Database

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
RATE = 8000


def new_voice_id() -> str:
    return str(10**15 + secrets.randbelow(8 * 10**15))


@dataclass(frozen=True)
class StoredVoice:
    id: str
    name: str
    sha256: str
    duration_ms: int


class VoiceFileService:
    def __init__(self, *, db: Database, data_dir: Path) -> None:
        self.db = db
        self.directory = data_dir / "voice"

    def path_of(self, sha256: str) -> Path:
        return self.directory / f"{sha256}.wav"

    def _store(self, data: bytes) -> tuple[str, int]:
        pcm = decode_audio(data)
        wav = pcm_to_wav(pcm, RATE)
        digest = hashlib.sha256(wav).hexdigest()
        path = self.path_of(digest)
        if not path.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(wav)
            os.replace(tmp, path)
        return digest, int(len(pcm) * 1000 / RATE)

    async def upload(
        self,
        *,
        tenant_id: str,
        name: str,
        data: bytes,
        source: str,
        locale: str | None = None,
        scene: str = "3",
    ) -> StoredVoice:
        if not data:
            raise InvalidInput("the voice file is empty", field="file")
        if len(data) > MAX_UPLOAD_BYTES:
            raise InvalidInput("the voice file is larger than 8 MB", field="file")
        name = name.strip()
        if not name or len(name) > 255:
            raise InvalidInput("a voice file name has 1 to 255 characters", field="name")
        digest, duration_ms = await asyncio.to_thread(self._store, data)
        voice_id = new_voice_id()
        async with self.db.begin() as conn:
            await repo.insert_voice_file(
                conn,
                id=voice_id,
                tenant_id=tenant_id,
                name=name,
                status="approved",
                scene=scene,
                locale=locale,
                source=source,
                sha256=digest,
                duration_ms=duration_ms,
                created_at=time.time(),
            )
        return StoredVoice(voice_id, name, digest, duration_ms)

    async def list(self, tenant_id: str, *, offset: int, limit: int) -> list[dict[str, Any]]:
        async with self.db.connect() as conn:
            return await repo.list_voice_files(conn, tenant_id, offset=offset, limit=limit)

    def load_pcm(self, sha256: str) -> npt.NDArray[np.int16]:
        pcm, rate = wav_to_pcm(self.path_of(sha256).read_bytes())
        if rate != RATE:
            raise InvalidInput(f"stored voice {sha256} is not 8 kHz")
        return pcm
