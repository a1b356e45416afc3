"""Fetch an audio URL with httpx, pinned to addresses checked against the policy.

Each hop (the URL and every redirect) is resolved here, every address is checked, and
the connection goes to the checked IP (``Host`` and TLS SNI keep the name), so DNS
cannot be re-resolved to an internal address between the check and the connect. The body
is capped while streaming, the whole fetch has one deadline, and the content is sniffed:
the server's Content-Type is ignored.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from voxgate.fetch.errors import BlockedDestination, FetchError, FetchTimeout, NotAudio, TooLarge
from voxgate.fetch.policy import AddressPolicy, IPAddress
from voxgate.media.sniff import AudioFormat, sniff_format

MAX_BYTES = 8 * 1024 * 1024
TIMEOUT = 15.0
MAX_REDIRECTS = 3

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


@dataclass(frozen=True, repr=False)
class FetchedAudio:
    url: str
    data: bytes
    format: AudioFormat

    def __repr__(self) -> str:
        return f"<FetchedAudio {self.format} {len(self.data)} bytes from {self.url}>"


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


async def _addresses(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = await resolver(host, port)
    except (OSError, UnicodeError) as exc:  # UnicodeError: a name idna cannot encode
        raise FetchError(f"cannot resolve {host}: {exc}", host=host) from exc
    if not found:
        raise FetchError(f"{host} has no addresses", host=host)
    return found


async def _pinned_request(
    client: httpx.AsyncClient, url: httpx.URL, policy: AddressPolicy, resolver: Resolver
) -> httpx.Request:
    if url.scheme not in ("http", "https"):
        raise BlockedDestination(f"only http and https URLs are allowed, not {url.scheme!r}")
    host = url.host
    if not host:
        raise BlockedDestination("the URL has no host")
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await _addresses(host, port, resolver)
    policy.check(host, addresses)
    pinned = url.copy_with(host=str(addresses[0]))
    host_header = (f"[{host}]" if ":" in host else host) + (f":{url.port}" if url.port else "")
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    return client.build_request(
        "GET",
        pinned,
        headers={"Host": host_header, "Accept-Encoding": "identity"},
        extensions=extensions,
    )


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"the audio is {declared} bytes; the limit is {max_bytes}")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise TooLarge(f"the audio is larger than {max_bytes} bytes")
    return bytes(body)


async def _fetch(
    url: str,
    policy: AddressPolicy,
    resolver: Resolver,
    max_bytes: int,
    max_redirects: int,
    transport: httpx.AsyncBaseTransport | None,
) -> FetchedAudio:
    current = httpx.URL(url)
    async with httpx.AsyncClient(
        trust_env=False, follow_redirects=False, transport=transport
    ) as client:
        for _hop in range(max_redirects + 1):
            request = await _pinned_request(client, current, policy, resolver)
            response = await client.send(request, stream=True)
            try:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    current = current.join(location)
                    continue
                if response.status_code != 200:
                    raise FetchError(f"the server answered {response.status_code}", url=url)
                data = await _read_capped(response, max_bytes)
            finally:
                await response.aclose()
            fmt = sniff_format(data)
            if fmt is None:
                raise NotAudio("the URL did not return WAV, MP3, OGG, M4A or FLAC audio")
            return FetchedAudio(str(current), data, fmt)
    raise FetchError(f"more than {max_redirects} redirects", url=url)


async def fetch_audio(
    url: str,
    *,
    allow: AddressPolicy | None = None,
    max_bytes: int = MAX_BYTES,
    time_limit: float = TIMEOUT,
    max_redirects: int = MAX_REDIRECTS,
    resolver: Resolver = system_resolver,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchedAudio:
    """Fetch audio from ``url``; raises a :class:`FetchError` subclass on any failure."""
    policy = allow or AddressPolicy()
    try:
        async with asyncio.timeout(time_limit):
            return await _fetch(url, policy, resolver, max_bytes, max_redirects, transport)
    except TimeoutError as exc:
        raise FetchTimeout(
            f"fetching the audio took longer than {time_limit:g} s", url=url
        ) from exc
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL: {exc}", url=url) from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"fetching the audio failed: {exc}", url=url) from exc
