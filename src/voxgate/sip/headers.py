"""Header names, the header container, and the typed values of Via and CSeq.

Header names are case-insensitive and have compact forms (``v`` = ``Via``); both are
folded to one key. Values are kept as the peer sent them (after unfolding); typed views
are parsed on first use and cached until the header changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.uri import HOST, PORT, parse_params

T = TypeVar("T")
_MISSING: Any = object()

COMPACT = {
    "v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
    "c": "content-type", "e": "content-encoding", "s": "subject", "k": "supported",
    "o": "event", "r": "refer-to", "b": "referred-by", "u": "allow-events",
    "x": "session-expires", "a": "accept-contact", "j": "reject-contact",
    "d": "request-disposition", "y": "identity", "n": "identity-info",
}  # fmt: skip
# fmt: off
_CANONICAL_NAMES = (
    "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Route", "Record-Route",
    "Content-Type", "Content-Length", "Content-Encoding", "Content-Disposition", "Allow",
    "Supported", "Require", "Proxy-Require", "Unsupported", "Accept", "Accept-Encoding",
    "Accept-Language", "Expires", "Min-Expires", "User-Agent", "Server", "Subject", "Date",
    "Authorization", "WWW-Authenticate", "Proxy-Authenticate", "Proxy-Authorization",
    "Authentication-Info", "Retry-After", "Reason", "Event", "Allow-Events", "Session-Expires",
    "Min-SE", "Refer-To", "Referred-By", "Timestamp", "Warning", "Organization", "Priority",
    "P-Asserted-Identity", "P-Preferred-Identity", "Privacy", "Path", "Service-Route", "RSeq",
    "RAck", "Accept-Contact", "Reject-Contact", "Request-Disposition", "Identity",
    "Identity-Info", "Subscription-State", "Replaces", "Diversion", "In-Reply-To", "Reply-To",
    "Call-Info", "Alert-Info", "Error-Info", "MIME-Version", "Content-Language",
)
# fmt: on
CANONICAL = {name.lower(): name for name in _CANONICAL_NAMES}
# Headers whose values are comma-separated lists (RFC 3261 §7.3.1).
# fmt: off
LIST_HEADERS = frozenset(
    (
        "via", "contact", "route", "record-route", "allow", "supported", "require",
        "proxy-require", "unsupported", "accept", "accept-encoding", "accept-language",
        "allow-events", "path", "service-route", "p-asserted-identity",
    )
)
# fmt: on
# Headers that may appear at most once.
SINGLE_HEADERS = (
    "call-id",
    "cseq",
    "from",
    "to",
    "max-forwards",
    "content-length",
    "content-type",
)  # fmt: skip
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")


def header_key(name: str) -> str:
    """The case-folded, long-form key of a header name."""
    low = name.lower()
    return COMPACT.get(low, low)


def canonical_name(name: str) -> str:
    """The name to emit: canonical spelling for known headers, as given otherwise."""
    return CANONICAL.get(header_key(name), name)


def bad(reason: str, status: int = 400) -> RemoteProtocolError:
    return RemoteProtocolError(reason, status)


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value, honouring quotes and ``<...>``."""
    if '"' not in value and "<" not in value:
        return [item.strip() for item in value.split(",")]
    items: list[str] = []
    start, i, n = 0, 0, len(value)
    while i < n:
        c = value[i]
        if c == '"':
            i += 1
            while i < n and value[i] != '"':
                i += 2 if value[i] == "\\" else 1
        elif c == "<":
            end = value.find(">", i)
            i = n if end < 0 else end
        elif c == ",":
            items.append(value[start:i].strip())
            start = i + 1
        i += 1
    items.append(value[start:].strip())
    return items


