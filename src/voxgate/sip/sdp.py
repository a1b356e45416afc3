"""SDP (RFC 4566) and the offer/answer model (RFC 3264) for G.711 voice.

We speak PCMU (0), PCMA (8) and telephone-event/8000 (RFC 4733), with ptime and the
direction attributes. Hold is ``a=sendonly``/``a=inactive`` or the legacy ``c=0.0.0.0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from voxgate.sip.errors import LocalProtocolError, RemoteProtocolError

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


@dataclass(frozen=True, slots=True)
class Codec:
    payload_type: int
    name: str
    rate: int = 8000

    def __str__(self) -> str:
        return f"{self.name}/{self.rate}"


PCMU = Codec(0, "PCMU")
PCMA = Codec(8, "PCMA")
STATIC = {0: PCMU, 8: PCMA}
DEFAULT_DTMF_PT = 101


@dataclass(slots=True)
class Media:
    """One ``m=`` section with its ``c=`` and ``a=`` lines."""

    kind: str
    port: int
    proto: str
    formats: list[str]
    connection: str | None = None
    attributes: list[tuple[str, str | None]] = field(default_factory=list)

    def attr(self, name: str) -> str | None:
        for key, value in self.attributes:
            if key == name:
                return value
        return None

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.attributes)

    def rtpmap(self) -> dict[int, tuple[str, int]]:
        out: dict[int, tuple[str, int]] = {}
        for key, value in self.attributes:
            if key == "rtpmap" and value:
                pt, _, enc = value.partition(" ")
                name, _, rate = enc.partition("/")
                if pt.isdigit() and rate.split("/")[0].isdigit():
                    out[int(pt)] = (name, int(rate.split("/")[0]))
        return out

    @property
    def direction(self) -> str | None:
        for key, _ in self.attributes:
            if key in DIRECTIONS:
                return key
        return None

    @property
    def ptime(self) -> int | None:
        value = self.attr("ptime")
        return int(value) if value and value.isdigit() and 0 < int(value) <= 1000 else None

    @property
    def rtcp(self) -> tuple[str | None, int] | None:
        """``a=rtcp:PORT [IN IP4 ADDRESS]`` (RFC 3605): where the peer takes RTCP, when it
        is not the port above its RTP port. None when absent or malformed."""
        value = self.attr("rtcp")
        if not value:
            return None
        parts = value.split()
        if not parts[0].isdigit() or not 0 < int(parts[0]) < 65536:
            return None
        if len(parts) == 4 and parts[1] == "IN" and parts[2] in ("IP4", "IP6"):
            return parts[3], int(parts[0])
        return (None, int(parts[0])) if len(parts) == 1 else None


@dataclass(slots=True)
class SessionDescription:
    origin: str
    connection: str | None = None
    name: str = "-"
    media: list[Media] = field(default_factory=list)
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    timing: str = "0 0"

    @property
    def direction(self) -> str | None:
        for key, _ in self.attributes:
            if key in DIRECTIONS:
                return key
        return None

    @property
    def session_id(self) -> int | None:
        """The ``o=`` session id (kept for the whole session, RFC 3264 §8), if numeric."""
        return _origin_number(self.origin, 1)

    @property
    def version(self) -> int | None:
        """The ``o=`` version (one more for each new offer or answer), if numeric."""
        return _origin_number(self.origin, 2)

    def to_bytes(self) -> bytes:
        lines = ["v=0", f"o={self.origin}", f"s={self.name}"]
        if self.connection:
            lines.append(f"c=IN IP4 {self.connection}")
        lines.append(f"t={self.timing}")
        lines += [_attr_line(k, v) for k, v in self.attributes]
        for m in self.media:
            lines.append(f"m={m.kind} {m.port} {m.proto} {' '.join(m.formats)}")
            if m.connection:
                lines.append(f"c=IN IP4 {m.connection}")
            lines += [_attr_line(k, v) for k, v in m.attributes]
        return ("\r\n".join(lines) + "\r\n").encode()

    __bytes__ = to_bytes


def _origin_number(origin: str, index: int) -> int | None:
    parts = origin.split()
    if len(parts) < 6 or not parts[index].isdigit():
        return None
    return int(parts[index])


def _attr_line(key: str, value: str | None) -> str:
    return f"a={key}" if value is None else f"a={key}:{value}"


def _conn_address(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise RemoteProtocolError("bad c= line")
    return parts[2].split("/")[0]


def parse_sdp(data: bytes) -> SessionDescription:
    """Parse an SDP body; malformed input raises ``RemoteProtocolError`` (400)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError("SDP is not UTF-8") from None
    sd: SessionDescription | None = None
    current: Media | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=":
            raise RemoteProtocolError(f"bad SDP line {line[:40]!r}")
        kind, value = line[0], line[2:]
        if sd is None:
            if kind != "v" or value != "0":
                raise RemoteProtocolError("SDP must start with v=0")
            sd = SessionDescription(origin="")
            continue
        if kind == "o":
            sd.origin = value
        elif kind == "s":
            sd.name = value
        elif kind == "t":
            sd.timing = value
        elif kind == "c":
            if current is None:
                sd.connection = _conn_address(value)
            else:
                current.connection = _conn_address(value)
        elif kind == "m":
            parts = value.split()
            port = parts[1].split("/")[0] if len(parts) > 1 else ""
            if len(parts) < 4 or not port.isdigit() or int(port) > 65535:
                raise RemoteProtocolError("bad m= line")
            current = Media(parts[0], int(port), parts[2], parts[3:])
            sd.media.append(current)
        elif kind == "a":
            key, colon, val = value.partition(":")
            (sd.attributes if current is None else current.attributes).append(
                (key, val if colon else None)
            )
    if sd is None or not sd.origin:
        raise RemoteProtocolError("SDP without v= or o=")
    return sd


