"""SIP messages: parsing, validation, serialization and TCP framing.

``parse_message`` turns one datagram (or one frame from ``StreamFramer``) into a
``SipRequest`` or ``SipResponse`` and raises ``RemoteProtocolError`` for anything
malformed -- never another exception. The error carries the status to answer and, when
the header block was readable, the message, so ``error_response`` can build the answer.

Typed views (Via, From, To, Contact, Route, Record-Route, CSeq, the Request-URI) are
built on first access. At parse time a value of the common shape only passes a quick
syntax check, which guarantees its parser will accept it; any other value is parsed
at once, so a malformed one is rejected by ``parse_message`` with the parser's error and
the views of a message that parsed never raise.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from itertools import islice
from typing import NamedTuple

from voxgate.sip.errors import LocalProtocolError, RemoteProtocolError
from voxgate.sip.headers import (
    CANONICAL,
    COMPACT,
    PLAIN_VIAS,
    SINGLE_HEADERS,
    CSeq,
    Headers,
    Via,
    bad,
    check_date,
    cseq_method,
    parse_cseq,
    parse_tokens,
    parse_uint,
    parse_vias,
    split_list,
)
from voxgate.sip.uri import (
    PLAIN_NAME_ADDR,
    PLAIN_NAME_ADDRS,
    PLAIN_SIP_URI,
    URI,
    AbsoluteURI,
    NameAddr,
    SipURI,
    TelURI,
    parse_name_addr,
    parse_uri,
)

REASONS = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 300: "Multiple Choices",
    301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized",
    402: "Payment Required", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout",
    410: "Gone", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
    421: "Extension Required", 423: "Interval Too Brief", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 491: "Request Pending", 493: "Undecipherable",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 600: "Busy Everywhere", 603: "Decline",
    604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}  # fmt: skip

_FOLD = re.compile(r"\r\n[ \t]+")
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
_VERSION = re.compile(r"SIP/\d+\.\d+\Z", re.IGNORECASE)
_TAG = re.compile(r";[ \t]*tag[ \t]*=", re.IGNORECASE)
MAX_MESSAGE = 65535


class SipMessage:
    """Headers and body shared by requests and responses; typed views are cached."""

    __slots__ = ("body", "headers")

    def __init__(self, headers: Headers | None = None, body: bytes = b"") -> None:
        self.headers = headers if headers is not None else Headers()
        self.body = body

    # typed header views -------------------------------------------------------------
    @property
    def via(self) -> list[Via]:
        return self.headers.typed("via", parse_vias)

    @property
    def top_via(self) -> Via:
        return self.via[0]

    @property
    def cseq(self) -> CSeq:
        return self.headers.typed("cseq", parse_cseq)

    @property
    def call_id(self) -> str:
        return self.headers.typed("call-id", _parse_call_id)

    @property
    def from_(self) -> NameAddr:
        return self.headers.typed("from", lambda h: _one_name_addr(h, "from"))

    @property
    def to(self) -> NameAddr:
        return self.headers.typed("to", lambda h: _one_name_addr(h, "to"))

    @property
    def contact(self) -> list[NameAddr]:
        """Contacts; empty when absent or when the value is ``*``."""
        return self.headers.typed("contact", lambda h: _name_addrs(h, "contact", star=True))

    @property
    def record_route(self) -> list[NameAddr]:
        return self.headers.typed("record-route", lambda h: _name_addrs(h, "record-route"))

    @property
    def route(self) -> list[NameAddr]:
        return self.headers.typed("route", lambda h: _name_addrs(h, "route"))

    @property
    def max_forwards(self) -> int | None:
        value = self.headers.get("max-forwards")
        return None if value is None else parse_uint(value, 255, "Max-Forwards")

    @property
    def content_type(self) -> str | None:
        """The media type without parameters, lower-cased (``application/sdp``)."""
        value = self.headers.get("content-type")
        return None if value is None else value.split(";", 1)[0].strip().lower()

    def tokens(self, name: str) -> list[str]:
        """Token-list headers such as Require, Supported, Allow."""
        return parse_tokens(self.headers, name)

    # serialization --------------------------------------------------------------------
    def start_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        body = self.body
        head = "".join(
            [
                f"{name}: {value}\r\n"
                for key, name, value in self.headers._items
                if key != "content-length"
            ]
        )
        text = f"{self.start_line()}\r\n{head}Content-Length: {len(body)}\r\n\r\n"
        return text.encode("utf-8", "surrogateescape") + body

    __bytes__ = to_bytes


class SipRequest(SipMessage):
    """A request. In a received request a Request-URI of the common shape is parsed on
    first access; until then the request serializes it as received."""

    __slots__ = ("_uri", "_uri_text", "method")

    def __init__(
        self, method: str, uri: URI, headers: Headers | None = None, body: bytes = b""
    ) -> None:
        super().__init__(headers, body)
        self.method = method
        self._uri: URI | None = uri
        self._uri_text = ""

    @classmethod
    def _received(cls, method: str, uri_text: str, headers: Headers, body: bytes) -> SipRequest:
        """A parsed request whose Request-URI ``parse_uri`` is known to accept."""
        self = cls.__new__(cls)
        self.headers = headers
        self.body = body
        self.method = method
        self._uri = None
        self._uri_text = uri_text
        return self

    @property
    def uri(self) -> URI:
        uri = self._uri
        if uri is None:  # parse_message vouched for the text: this cannot fail
            uri = self._uri = parse_uri(self._uri_text)
            self._uri_text = ""
        return uri

    @uri.setter
    def uri(self, uri: URI) -> None:
        self._uri = uri
        self._uri_text = ""

    def start_line(self) -> str:
        if self._uri is None:
            return f"{self.method} {self._uri_text} SIP/2.0"
        return f"{self.method} {self._uri} SIP/2.0"

    def __repr__(self) -> str:
        return f"<SipRequest {self.method} {self.uri} cseq={self.headers.get('cseq')!r}>"


class SipResponse(SipMessage):
    __slots__ = ("reason", "status")

    def __init__(
        self, status: int, reason: str = "", headers: Headers | None = None, body: bytes = b""
    ) -> None:
        super().__init__(headers, body)
        self.status = status
        self.reason = reason

    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"

    def __repr__(self) -> str:
        return f"<SipResponse {self.status} {self.reason} cseq={self.headers.get('cseq')!r}>"


def _parse_call_id(headers: Headers) -> str:
    value = headers.get("call-id")
    if not value or " " in value or "\t" in value:
        raise bad("missing or malformed Call-ID")
    return value


def _one_name_addr(headers: Headers, name: str) -> NameAddr:
    value = headers.get(name)
    if value is None:
        raise bad(f"missing {name}")
    return parse_name_addr(value)


def _name_addrs(headers: Headers, name: str, star: bool = False) -> list[NameAddr]:
    items = headers.get_list(name)
    if star and items == ["*"]:
        return []
    if not all(items):
        raise bad(f"empty element in {name}")
    return [parse_name_addr(item) for item in items]


# -- parsing ------------------------------------------------------------------------------


def parse_message(data: bytes, *, stream: bool = False) -> SipRequest | SipResponse:
    """Parse one SIP message; raise ``RemoteProtocolError`` if it is not acceptable.

    Over datagrams octets beyond Content-Length are discarded and a missing
    Content-Length means "the rest of the datagram" (RFC 3261 §18.3).
    """
    try:
        msg, start_error, unchecked = _split(data)
    except RemoteProtocolError:
        raise
    except (ValueError, IndexError, UnicodeError) as exc:  # defensive: never leak these
        raise bad(f"unparseable message: {exc}") from None
    try:
        if start_error is not None:
            raise start_error
        _validate(msg, unchecked)
    except RemoteProtocolError as exc:
        exc.sip_message = msg
        raise
    except (ValueError, IndexError, UnicodeError) as exc:
        err = bad(f"unparseable message: {exc}")
        err.sip_message = msg
        raise err from None
    return msg


# Quick syntax checks for the headers whose typed views are built on first access.
_PLAIN: dict[str, Callable[[str], object]] = {
    "via": PLAIN_VIAS.match,
    "from": PLAIN_NAME_ADDR.match,
    "to": PLAIN_NAME_ADDR.match,
    "contact": PLAIN_NAME_ADDRS.match,
    "record-route": PLAIN_NAME_ADDRS.match,
    "route": PLAIN_NAME_ADDRS.match,
}


class _Name(NamedTuple):
    """What the parser needs to know about one raw header name."""

    key: str  # lower-case long form
    canon: str  # the name to emit
    check: Callable[[str], object] | None  # quick syntax check of the value, if any


def _split(
    data: bytes,
) -> tuple[SipRequest | SipResponse, RemoteProtocolError | None, set[str]]:
    """The message, any error in its start line, and the headers with a value that did
    not pass its quick syntax check."""
    if len(data) > MAX_MESSAGE:
        raise bad("message too large", 513)
    data = data.lstrip(b"\r\n")
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        head, body = data[:end], data[end + 4 :]
    else:
        end = data.find(b"\n\n")
        if end < 0:
            raise bad("no blank line after the headers")
        head, body = data[:end].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), data[end + 2 :]
    text = head.decode("utf-8", "surrogateescape")
    if _FOLD.search(text):
        text = _FOLD.sub(" ", text)
    lines = text.split("\r\n")
    if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
        raise bad("malformed header line or stray CR/LF")
    items: list[tuple[str, str, str]] = []
    append = items.append
    names = _NAMES
    unchecked: set[str] = set()
    for line in islice(lines, 1, None):
        name, colon, value = line.partition(":")
        if not colon:
            raise bad("malformed header line or stray CR/LF")
        info = names.get(name) or _name_info(name)
        value = value.strip(" \t")
        append((info[0], info[1], value))
        check = info[2]
        if check is not None and check(value) is None:
            unchecked.add(info[0])
    headers = Headers._raw(items)
    start = lines[0]
    if start.startswith("SIP/"):
        return (*_response_line(start, headers, body), unchecked)
    return (*_request_line(start, headers, body), unchecked)


_NAMES: dict[str, _Name] = {}


def _name_info(raw: str) -> _Name:
    """What to know about a raw header name; remembered for the next message."""
    name = raw.rstrip(" \t")
    low = name.lower()
    key = COMPACT.get(low, low)
    canon = CANONICAL.get(key)
    if canon is None:
        if not _TOKEN.match(name):
            raise bad(f"bad header name {name[:60]!r}")
        canon = name
    info = _Name(key, canon, _PLAIN.get(key))
    if len(_NAMES) < 2048:
        _NAMES[raw] = info
    return info


def _response_line(
    start: str, headers: Headers, body: bytes
) -> tuple[SipResponse, RemoteProtocolError | None]:
    parts = start.split(" ", 2)
    code = parts[1] if len(parts) > 1 else ""
    reason = parts[2] if len(parts) > 2 else ""
    ok = code.isdigit() and code.isascii() and len(code) == 3 and 100 <= int(code) <= 699
    resp = SipResponse(int(code) if ok else 0, reason, headers, body)
    if parts[0].upper() != "SIP/2.0":
        return resp, bad("unsupported SIP version", 505)
    return resp, None if ok else bad("bad status code")


def _request_line(
    start: str, headers: Headers, body: bytes
) -> tuple[SipRequest, RemoteProtocolError | None]:
    parts = start.split(" ")
    method = parts[0]
    if (
        len(parts) == 3
        and parts[2] == "SIP/2.0"
        and _TOKEN.match(method)
        and PLAIN_SIP_URI.match(parts[1])
    ):  # the common case: the Request-URI is parsed on first access
        return SipRequest._received(method, parts[1], headers, body), None
    req = SipRequest(method, AbsoluteURI("invalid", start), headers, body)
    if len(parts) != 3 or not _TOKEN.match(method):
        return req, bad("malformed request line")
    if parts[2].upper() != "SIP/2.0":
        if _VERSION.match(parts[2]):
            return req, bad("unsupported SIP version", 505)
        return req, bad("malformed request line")
    try:
        req.uri = parse_uri(parts[1])
    except RemoteProtocolError as exc:
        return req, exc
    if isinstance(req.uri, SipURI) and req.uri.headers:
        return req, bad("headers are not allowed in a Request-URI")
    return req, None


def _validate(msg: SipRequest | SipResponse, unchecked: set[str]) -> None:
    """Reject what the typed views would reject, building as few of them as possible.

    Via, From, To, Contact, Route and Record-Route values of the common shape passed a
    quick syntax check in ``_split`` and are parsed on first access, which then cannot
    fail; any other value is parsed here, so a malformed one is rejected now with the
    parser's own error.
    """
    headers = msg.headers
    items = headers._items
    first = {key: value for key, _, value in reversed(items)}  # the first field line's
    if len(first) < len(items):
        seen: set[str] = set()
        for key, _, _ in items:
            if key in seen and key in SINGLE_HEADERS:
                raise bad(f"more than one {key}")
            seen.add(key)
    if "via" in unchecked or "via" not in first:
        msg.via  # noqa: B018 -- raises the precise error
    cseq_text = first.get("cseq")
    if cseq_text is None:
        raise bad("missing CSeq")
    cseq_method_ = cseq_method(cseq_text)
    call_id = first.get("call-id")
    if not call_id or " " in call_id or "\t" in call_id:
        raise bad("missing or malformed Call-ID")
    headers._prime("call-id", call_id)
    if "from" in unchecked or "from" not in first:
        msg.from_  # noqa: B018
    if "to" in unchecked or "to" not in first:
        msg.to  # noqa: B018
    if isinstance(msg, SipRequest) and cseq_method_ != msg.method:
        raise bad("CSeq method does not match the request method")
    max_forwards = first.get("max-forwards")
    if max_forwards is not None:
        parse_uint(max_forwards, 255, "Max-Forwards")
    if "contact" in unchecked:
        msg.contact  # noqa: B018
    if "record-route" in unchecked:
        msg.record_route  # noqa: B018
    if "route" in unchecked:
        msg.route  # noqa: B018
    date = first.get("date")
    if date is not None:
        check_date(date)
    length = first.get("content-length")
    if length is not None:
        n = parse_uint(length, MAX_MESSAGE, "Content-Length")
        if n > len(msg.body):
            raise bad("body shorter than Content-Length")
        msg.body = msg.body[:n]


# -- building -----------------------------------------------------------------------------


def generate_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def generate_tag() -> str:
    return secrets.token_hex(6)


def generate_call_id(host: str = "") -> str:
    token = secrets.token_hex(12)
    return f"{token}@{host}" if host else token


def make_request(
    method: str,
    uri: URI,
    *,
    via: Via,
    from_: NameAddr,
    to: NameAddr,
    call_id: str,
    cseq: int,
    contact: NameAddr | None = None,
    route: Iterable[NameAddr] = (),
    max_forwards: int = 70,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> SipRequest:
    """Build an out-of-dialog (or fully specified) request."""
    if via.branch is None:
        raise LocalProtocolError("a request needs a Via branch")
    h = Headers()
    h.add("Via", str(via))
    for r in route:
        h.add("Route", str(r))
    h.add("Max-Forwards", str(max_forwards))
    h.add("From", str(from_))
    h.add("To", str(to))
    h.add("Call-ID", call_id)
    h.add("CSeq", f"{cseq} {method}")
    if contact is not None:
        h.add("Contact", str(contact))
    for name, value in headers:
        h.add(name, value)
    if body:
        if content_type is None:
            raise LocalProtocolError("a body needs a Content-Type")
        h.add("Content-Type", content_type)
    return SipRequest(method, uri, h, body)


def make_response(
    request: SipMessage,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> SipResponse:
    """Build a response copying Via, From, To, Call-ID, CSeq (RFC 3261 §8.2.6.2)."""
    if not 100 <= status <= 699:
        raise LocalProtocolError(f"bad status {status}")
    src = request.headers
    h = Headers._raw([item for item in src._items if item[0] in ("via", "from", "call-id", "cseq")])
    to = src.get("to")
    if to is not None:
        if to_tag and status > 100 and not _TAG.search(to):
            to = f"{to};tag={to_tag}"
        h.add("To", to)
    if 100 < status < 300:
        for value in src.get_all("record-route"):
            h.add("Record-Route", value)
    for name, value in headers:
        h.add(name, value)
    if body:
        if content_type is None:
            raise LocalProtocolError("a body needs a Content-Type")
        h.add("Content-Type", content_type)
    return SipResponse(status, reason or REASONS.get(status, ""), h, body)


def error_response(err: RemoteProtocolError) -> SipResponse | None:
    """The response to send for a rejected request, or None when none may be sent."""
    msg = err.sip_message
    if not isinstance(msg, SipRequest) or err.status < 300:
        return None
    h = msg.headers
    if not all(h.get(name) for name in ("via", "from", "to", "call-id", "cseq")):
        return None
    if msg.method == "ACK" or (h.get("cseq") or "").upper().endswith("ACK"):
        return None
    return make_response(
        msg, err.status, to_tag=generate_tag(), headers=(("Warning", _warning(err)), *err.headers)
    )


def _warning(err: RemoteProtocolError) -> str:
    text = err.reason.replace("\\", "").replace('"', "'")
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)[:100]
    return f'399 voxgate "{text}"'


def check_request(
    request: SipRequest,
    *,
    supported: Iterable[str] = (),
    content_types: Iterable[str] = ("application/sdp",),
) -> None:
    """The checks a UAS makes before acting on a request (RFC 3261 §8.2.1-8.2.3)."""
    if not isinstance(request.uri, SipURI | TelURI):
        raise RemoteProtocolError(
            "unsupported URI scheme", 416, headers=(("Accept", "application/sdp"),)
        )
    if request.method not in ("ACK", "CANCEL"):
        known = {s.lower() for s in supported}
        missing = [opt for opt in request.tokens("require") if opt.lower() not in known]
        if missing:
            raise RemoteProtocolError(
                "unsupported extension", 420, headers=(("Unsupported", ", ".join(missing)),)
            )
    accepted = {c.lower() for c in content_types}
    if request.body and request.method != "ACK":
        ctype = request.content_type
        encoding = request.headers.get("content-encoding")
        if ctype not in accepted or (encoding and encoding.lower() != "identity"):
            raise RemoteProtocolError(
                "unsupported body", 415, headers=(("Accept", ", ".join(sorted(accepted))),)
            )
    if request.method in ("INVITE", "OPTIONS") and "accept" in request.headers:
        offered = {
            item.split(";", 1)[0].strip().lower()
            for item in split_list(request.headers.get("accept") or "")
        }
        if offered and not offered & (accepted | {"*/*", "application/*"}):
            raise RemoteProtocolError(
                "no acceptable body type", 406, headers=(("Accept", ", ".join(sorted(accepted))),)
            )


# -- stream framing -------------------------------------------------------------------------

_CL = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r?$", re.IGNORECASE | re.M)


class StreamFramer:
    """Cut a TCP byte stream into SIP messages using Content-Length (RFC 3261 §18.3).

    ``feed`` returns complete frames for ``parse_message(frame, stream=True)``. A
    double-CRLF keep-alive (RFC 5626) increments ``pings``: answer each with one CRLF.
    After a framing error the stream cannot be resynchronised: close the connection.
    """

    def __init__(self, max_size: int = MAX_MESSAGE) -> None:
        self._buf = bytearray()
        self.max_size = max_size
        self.pings = 0
        self.broken = False

    def __repr__(self) -> str:
        return f"<StreamFramer buffered={len(self._buf)} pings={self.pings}>"

    def feed(self, data: bytes) -> list[bytes]:
        if self.broken:
            raise LocalProtocolError("framer already failed; close the connection")
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        while buf:
            if buf[0] in (13, 10):
                if buf.startswith(b"\r\n\r\n"):
                    self.pings += 1
                    del buf[:4]
                    continue
                if len(buf) < 4 and b"\r\n\r\n".startswith(bytes(buf)):
                    break
                del buf[:1]
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self.max_size:
                    self.broken = True
                    raise bad("header block too large", 513)
                break
            lengths = _CL.findall(bytes(buf[:end]))
            if len(lengths) > 1 or (lengths and len(lengths[0]) > 6):
                self.broken = True
                raise bad("bad Content-Length on a stream")
            total = end + 4 + (int(lengths[0]) if lengths else 0)
            if total > self.max_size:
                self.broken = True
                raise bad("message too large", 513)
            if len(buf) < total:
                break
            frames.append(bytes(buf[:total]))
            del buf[:total]
        return frames
