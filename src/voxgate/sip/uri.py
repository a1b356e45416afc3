"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) and name-addr values.

Components are stored unescaped; ``str()`` escapes them again. Parameter names are
lower-cased; parameter values keep their case, and the well-known ones whose values are
case-insensitive (``transport``, ``user``, ``method``, ``maddr``) are exposed lower-cased.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from voxgate.sip.errors import RemoteProtocolError

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*\Z")
# Pattern pieces shared by the fast paths here and in ``headers`` and by the quick
# syntax checks built from them: a hostname or IPv6 reference, and a port (0-65535).
HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9_\-.]*[A-Za-z0-9_.])?|\[[0-9A-Fa-f:.]+\])"
PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[0-5]?[0-9]{1,4})"
_HOST = re.compile(HOST + r"\Z")
_ESCAPE_OK = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Characters that may never appear raw in a URI component (CTL, SP, delimiters).
_BAD_RAW = re.compile(r"[\x00-\x20\x7f<>\"@\\{}|^]")
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")

_UNRESERVED = "-_.!~*'()"
_SAFE_USER = _UNRESERVED + "&=+$,;?/"
_SAFE_PASSWORD = _UNRESERVED + "&=+$,"
_SAFE_PARAM = _UNRESERVED + "[]/:&+$"
_SAFE_HEADER = _UNRESERVED + "[]/?:+$"
_CI_PARAMS = frozenset({"transport", "user", "method", "maddr"})


