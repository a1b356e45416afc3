"""Where a callback may go. Pure: addresses are resolved by the caller and passed in.

* Only ``http`` and ``https``.
* A URL that came from an API request (Huawei ``callBackUrl``, a native per-call URL) must
  name a host on the tenant's callback trustlist (``host`` or ``host:port``).
* Whatever its origin, a URL whose host resolves to a loopback, private, link-local or
  otherwise non-public address is refused unless that host is on the trustlist.
* A redirect is followed only to a URL that passes the same rules.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit


def host_key(url: str) -> str:
    """``host[:port]`` in lower case, as the trustlist and the per-host limits see it."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def trusted(url: str, trustlist: Iterable[str]) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    allowed = trustlist if isinstance(trustlist, (set, frozenset)) else set(trustlist)
    if host in allowed:
        return True
    try:
        port = parts.port
    except ValueError:
        return False
    return port is not None and f"{host}:{port}" in allowed


def literal_address(url: str) -> str | None:
    """The host if it is an IP address literal, else None (it needs resolving)."""
    host = urlsplit(url).hostname or ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_global and not ip.is_multicast


def refusal(
    url: str, *, trustlist: Iterable[str], from_request: bool, addresses: Iterable[str]
) -> str | None:
    """Why ``url`` may not be called, or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "only http and https URLs with a host can receive callbacks"
    hosts = list(trustlist)
    if trusted(url, hosts):
        return None
    if from_request:
        return f"host {host_key(url)} is not on the tenant's callback trustlist"
    blocked = [a for a in addresses if not is_public(a)]
    if blocked:
        return f"host {host_key(url)} resolves to a non-public address ({blocked[0]})"
    return None
