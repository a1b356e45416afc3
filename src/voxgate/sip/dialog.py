"""Dialogs (RFC 3261 §12): identity, route set, CSeq bookkeeping, in-dialog requests.

A ``Dialog`` is created from the INVITE and its response (UAC) or from the INVITE we
accept (UAS). It builds the requests we send inside it (re-INVITE, ACK for a 2xx, BYE,
INFO...) with the right Request-URI and Route set, and checks those we receive.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from voxgate.sip.errors import LocalProtocolError, RemoteProtocolError
from voxgate.sip.headers import Headers, Via
from voxgate.sip.message import SipRequest, SipResponse
from voxgate.sip.uri import URI, NameAddr, SipURI


class DialogState(Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class Role(Enum):
    UAC = "UAC"
    UAS = "UAS"


DialogId = tuple[str, str, str]
TARGET_REFRESH = frozenset({"INVITE", "UPDATE"})


@dataclass(eq=False)
class Dialog:
    """One dialog; mutable state owned by one call leg."""

    role: Role
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: NameAddr
    remote_uri: NameAddr
    remote_target: URI
    local_contact: NameAddr
    route_set: list[NameAddr] = field(default_factory=list)
    local_cseq: int = 0
    remote_cseq: int | None = None
    state: DialogState = DialogState.EARLY
    secure: bool = False

    @property
    def id(self) -> DialogId:
        return (self.call_id, self.local_tag, self.remote_tag)

    def __repr__(self) -> str:
        return (
            f"<Dialog {self.role.value} {self.state.value} call_id={self.call_id} "
            f"local={self.local_tag} remote={self.remote_tag} cseq={self.local_cseq}>"
        )

    # creation ---------------------------------------------------------------------------
    @classmethod
    def from_uac(cls, invite: SipRequest, response: SipResponse) -> Dialog:
        """Our INVITE got a 1xx (with To tag) or a 2xx: the dialog starts (§12.1.2)."""
        remote_tag = response.to.tag
        local_tag = invite.from_.tag
        if not remote_tag or not local_tag or not 100 < response.status < 300:
            raise RemoteProtocolError("response does not establish a dialog")
        contacts = response.contact
        return cls(
            role=Role.UAC,
            call_id=invite.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_uri=_strip_tag(invite.from_),
            remote_uri=_strip_tag(response.to),
            remote_target=contacts[0].uri if contacts else invite.uri,
            local_contact=invite.contact[0] if invite.contact else invite.from_,
            route_set=list(reversed(response.record_route)),
            local_cseq=invite.cseq.number,
            state=DialogState.CONFIRMED if response.status >= 200 else DialogState.EARLY,
            secure=isinstance(invite.uri, SipURI) and invite.uri.secure,
        )

    @classmethod
    def from_uas(cls, invite: SipRequest, *, local_tag: str, local_contact: NameAddr) -> Dialog:
        """We answer an INVITE with a 1xx/2xx carrying ``local_tag`` (§12.1.1)."""
        contacts = invite.contact
        if not contacts:
            raise RemoteProtocolError("INVITE without Contact")
        remote_tag = invite.from_.tag
        if not remote_tag:
            raise RemoteProtocolError("INVITE without From tag")
        return cls(
            role=Role.UAS,
            call_id=invite.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_uri=_strip_tag(invite.to),
            remote_uri=_strip_tag(invite.from_),
            remote_target=contacts[0].uri,
            local_contact=local_contact,
            route_set=list(invite.record_route),
            remote_cseq=invite.cseq.number,
            secure=isinstance(invite.uri, SipURI) and invite.uri.secure,
        )

    # matching -----------------------------------------------------------------------------
    @staticmethod
    def id_of_incoming(request: SipRequest) -> DialogId:
        """Dialog id of a request we receive: (Call-ID, To tag, From tag)."""
        return (request.call_id, request.to.tag or "", request.from_.tag or "")

    @staticmethod
    def id_of_response(response: SipResponse) -> DialogId:
        """Dialog id of a response to our request: (Call-ID, From tag, To tag)."""
        return (response.call_id, response.from_.tag or "", response.to.tag or "")

    # building requests ----------------------------------------------------------------------
    def create_request(
        self,
        method: str,
        *,
        via: Via,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> SipRequest:
        """A new in-dialog request (re-INVITE, BYE, INFO, UPDATE...); bumps our CSeq."""
        if method in ("ACK", "CANCEL"):
            raise LocalProtocolError(f"{method} is not built with create_request")
        if self.state is DialogState.TERMINATED:
            raise LocalProtocolError("dialog is terminated")
        self.local_cseq += 1
        return self._build(method, self.local_cseq, via, headers, body, content_type)

    def create_ack(
        self, invite_cseq: int, *, via: Via, body: bytes = b"", content_type: str | None = None
    ) -> SipRequest:
        """The ACK for a 2xx to our INVITE or re-INVITE (§13.2.2.4)."""
        return self._build("ACK", invite_cseq, via, (), body, content_type)

    def _build(
        self,
        method: str,
        cseq: int,
        via: Via,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        content_type: str | None,
    ) -> SipRequest:
        if via.branch is None:
            raise LocalProtocolError("a request needs a Via branch")
        uri, routes = self.target_and_routes()
        h = Headers()
        h.add("Via", str(via))
        for r in routes:
            h.add("Route", str(r))
        h.add("Max-Forwards", "70")
        h.add("From", str(self.local_uri.with_tag(self.local_tag)))
        h.add("To", str(self.remote_uri.with_tag(self.remote_tag)))
        h.add("Call-ID", self.call_id)
        h.add("CSeq", f"{cseq} {method}")
        if method in TARGET_REFRESH or method == "ACK":
            h.add("Contact", str(self.local_contact))
        for name, value in headers:
            h.add(name, value)
        if body:
            if content_type is None:
                raise LocalProtocolError("a body needs a Content-Type")
            h.add("Content-Type", content_type)
        return SipRequest(method, uri, h, body)

    def target_and_routes(self) -> tuple[URI, list[NameAddr]]:
        """Request-URI and Route headers for loose or strict routing (§12.2.1.1)."""
        if not self.route_set:
            return self.remote_target, []
        first = self.route_set[0].uri
        if isinstance(first, SipURI) and first.lr:
            return self.remote_target, list(self.route_set)
        if isinstance(first, SipURI):
            first = first.copy()
            for name in ("method", "maddr", "ttl", "transport", "lr"):
                first.params.pop(name, None)
            first.headers = []
        return first, [*self.route_set[1:], NameAddr(self.remote_target)]

    def next_hop(self) -> URI:
        """Where to send in-dialog requests: first route, else the remote target."""
        return self.route_set[0].uri if self.route_set else self.remote_target

    # receiving ----------------------------------------------------------------------------
    def handle_request(self, request: SipRequest) -> None:
        """Check and apply an in-dialog request; out-of-order CSeq is answered with 500."""
        if self.state is DialogState.TERMINATED:
            raise RemoteProtocolError("dialog is terminated", 481)
        method = request.method
        number = request.cseq.number
        if method not in ("ACK", "CANCEL"):
            if self.remote_cseq is not None and number <= self.remote_cseq:
                raise RemoteProtocolError("CSeq out of order", 500)
            self.remote_cseq = number
        if method in TARGET_REFRESH and request.contact:
            self.remote_target = request.contact[0].uri
        if method == "BYE":
            self.state = DialogState.TERMINATED

    def handle_response(self, method: str, response: SipResponse) -> None:
        """Apply a response to a request we sent inside (or to create) this dialog."""
        status = response.status
        if status in (408, 481):
            self.state = DialogState.TERMINATED
            return
        if method == "BYE" and status >= 200:
            self.state = DialogState.TERMINATED
            return
        if method in TARGET_REFRESH and 100 < status < 300 and response.contact:
            self.remote_target = response.contact[0].uri
        if method == "INVITE" and 200 <= status < 300 and self.state is DialogState.EARLY:
            if self.role is Role.UAC and response.record_route:
                self.route_set = list(reversed(response.record_route))
            self.state = DialogState.CONFIRMED

    def glare_retry_delay(self, rng: random.Random) -> float:
        """Seconds to wait before sending again a re-INVITE answered 491 (RFC 3261 §14.1):
        2.1-4 s for the owner of the Call-ID (the UAC of the first INVITE), 0-2 s for the
        other side, in units of 10 ms. ``rng`` is the caller's: this module reads no clock
        and no entropy of its own."""
        if self.role is Role.UAC:
            return rng.randrange(210, 401) / 100
        return rng.randrange(0, 201) / 100

    def confirm(self) -> None:
        """UAS side: our 2xx went out; the dialog is confirmed."""
        if self.state is DialogState.EARLY:
            self.state = DialogState.CONFIRMED

    def terminate(self) -> None:
        self.state = DialogState.TERMINATED


def _strip_tag(addr: NameAddr) -> NameAddr:
    params = {k: v for k, v in addr.params.items() if k != "tag"}
    return NameAddr(addr.uri, addr.display, params)
