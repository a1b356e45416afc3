"""Why an audio URL could not be used. Every one fails the request (NXCloud code 20)."""

from __future__ import annotations

from voxgate.errors import VoxgateError


class FetchError(VoxgateError):
    """The audio URL could not be fetched."""

    error_id = "audio_fetch_failed"


class BlockedDestination(FetchError):
    """The audio URL points at a private, loopback or otherwise internal address."""

    error_id = "audio_url_blocked"


class TooLarge(FetchError):
    """The audio at the URL is larger than allowed."""

    error_id = "audio_too_large"


class NotAudio(FetchError):
    """The URL did not return a supported audio file."""

    error_id = "audio_not_recognised"


class FetchTimeout(FetchError):
    """Fetching the audio URL took too long."""

    error_id = "audio_fetch_timeout"