# -- offer / answer ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaParams:
    """What offer/answer settled for the audio stream."""

    remote_address: str
    remote_port: int
    codec: Codec
    dtmf_pt: int | None
    ptime: int
    direction: str  # ours: may we send and/or receive
    remote_hold: bool
    rtcp: tuple[str | None, int] | None = None  # the peer's a=rtcp (address, port)

    @property
    def can_send(self) -> bool:
        return self.direction in ("sendrecv", "sendonly")

    @property
    def can_receive(self) -> bool:
        return self.direction in ("sendrecv", "recvonly")


def _flags(direction: str) -> tuple[bool, bool]:
    return direction in ("sendrecv", "sendonly"), direction in ("sendrecv", "recvonly")


def _from_flags(send: bool, recv: bool) -> str:
    return {(1, 1): "sendrecv", (1, 0): "sendonly", (0, 1): "recvonly", (0, 0): "inactive"}[
        (int(send), int(recv))
    ]


def _their_flags(sd: SessionDescription, m: Media) -> tuple[bool, bool, bool]:
    """(they send, they receive, on hold) for one media section."""
    direction = m.direction or sd.direction or "sendrecv"
    send, recv = _flags(direction)
    address = m.connection or sd.connection
    if address in ("0.0.0.0", None) or m.port == 0:
        recv = False
    return send, recv, not recv


def _formats(m: Media) -> tuple[dict[int, Codec], int | None]:
    rtpmap = m.rtpmap()
    codecs: dict[int, Codec] = {}
    dtmf = None
    for fmt in m.formats:
        if not fmt.isdigit():
            continue
        pt = int(fmt)
        name, rate = rtpmap.get(pt, (STATIC[pt].name, 8000) if pt in STATIC else ("", 0))
        if name.upper() in ("PCMU", "PCMA") and rate == 8000:
            codecs[pt] = Codec(pt, name.upper(), 8000)
        elif name.lower() == "telephone-event" and rate == 8000 and dtmf is None:
            dtmf = pt
    return codecs, dtmf


def _audio_lines(
    codec_list: Sequence[Codec], dtmf_pt: int | None, ptime: int, direction: str
) -> tuple[list[str], list[tuple[str, str | None]]]:
    formats = [str(c.payload_type) for c in codec_list]
    attrs: list[tuple[str, str | None]] = [
        ("rtpmap", f"{c.payload_type} {c.name}/{c.rate}") for c in codec_list
    ]
    if dtmf_pt is not None:
        formats.append(str(dtmf_pt))
        attrs += [("rtpmap", f"{dtmf_pt} telephone-event/8000"), ("fmtp", f"{dtmf_pt} 0-16")]
    attrs += [("ptime", str(ptime)), (direction, None)]
    return formats, attrs


