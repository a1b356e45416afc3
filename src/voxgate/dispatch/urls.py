"""Audio URLs become voice files of the tenant while the request is being answered.

An NXCloud ``gpsend`` ``url`` or a PhalApi ``voicetype=2`` URL is fetched with
:func:`voxgate.fetch.fetch_audio` (SSRF-guarded, 8 MB, one time cap), decoded and stored once
as a voice file with source ``url``; the call script then plays that file. A URL under this
server's own ``/v1/media/<id>`` (what NXCloud ``uploadVoiceFile`` answers) names the tenant's
uploaded file directly and is never fetched.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpx

from voxgate.errors import InvalidInput
from voxgate.fetch import AddressPolicy, FetchError, fetch_audio
from voxgate.fetch.client import TIMEOUT
from voxgate.store import voicefiles as repo
from voxgate.voicefiles.service import VoiceFileService

log = logging.getLogger(__name__)

MEDIA_PATH = "/v1/media/"
_OWN_PATH = re.compile(r"^/v1/media/(\d{16})(?:/audio)?/?$")
MAX_NAME = 255


class UnusableAudio(FetchError):
    """The audio at the URL cannot be decoded."""

    error_id = "audio_undecodable"


class UnknownMediaUrl(FetchError):
    """The URL names a voice file on this server that the tenant does not have."""

    error_id = "voice_file_not_found"


def media_url(public_url: str, voice_id: str) -> str:
    """Where a voice file lives on this server: ``<public_url>/v1/media/<id>``."""
    return public_url.rstrip("/") + MEDIA_PATH + voice_id


class AudioUrls:
    def __init__(
        self,
        *,
        voices: VoiceFileService,
        public_url: str,
        allow: Iterable[str] = (),
        time_limit: float = TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.voices = voices
        self.public_url = public_url
        self.policy = AddressPolicy(allow)
        self.time_limit = time_limit
        self.transport = transport
        base = urlsplit(public_url)
        self._origin = (base.scheme.lower(), base.netloc.lower())
        self._prefix = base.path.rstrip("/")

    def own_file_id(self, url: str) -> str | None:
        """The voice file id when ``url`` is one of this server's media URLs."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        if (parts.scheme.lower(), parts.netloc.lower()) != self._origin:
            return None
        path = parts.path
        if self._prefix:
            if not path.startswith(self._prefix + "/"):
                return None
            path = path[len(self._prefix) :]
        match = _OWN_PATH.match(path)
        return match.group(1) if match else None

    async def voice_file(self, tenant_id: str, url: str) -> str:
        """The id of a voice file of ``tenant_id`` holding the audio at ``url``.

        Raises a :class:`~voxgate.fetch.FetchError` subclass when the URL cannot be used.
        """
        own = self.own_file_id(url)
        if own is not None:
            async with self.voices.db.connect() as conn:
                if own not in await repo.approved_ids(conn, tenant_id, [own]):
                    raise UnknownMediaUrl(f"no voice file {own} of this tenant", url=url)
            return own
        fetched = await fetch_audio(
            url, allow=self.policy, time_limit=self.time_limit, transport=self.transport
        )
        try:
            stored = await self.voices.upload(
                tenant_id=tenant_id, name=url[:MAX_NAME], data=fetched.data, source="url"
            )
        except InvalidInput as exc:
            raise UnusableAudio(f"the audio at the URL cannot be used: {exc.message}") from None
        log.info(
            "audio url stored",
            extra={
                "action": "audio_url_stored",
                "voice_id": stored.id,
                "bytes": len(fetched.data),
                "duration_ms": stored.duration_ms,
            },
        )
        return stored.id

    def __repr__(self) -> str:
        return f"<AudioUrls public={self.public_url} {self.policy!r}>"
