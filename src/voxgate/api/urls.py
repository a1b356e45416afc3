"""URL checks shared by the dialects (pure)."""

from __future__ import annotations

from urllib.parse import urlsplit


def usable_http_url(url: str, *, max_length: int) -> bool:
    """An http(s) URL with a host, a valid port, no spaces or control characters."""
    if not url or len(url) > max_length or any(c.isspace() or ord(c) < 32 for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