class Headers:
    """An ordered multi-map of header fields with case-insensitive, compact-aware names."""

    __slots__ = ("_cache", "_items")

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str, str]] = []
        self._cache: dict[str, Any] = {}
        for name, value in items or ():
            self.add(name, value)

    @classmethod
    def _raw(cls, items: list[tuple[str, str, str]]) -> Headers:
        self = cls.__new__(cls)
        self._items = items
        self._cache = {}
        return self

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((name, value) for _, name, value in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        key = header_key(str(name))
        return any(k == key for k, _, _ in self._items)

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"

    def copy(self) -> Headers:
        return Headers._raw(list(self._items))

    def get(self, name: str, default: str | None = None) -> str | None:
        low = name.lower()
        key = COMPACT.get(low, low)
        for k, _, value in self._items:
            if k == key:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every field line with this name, not split on commas."""
        key = header_key(name)
        return [value for k, _, value in self._items if k == key]

    def get_list(self, name: str) -> list[str]:
        """All comma-separated elements across every field line with this name."""
        out: list[str] = []
        for value in self.get_all(name):
            out += split_list(value)
        return out

    def count(self, name: str) -> int:
        key = header_key(name)
        return sum(1 for k, _, _ in self._items if k == key)

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        key = header_key(name)
        self._cache.pop(key, None)
        item = (key, CANONICAL.get(key, name), value)
        if first:
            self._items.insert(0, item)
        else:
            self._items.append(item)

    def set(self, name: str, value: str) -> None:
        """Replace every field with this name by one, at the first one's position."""
        key = header_key(name)
        self._cache.pop(key, None)
        item = (key, CANONICAL.get(key, name), value)
        for i, (k, _, _) in enumerate(self._items):
            if k == key:
                self._items[i] = item
                self._items[i + 1 :] = [x for x in self._items[i + 1 :] if x[0] != key]
                return
        self._items.append(item)

    def remove(self, name: str) -> None:
        key = header_key(name)
        self._cache.pop(key, None)
        self._items = [x for x in self._items if x[0] != key]

    def replace_first(self, name: str, value: str) -> None:
        """Replace the first element of a list header (e.g. the top Via)."""
        key = header_key(name)
        self._cache.pop(key, None)
        for i, (k, n, v) in enumerate(self._items):
            if k == key:
                rest = split_list(v)[1:]
                self._items[i] = (k, n, ", ".join([value, *rest]))
                return
        raise KeyError(name)

    def pop_first(self, name: str) -> None:
        """Remove the first element of a list header (e.g. our own Via)."""
        key = header_key(name)
        self._cache.pop(key, None)
        for i, (k, n, v) in enumerate(self._items):
            if k == key:
                rest = split_list(v)[1:]
                if rest:
                    self._items[i] = (k, n, ", ".join(rest))
                else:
                    del self._items[i]
                return

    def typed(self, key: str, parse: Callable[[Headers], T]) -> T:
        """Parse once and cache a typed view of header ``key``.

        A malformed value raises ``RemoteProtocolError`` (400), never another exception.
        """
        value = self._cache.get(key, _MISSING)
        if value is _MISSING:
            try:
                value = parse(self)
            except (ValueError, IndexError, UnicodeError) as exc:  # defensive
                raise bad(f"unparseable {key}: {exc}") from None
            self._cache[key] = value
        return value  # type: ignore[no-any-return]

    def _prime(self, key: str, value: Any) -> None:
        """Cache a typed view the message parser has already built."""
        self._cache[key] = value

    def render(self) -> str:
        return "".join(f"{name}: {value}\r\n" for _, name, value in self._items)


# -- Via ---------------------------------------------------------------------------------

_VIA = re.compile(
    r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*/[ \t]*"
    r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9_\-.]*[A-Za-z0-9_.])?)"
    r"(?:[ \t]*:[ \t]*([0-9]{1,5}))?[ \t]*\Z"
)
MAGIC_COOKIE = "z9hG4bK"


