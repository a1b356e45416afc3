"""Reading just enough of a raw SIP message to route or refuse it without parsing it.

Under overload a new INVITE is refused with a stateless 503 built straight from its
bytes, and a node running several engine processes routes each datagram to the process
that owns its Call-ID. Both must cost a few microseconds, a small fraction of a full
parse. Anything unusual (folded lines, a missing header, no header end) gives ``None``:
the message then takes the full path, which answers malformed input properly.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

_TOP_VIA_RPORT = re.compile(rb";\s*rport(?=\s*(?:;|,|$))", re.IGNORECASE)
_TAG_PARAM = re.compile(rb";\s*tag\s*=", re.IGNORECASE)

# full and compact names (RFC 3261 §7.3.3) of the headers read here
_TO = (b"to", b"t")
_CALL_ID = (b"call-id", b"i")


def _header_block(data: bytes) -> list[bytes] | None:
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].split(b"\r\n")
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            return None  # folded: leave it to the real parser
    return lines


def _first(lines: list[bytes], names: tuple[bytes, ...]) -> bytes | None:
    """The value of the first header line named one of ``names``."""
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.rstrip().lower() in names:
            return value.strip()
    return None


def call_id(data: bytes) -> bytes | None:
    """The Call-ID of a raw message, or None if it has none we can read quickly."""
    lines = _header_block(data)
    return None if lines is None else (_first(lines, _CALL_ID) or None)


# the first To header line (full or compact name) of a header block
_TO_LINE = re.compile(rb"\r\n(?:to|t)[ \t]*:([^\r\n]*)", re.IGNORECASE)


def is_ack_with_tag(data: bytes, tag_prefix: bytes) -> bool:
    """An ACK whose To tag starts with ``tag_prefix`` (the ACK of a stateless refusal).
    One search for the To line: this runs for every refusal's ACK under overload."""
    if not data.startswith(b"ACK "):
        return False
    end = data.find(b"\r\n\r\n")
    match = None if end < 0 else _TO_LINE.search(data, 0, end)
    if match is None or data[match.end() + 2 : match.end() + 3] in (b" ", b"\t"):
        return False  # no To, or a folded one: leave it to the real parser
    to = match.group(1)
    tag = _TAG_PARAM.search(to, to.rfind(b">") + 1)
    return tag is not None and to[tag.end() :].lstrip().startswith(tag_prefix)


# not frozen: one is built for every INVITE refused, and a frozen one costs a microsecond
# more to build
@dataclass(slots=True)
class NewInvite:
    """An INVITE outside any dialog, read quickly: enough to refuse it statelessly."""

    call_id: str
    vias: list[bytes]
    from_: bytes
    to: bytes
    cseq: bytes

    def stateless_tag(self) -> bytes:
        """A To tag made from the request alone: a stateless UAS gives every
        retransmission of a request the same tag (RFC 3261 §8.2.7), and different
        requests different ones."""
        key = b"\0".join(
            (self.vias[0], self.from_, self.call_id.encode("utf-8", "surrogateescape"), self.cseq)
        )
        return b"%08x" % zlib.crc32(key)

    def refusal(
        self,
        source: tuple[str, int],
        *,
        tag: bytes,
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> tuple[bytes, tuple[str, int]] | None:
        """A 503 and where to send it (None if the top Via is unreadable).

        The response copies the Via headers (the top one stamped with ``received`` and,
        when asked for, ``rport``: RFC 3581), From, Call-ID and CSeq, and gives To the
        ``tag``. It goes to the source address, at the source port if ``rport`` was asked
        for, else at the top Via's port (RFC 3261 §18.2.2).
        """
        top = self.vias[0].split(b",", 1)
        host = source[0].encode()
        stamped, rport = _TOP_VIA_RPORT.subn(b";rport=" + str(source[1]).encode(), top[0], count=1)
        port = source[1] if rport else _sent_by_port(top[0])
        if port is None:
            return None
        vias = [b",".join([stamped + b";received=" + host, *top[1:]]), *self.vias[1:]]
        out = [b"SIP/2.0 503 Service Unavailable"]
        out += [b"Via: " + via for via in vias]
        out += [b"From: " + self.from_, b"To: " + self.to + b";tag=" + tag]
        out += [b"Call-ID: " + self.call_id.encode("utf-8", "surrogateescape")]
        out += [b"CSeq: " + self.cseq]
        out += [name + b": " + value for name, value in headers]
        out += [b"Content-Length: 0", b"", b""]
        return b"\r\n".join(out), (source[0], port)


# where each header a refusal copies goes, under its full and compact names
_SLOTS = {
    **dict.fromkeys((b"via", b"v"), 0),
    **dict.fromkeys((b"from", b"f"), 1),
    **dict.fromkeys(_TO, 2),
    **dict.fromkeys(_CALL_ID, 3),
    b"cseq": 4,
}


def new_invite(data: bytes) -> NewInvite | None:
    """``data`` read as an INVITE outside any dialog (no To tag); None for anything else
    or anything this quick reading cannot vouch for."""
    if not data.startswith(b"INVITE "):
        return None
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].split(b"\r\n")
    if not lines[0].endswith(b" SIP/2.0"):
        return None
    vias: list[bytes] = []
    found: list[bytes | None] = [None, None, None, None, None]  # Via unused, From .. CSeq
    slot_of = _SLOTS.get
    for line in lines[1:]:  # one pass: this runs for every INVITE refused under overload
        if line[:1] in (b" ", b"\t"):
            return None  # folded: leave it to the real parser
        name, colon, value = line.partition(b":")
        if not colon:
            return None
        slot = slot_of(name.rstrip().lower())
        if slot == 0:
            vias.append(value.strip())
        elif slot is not None:
            found[slot] = value.strip()
    _, from_, to, call, cseq = found
    if not (vias and from_ and to and call and cseq) or not cseq.endswith(b"INVITE"):
        return None
    if _TAG_PARAM.search(to, to.rfind(b">") + 1):
        return None  # a re-INVITE: it belongs to a dialog
    return NewInvite(call.decode("utf-8", "surrogateescape"), vias, from_, to, cseq)


def _sent_by_port(via: bytes) -> int | None:
    """The port of a Via's sent-by (5060 when absent), None if unreadable."""
    sent_by = via.split(b";", 1)[0].split()
    if len(sent_by) < 2:
        return None
    hostport = sent_by[-1]
    if hostport.startswith(b"["):
        hostport = hostport.partition(b"]")[2]
    elif hostport.count(b":") > 1:
        return None
    _, colon, port = hostport.rpartition(b":")
    if not colon:
        return 5060
    return int(port) if port.isdigit() and 0 < int(port) < 65536 else None
