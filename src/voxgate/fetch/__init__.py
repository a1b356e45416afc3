"""Fetching customer audio from URLs, safely (SSRF-guarded, capped, content-sniffed)."""

from voxgate.fetch.client import FetchedAudio, fetch_audio
from voxgate.fetch.errors import (
    BlockedDestination,
    FetchError,
    FetchTimeout,
    NotAudio,
    TooLarge,
)
from voxgate.fetch.policy import AddressPolicy

__all__ = [
    "AddressPolicy",
    "BlockedDestination",
    "FetchError",
    "FetchTimeout",
    "FetchedAudio",
    "NotAudio",
    "TooLarge",
    "fetch_audio",
]