@dataclass(slots=True, eq=False)
class Via:
    """One Via element: ``SIP/2.0/UDP host:port;branch=...``."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        value = self.params.get("rport")
        return int(value) if value and value.isdigit() else None

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return (self.host.lower(), self.port)

    @property
    def reliable(self) -> bool:
        return self.transport in ("TCP", "TLS", "SCTP", "WS", "WSS")

    def response_address(self) -> tuple[str, int]:
        """Where responses go (RFC 3261 §18.2.2 with RFC 3581 rport)."""
        host = self.params.get("maddr") or self.received or self.host
        if host.startswith("["):
            host = host[1:-1]
        port = self.rport or self.port or (5061 if self.transport == "TLS" else 5060)
        return host, port

    def __str__(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        tail = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
        return f"{self.protocol}/{self.transport} {self.host}{port}{tail}"

    def __repr__(self) -> str:
        return f"Via({str(self)!r})"


# The common shape of a Via element; ``parse_via`` takes it by a fast path.
_PLAIN_VIA = (
    rf"SIP/2\.0/([A-Za-z]+) ({HOST})(?::({PORT}))?"
    r"((?:;[A-Za-z0-9\-.!%*_+`'~]+(?:=[A-Za-z0-9\-.!%*_+`'~:\[\]]+)?)*)"
)
_FAST_VIA = re.compile(_PLAIN_VIA + r"\Z")
# Quick syntax check of a Via field line: elements of the common shape, which
# ``split_list`` cuts apart exactly and ``parse_via`` parses without fail.
PLAIN_VIAS = re.compile(rf"{_PLAIN_VIA}(?:[ \t]*,[ \t]*{_PLAIN_VIA})*\Z")


def parse_via(text: str) -> Via:
    m = _FAST_VIA.match(text)
    if m is not None:
        transport, host, port, ptext = m.groups()
        params: dict[str, str | None] = {}
        if ptext:
            for item in ptext[1:].split(";"):
                name, eq, value = item.partition("=")
                params[name.lower()] = value if eq else None
        return Via(transport.upper(), host, int(port) if port else None, params)
    head, semi, ptext = text.partition(";")
    m = _VIA.match(head.strip())
    if m is None:
        raise bad(f"malformed Via {text[:80]!r}")
    name, version, transport, host, port = m.groups()
    if port is not None and int(port) > 65535:
        raise bad("bad Via port")
    params = parse_params(semi + ptext) if semi else {}
    return Via(
        transport.upper(), host, int(port) if port else None, params, f"{name.upper()}/{version}"
    )


def parse_vias(headers: Headers) -> list[Via]:
    items = headers.get_list("via")
    if not items or not all(items):
        raise bad("missing or empty Via")
    return [parse_via(item) for item in items]


def apply_received(via: Via, source_host: str, source_port: int) -> Via:
    """Server side of RFC 3581/RFC 3261 §18.2.1: note where the request came from."""
    params = dict(via.params)
    host = via.host[1:-1] if via.host.startswith("[") else via.host
    if host != source_host or "rport" in params:
        params["received"] = source_host
    if "rport" in params:
        params["rport"] = str(source_port)
    return Via(via.transport, via.host, via.port, params, via.protocol)


# -- CSeq and small scalars ----------------------------------------------------------------

MAX_CSEQ = 2**31 - 1


@dataclass(frozen=True, slots=True)
class CSeq:
    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(headers: Headers) -> CSeq:
    value = headers.get("cseq")
    if value is None:
        raise bad("missing CSeq")
    return parse_cseq_value(value)


def parse_cseq_value(value: str) -> CSeq:
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 10:
        raise bad("malformed CSeq")
    number = int(parts[0])
    if number > MAX_CSEQ or not _TOKEN.match(parts[1]):
        raise bad("CSeq out of range")
    return CSeq(number, parts[1])


_PLAIN_CSEQ = re.compile(r"([0-9]{1,10})[ \t]+([A-Za-z0-9\-.!%*_+`'~]+)\Z")


def cseq_method(value: str) -> str:
    """The method of a CSeq value, raising as ``parse_cseq_value`` would.

    The common shape is checked without building a ``CSeq``; ``parse_cseq_value``
    cannot fail on a value this accepts.
    """
    m = _PLAIN_CSEQ.match(value)
    if m is not None and int(m[1]) <= MAX_CSEQ:
        return m[2]
    return parse_cseq_value(value).method


def parse_uint(value: str, limit: int, what: str) -> int:
    value = value.strip()
    if value.isdigit() and value.isascii() and len(value) <= 10:
        number = int(value)
        if number <= limit:
            return number
    raise bad(f"bad {what}")


_DATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} GMT\Z"
)


def check_date(value: str) -> None:
    if not _DATE.match(value.strip()):
        raise bad("Date must be an RFC 1123 date in GMT")


def parse_tokens(headers: Headers, name: str) -> list[str]:
    """A list of tokens such as Require or Supported; empty items are skipped."""
    return [item for item in headers.get_list(name) if item]
