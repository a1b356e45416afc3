"""Protocol errors, split by who broke the rules.

``LocalProtocolError``: we (or the code driving this package) asked for something the
protocol forbids -- a bug on our side. ``RemoteProtocolError``: the peer sent something
malformed or unacceptable; it carries the SIP status to answer with and, when the start
line and header block could be read, the message itself so a response can be built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voxgate.sip.message import SipMessage


class SipError(Exception):
    """Base class for every error raised by ``voxgate.sip``."""


class LocalProtocolError(SipError):
    """Our side tried to do something the protocol does not allow."""


class RemoteProtocolError(SipError):
    """The peer sent something we must reject; ``status`` is what to answer."""

    def __init__(
        self,
        reason: str,
        status: int = 400,
        *,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.headers = headers
        self.sip_message: SipMessage | None = None

    def __repr__(self) -> str:
        return f"RemoteProtocolError({self.status}, {self.reason!r})"