def _bad(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(reason, 400)


def unescape(text: str) -> str:
    """Decode %XX escapes; a malformed escape is the peer's error."""
    if "%" not in text:
        return text
    if _ESCAPE_OK.search(text):
        raise _bad(f"malformed escape in {text!r}")
    return unquote(text, errors="surrogateescape")


def escape(text: str, safe: str) -> str:
    """Escape every character not allowed raw in a component."""
    return quote(text, safe=safe, errors="surrogateescape")


def _component(text: str, what: str) -> str:
    if _BAD_RAW.search(text):
        raise _bad(f"invalid character in URI {what}")
    return unescape(text)


def _parse_uri_params(text: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for item in text.split(";"):
        name, eq, value = item.partition("=")
        if not name:
            raise _bad("empty URI parameter")
        key = _component(name, "parameter").lower()
        params[key] = _component(value, "parameter") if eq else None
    return params


@dataclass(slots=True, eq=False)
class SipURI:
    """A ``sip:`` or ``sips:`` URI."""

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    scheme: str = "sip"
    params: dict[str, str | None] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def transport(self) -> str | None:
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def lr(self) -> bool:
        return "lr" in self.params

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def secure(self) -> bool:
        return self.scheme == "sips"

    @property
    def hostport(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def copy(self) -> SipURI:
        return SipURI(
            host=self.host,
            user=self.user,
            password=self.password,
            port=self.port,
            scheme=self.scheme,
            params=dict(self.params),
            headers=list(self.headers),
        )

    def __str__(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(escape(self.user, _SAFE_USER))
            if self.password is not None:
                parts += [":", escape(self.password, _SAFE_PASSWORD)]
            parts.append("@")
        parts.append(self.hostport)
        for name, value in self.params.items():
            parts += [";", escape(name, _SAFE_PARAM)]
            if value is not None:
                parts += ["=", escape(value, _SAFE_PARAM)]
        if self.headers:
            parts.append("?")
            parts.append(
                "&".join(
                    f"{escape(k, _SAFE_HEADER)}={escape(v, _SAFE_HEADER)}" for k, v in self.headers
                )
            )
        return "".join(parts)

    def __repr__(self) -> str:
        return f"SipURI({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        """URI equivalence per RFC 3261 §19.1.4."""
        if not isinstance(other, SipURI):
            return NotImplemented
        if (self.scheme, self.user, self.password) != (other.scheme, other.user, other.password):
            return False
        if self.host.lower() != other.host.lower() or self.port != other.port:
            return False
        for name in ("transport", "user", "ttl", "method", "maddr"):
            a, b = self.params.get(name), other.params.get(name)
            if (a or "").lower() != (b or "").lower():
                return False
        for name, a in self.params.items():
            if name in other.params and (a or "").lower() != (other.params[name] or "").lower():
                return False
        return sorted(self.headers) == sorted(other.headers)

    def __hash__(self) -> int:
        return hash((self.scheme, self.user, self.host.lower(), self.port))


@dataclass(slots=True, eq=True)
class TelURI:
    """A ``tel:`` URI (RFC 3966); the number keeps its visual separators."""

    number: str
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def digits(self) -> str:
        return "".join(c for c in self.number if c not in "-.()")

    def __str__(self) -> str:
        tail = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
        return f"tel:{self.number}{tail}"


@dataclass(slots=True, eq=True)
class AbsoluteURI:
    """A URI with a scheme we do not interpret; kept verbatim."""

    scheme: str
    rest: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"


URI = SipURI | TelURI | AbsoluteURI


# The common shape of a SIP URI: no escapes, password or URI headers. Groups: scheme,
# user, host, port, parameters. ``PLAIN_SIP_URI`` is also the quick syntax check of a
# Request-URI: ``parse_uri`` cannot fail on what it matches.
_PLAIN_URI = (
    r"([Ss][Ii][Pp][Ss]?):"
    r"(?:([A-Za-z0-9\-_.!~*'()&=+$,]+)@)?"
    rf"({HOST})"
    rf"(?::({PORT}))?"
    r"((?:;[A-Za-z0-9\-_.!~*'()\[\]/:&+$]+(?:=[A-Za-z0-9\-_.!~*'()\[\]/:&+$]+)?)*)"
)
PLAIN_SIP_URI = re.compile(_PLAIN_URI + r"\Z")


def parse_uri(text: str) -> URI:
    """Parse any URI; ``sip``/``sips``/``tel`` are parsed structurally."""
    m = PLAIN_SIP_URI.match(text)
    if m is not None:
        return _plain_sip_uri(*m.groups())
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME.match(scheme):
        raise _bad(f"not a URI: {text[:80]!r}")
    low = scheme.lower()
    if low in ("sip", "sips"):
        return _parse_sip_slow(low, rest)
    if low == "tel":
        number, _, ptext = rest.partition(";")
        if not number or _BAD_RAW.search(number):
            raise _bad("bad tel URI")
        return TelURI(number, _parse_uri_params(ptext) if ptext else {})
    if not rest or _BAD_RAW.search(rest.replace("@", "")):
        raise _bad("bad URI")
    return AbsoluteURI(scheme, rest)


def _plain_sip_uri(
    scheme: str, user: str | None, host: str, port: str | None, ptext: str
) -> SipURI:
    """Build a SIP URI from the groups of ``_PLAIN_URI``."""
    uri = SipURI(host, user, None, int(port) if port else None, scheme.lower())
    if ptext:
        params = uri.params
        for item in ptext[1:].split(";"):
            name, eq, value = item.partition("=")
            params[name.lower()] = value if eq else None
    return uri


def _parse_sip_slow(scheme: str, rest: str) -> SipURI:
    user = password = None
    at = rest.find("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        u, colon, p = userinfo.partition(":")
        if not u:
            raise _bad("empty user in SIP URI")
        user = _component(u, "user")
        if colon:
            password = _component(p, "password")
    rest, q, htext = rest.partition("?")
    hostport, semi, ptext = rest.partition(";")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise _bad("bad IPv6 reference")
        host, after = hostport[: end + 1], hostport[end + 1 :]
        if after and after[0] != ":":
            raise _bad("bad IPv6 reference")
        has_port, portpart = bool(after), after[1:]
    else:
        host, colon, portpart = hostport.partition(":")
        has_port = bool(colon)
    if not _HOST.match(host):
        raise _bad(f"bad host {host[:80]!r}")
    port = None
    if has_port:
        if not portpart.isdigit() or len(portpart) > 5 or int(portpart) > 65535:
            raise _bad("bad port")
        port = int(portpart)
    uri = SipURI(host=host, user=user, password=password, port=port, scheme=scheme)
    if semi:
        uri.params = _parse_uri_params(ptext)
    if q:
        for item in htext.split("&"):
            name, eq, value = item.partition("=")
            if not name or not eq:
                raise _bad("bad URI header")
            uri.headers.append((_component(name, "header"), _component(value, "header")))
    return uri


# -- name-addr --------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class NameAddr:
    """``"Display" <uri>;param=value`` as used in From, To, Contact and Route."""

    uri: URI
    display: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_tag(self, tag: str) -> NameAddr:
        return NameAddr(self.uri, self.display, {**self.params, "tag": tag})

    def __str__(self) -> str:
        head = ""
        if self.display:
            quoted = self.display.replace("\\", "\\\\").replace('"', '\\"')
            head = f'"{quoted}" '
        tail = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
        return f"{head}<{self.uri}>{tail}"

    def __repr__(self) -> str:
        return f"NameAddr({str(self)!r})"


def parse_quoted(text: str, start: int) -> tuple[str, int]:
    """Read the quoted string opening at ``text[start]``; return (content, index after)."""
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            if i + 1 >= n or text[i + 1] in "\r\n":
                break
            out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    raise _bad("unterminated quoted string")


def parse_params(text: str) -> dict[str, str | None]:
    """Parse ``;name=value;flag`` header parameters (LWS allowed around ``;`` and ``=``)."""
    params: dict[str, str | None] = {}
    text = text.strip()
    if not text:
        return params
    if text[0] != ";":
        raise _bad(f"junk before parameters: {text[:40]!r}")
    i, n = 1, len(text)
    while True:
        j = i
        while j < n and text[j] not in ';="':
            j += 1
        name = text[i:j].strip()
        if not _TOKEN.match(name):
            raise _bad("bad parameter name")
        value: str | None = None
        if j < n and text[j] == "=":
            k = j + 1
            while k < n and text[k] in " \t":
                k += 1
            if k < n and text[k] == '"':
                _, end = parse_quoted(text, k)
                value = text[k:end]
                j = end
                while j < n and text[j] in " \t":
                    j += 1
                if j < n and text[j] != ";":
                    raise _bad("junk after quoted parameter")
            else:
                j = text.find(";", k)
                if j < 0:
                    j = n
                value = text[k:j].strip()
                if not value or not _TOKEN_VALUE.match(value):
                    raise _bad("bad parameter value")
        elif j < n and text[j] == '"':
            raise _bad("stray quote in parameters")
        params[name.lower()] = value
        if j >= n:
            return params
        i = j + 1


_TOKEN_VALUE = re.compile(r"(?:[A-Za-z0-9\-.!%*_+`'~:\[\]]+|\[[0-9A-Fa-f:.]+\])\Z")
_DISPLAY_TOKENS = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+(?:[ \t]+[A-Za-z0-9\-.!%*_+`'~]+)*\Z")


_T = r"[A-Za-z0-9\-.!%*_+`'~]+"


def _name_addr_pattern(uri: str) -> str:
    """A name-addr without escapes in its display name; ``uri`` matches what is in <>."""
    return (
        rf'(?:"([^"\\\x00-\x1f]*)"[ \t]*|({_T}(?:[ \t]+{_T})*)[ \t]*)?<({uri})>'
        rf"((?:[ \t]*;[ \t]*{_T}(?:[ \t]*=[ \t]*[A-Za-z0-9\-.!%*_+`'~:\[\]]+)?)*)[ \t]*"
    )


_FAST_NAME_ADDR = re.compile(_name_addr_pattern(r'[^<>\x00-\x20"]+') + r"\Z")
# The same with a SIP URI of the common shape in <>; groups: display (quoted, tokens),
# the URI text, the five groups of ``_PLAIN_URI``, the parameters. ``PLAIN_NAME_ADDR``
# and ``PLAIN_NAME_ADDRS`` are quick syntax checks of From/To and of Contact/Route
# values: ``parse_name_addr`` cannot fail on what they match, and ``split_list`` cuts a
# matching list exactly at the commas between its elements.
_PLAIN_NAME_ADDR = _name_addr_pattern(_PLAIN_URI)
PLAIN_NAME_ADDR = re.compile(_PLAIN_NAME_ADDR + r"\Z")
PLAIN_NAME_ADDRS = re.compile(rf"{_PLAIN_NAME_ADDR}(?:[ \t]*,[ \t]*{_PLAIN_NAME_ADDR})*\Z")


def parse_name_addr(text: str) -> NameAddr:
    """Parse a name-addr or addr-spec header value with its parameters."""
    m = PLAIN_NAME_ADDR.match(text)
    if m is not None:
        quoted, tokens, _, scheme, user, host, port, uparams, ptext = m.groups()
        uri: URI = _plain_sip_uri(scheme, user, host, port, uparams)
    else:
        m = _FAST_NAME_ADDR.match(text)
        if m is None:
            return _parse_name_addr_slow(text)
        quoted, tokens, uri_text, ptext = m.groups()
        uri = parse_uri(uri_text)
    params: dict[str, str | None] = {}
    if ptext:
        for item in ptext.split(";")[1:]:
            name, eq, value = item.partition("=")
            params[name.strip().lower()] = value.strip() if eq else None
    return NameAddr(uri, quoted if quoted is not None else tokens, params)


def _parse_name_addr_slow(text: str) -> NameAddr:
    text = text.strip()
    display: str | None = None
    if text.startswith('"'):
        display, i = parse_quoted(text, 0)
        lt = i + len(text[i:]) - len(text[i:].lstrip())
        if lt >= len(text) or text[lt] != "<":
            raise _bad("quoted display name without <uri>")
    else:
        lt = text.find("<")
        if lt > 0:
            name = text[:lt].rstrip()
            if not _DISPLAY_TOKENS.match(name):
                raise _bad("display name must be tokens or a quoted string")
            display = name
    if lt >= 0:
        gt = text.find(">", lt)
        if gt < 0:
            raise _bad("missing >")
        uri = parse_uri(text[lt + 1 : gt])
        return NameAddr(uri, display, parse_params(text[gt + 1 :]))
    # addr-spec: any ';' after the host starts header parameters
    at = text.find("@")
    semi = text.find(";", at + 1 if at >= 0 else 0)
    spec, ptext = (text, "") if semi < 0 else (text[:semi], text[semi:])
    spec = spec.rstrip()
    if "?" in spec[at + 1 :] or "," in spec:
        raise _bad("URI with headers or commas must be enclosed in <>")
    return NameAddr(parse_uri(spec), None, parse_params(ptext))