def make_offer(
    *,
    address: str,
    port: int,
    session_id: int,
    version: int = 1,
    codecs: Sequence[Codec] = (PCMU, PCMA),
    dtmf_pt: int | None = DEFAULT_DTMF_PT,
    ptime: int = 20,
    direction: str = "sendrecv",
    origin_address: str | None = None,
) -> SessionDescription:
    """An audio offer; ``direction="sendonly"`` puts the peer on hold.

    ``address`` is where the media goes (``c=``); ``origin_address``, the host of the ``o=``
    line, defaults to it (they differ when we offer another party's media address)."""
    if not codecs or direction not in DIRECTIONS:
        raise LocalProtocolError("an offer needs codecs and a valid direction")
    formats, attrs = _audio_lines(codecs, dtmf_pt, ptime, direction)
    return SessionDescription(
        origin=f"voxgate {session_id} {version} IN IP4 {origin_address or address}",
        connection=address,
        media=[Media("audio", port, "RTP/AVP", formats, attributes=attrs)],
    )


def make_answer(
    offer: SessionDescription,
    *,
    address: str,
    port: int,
    session_id: int,
    version: int = 1,
    preference: Sequence[Codec] = (PCMU, PCMA),
    dtmf: bool = True,
    ptime: int = 20,
    direction: str = "sendrecv",
) -> tuple[SessionDescription, MediaParams]:
    """Answer an offer: first audio stream with a codec we like, by our preference.

    Other streams are rejected with port 0. Raises ``RemoteProtocolError(488)`` when no
    audio stream is acceptable.
    """
    answer = SessionDescription(
        origin=f"voxgate {session_id} {version} IN IP4 {address}", connection=address
    )
    chosen: MediaParams | None = None
    for m in offer.media:
        params = None
        if chosen is None and m.kind == "audio" and m.proto.upper().startswith("RTP/AVP"):
            params = _negotiate(offer, m, preference, dtmf, direction, ptime)
        if params is None:
            answer.media.append(Media(m.kind, 0, m.proto, m.formats[:1]))
            continue
        chosen = params
        codec_list = [params.codec]
        formats, attrs = _audio_lines(codec_list, params.dtmf_pt, ptime, params.direction)
        answer.media.append(Media("audio", port, m.proto, formats, attributes=attrs))
    if chosen is None:
        raise RemoteProtocolError("no acceptable audio stream", 488)
    return answer, chosen


def _negotiate(
    sd: SessionDescription,
    m: Media,
    preference: Sequence[Codec],
    dtmf: bool,
    direction: str,
    ptime: int,
) -> MediaParams | None:
    if m.port == 0:
        return None
    codecs, dtmf_pt = _formats(m)
    by_name = {c.name: c for c in codecs.values()}
    codec = next((by_name[c.name] for c in preference if c.name in by_name), None)
    if codec is None:
        return None
    they_send, they_recv, hold = _their_flags(sd, m)
    our_send, our_recv = _flags(direction)
    ours = _from_flags(our_send and they_recv, our_recv and they_send)
    address = m.connection or sd.connection or "0.0.0.0"
    return MediaParams(
        address, m.port, codec, dtmf_pt if dtmf else None, m.ptime or ptime, ours, hold, m.rtcp
    )


def negotiated(offer: SessionDescription, answer: SessionDescription) -> MediaParams:
    """UAC side: read the answer to our offer. 488 if it accepted nothing usable."""
    for m in answer.media:
        if m.kind != "audio" or m.port == 0:
            continue
        codecs, dtmf_pt = _formats(m)
        offered = {c.name for om in offer.media for c in _formats(om)[0].values()}
        usable = [c for c in codecs.values() if c.name in offered]
        if not usable:
            break
        they_send, they_recv, hold = _their_flags(answer, m)
        ours = offer.media[0].direction or offer.direction or "sendrecv"
        our_send, our_recv = _flags(ours)
        direction = _from_flags(our_send and they_recv, our_recv and they_send)
        address = m.connection or answer.connection or "0.0.0.0"
        return MediaParams(
            address, m.port, usable[0], dtmf_pt, m.ptime or 20, direction, hold, m.rtcp
        )
    raise RemoteProtocolError("answer has no usable audio stream", 488)
