"""Placing a call: INVITE with an SDP offer, provisional responses and early media,
2xx -> ACK, CANCEL on ring timeout or hangup, digest challenges answered from the
trunk's credentials, and 3xx followed by a small policy.

Redirect policy: follow the first Contact of a 3xx, at most ``Trunk.max_redirects``
times, and only to the trunk's own host or to ``Trunk.redirect_hosts`` -- a redirect
must not make us call arbitrary hosts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from voxgate.engine.call import SDP, Leg, reason_cause
from voxgate.engine.events import EarlyMedia, Ringing, Side, Trying
from voxgate.engine.timers import Deadline
from voxgate.sip.auth import DigestClient
from voxgate.sip.causes import cause_for_status
from voxgate.sip.dialog import Dialog
from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.events import Event, ResponseReceived, TransactionTimeout, TransportFailed
from voxgate.sip.headers import Via
from voxgate.sip.message import SipRequest, SipResponse, generate_branch
from voxgate.sip.transaction import build_cancel
from voxgate.sip.uri import SipURI, parse_uri

if TYPE_CHECKING:
    from voxgate.engine.endpoint import ClientTxn
    from voxgate.engine.engine import Engine
    from voxgate.engine.transport import Addr, SipTransport

log = logging.getLogger(__name__)

NO_ANSWER = 19


@dataclass(frozen=True, slots=True)
class Trunk:
    """Where outbound calls go, and the credentials to answer its challenges with."""

    host: str
    port: int = 5060
    transport: str = "udp"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    max_redirects: int = 3
    redirect_hosts: frozenset[str] = frozenset()
    keepalive: float | None = None  # seconds between OPTIONS probes (engine.trunk_state)

    @classmethod
    def parse(cls, uri: str, **kwargs: object) -> Trunk:
        """``sip:HOST[:PORT][;transport=tcp]`` -> Trunk."""
        parsed = parse_uri(uri)
        if not isinstance(parsed, SipURI):
            raise ValueError(f"not a SIP URI: {uri}")
        transport = str(kwargs.pop("transport", None) or parsed.transport or "udp")
        return cls(parsed.host, parsed.port or 5060, transport.lower(), **kwargs)  # type: ignore[arg-type]

    def allows_redirect_to(self, host: str) -> bool:
        return host == self.host or host in self.redirect_hosts


class OutboundLeg(Leg):
    """A leg we place; ``Engine.dial`` builds it and sends the first INVITE."""

    trunk: Trunk
    invite: SipRequest
    _txn: ClientTxn | None = None
    _ack: SipRequest | None = None
    _got_provisional = False
    _cancel_cause: int | None = None
    _cancel_reason = ""
    _cancel_sent = False
    _auth_attempts = 0
    _redirects = 0
    _ring_deadline: Deadline | None = None
    _seen: frozenset[int] = frozenset()

    def start(self, invite: SipRequest, trunk: Trunk, ring_timeout: float | None) -> None:
        self.trunk = trunk
        self._send_invite(invite)
        if ring_timeout:
            self._ring_deadline = self.engine.heap.call_later(ring_timeout, self._ring_timeout)

    def _send_invite(self, invite: SipRequest) -> None:
        self.invite = invite
        self._got_provisional = False
        self._txn = self.engine.endpoint.send_request(
            invite, transport=self.transport, addr=self.peer, on_event=self._on_event
        )

    def _ring_timeout(self) -> None:
        if self.state != "answered" and not self.ended:
            log.info("ring timeout", extra={"action": "call_ring_timeout", "call_id": self.call_id})
            self.abandon(NO_ANSWER, "ring_timeout")

    def abandon(self, cause: int, reason: str) -> None:
        """CANCEL the INVITE; sent once a provisional response showed it arrived (§9.1)."""
        if self._cancel_cause is None:
            self._cancel_cause, self._cancel_reason = cause, reason
        if self._got_provisional:
            self._send_cancel()

    def _send_cancel(self) -> None:
        if self._cancel_sent:
            return
        self._cancel_sent = True
        self.engine.endpoint.send_request(
            build_cancel(self.invite), transport=self.transport, addr=self.peer, on_event=_ignore
        )

    # -- responses to our INVITE --------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if isinstance(event, ResponseReceived):
            response = event.response
            if response.status < 200:
                self._provisional(response)
            elif response.status < 300:
                self._success(response)
            else:
                self._failure(response)
        elif isinstance(event, TransactionTimeout):
            self._end(408, 102, "local", "timeout")
        elif isinstance(event, TransportFailed):
            self._end(503, 41, "local", "transport_failed")

    def _provisional(self, response: SipResponse) -> None:
        if self.ended:
            return
        self._got_provisional = True
        if self._cancel_cause is not None:
            self._send_cancel()
            return
        status = response.status
        if status == 100:
            self._once(100, Trying())
            return
        if self.state == "calling":
            self.state = "proceeding"
        if status == 180 or (status == 183 and not response.body):
            self._once(180, Ringing())
        if response.body and response.content_type == SDP and 183 not in self._seen:
            try:
                media = self.negotiate_answer(response)
            except RemoteProtocolError:
                return
            self.state = "early"
            self.rtp.configure(media)
            self.rtp.set_sending(False)  # listen only until answered
            self._once(183, EarlyMedia())

    def _once(self, key: int, event: Trying | Ringing | EarlyMedia) -> bool:
        if key in self._seen:
            return False
        self._seen = self._seen | {key}
        self.emit(event)
        return True

    def _success(self, response: SipResponse) -> None:
        dialog = self.dialog
        if dialog is not None:
            if response.to.tag == dialog.remote_tag:
                if self._ack is not None:
                    self.engine.send_ack(self, self._ack)  # our ACK was lost: the 2xx came again
            else:
                self._end_fork(response)
            return
        try:
            dialog = Dialog.from_uac(self.invite, response)
        except RemoteProtocolError:
            self._end(502, 111, "local", "bad_2xx")
            return
        dialog.handle_response("INVITE", response)
        self.dialog = dialog
        self.engine.register_dialog(self)
        via = self.engine.via(self.transport)
        self._ack = dialog.create_ack(self.invite.cseq.number, via=via)
        self.engine.send_ack(self, self._ack)
        self._cancel_ring_timer()
        if self._cancel_cause is not None or self.ended:
            # answered while we were cancelling: the call exists, end it with BYE
            self.send_bye(self._cancel_cause or 16)
            self.finish(200, self._cancel_cause or 16, "local", self._cancel_reason)
            return
        try:
            media = self.negotiate_answer(response)
        except RemoteProtocolError as exc:
            self.send_bye(88)
            self.finish(exc.status, 88, "local", "no_usable_media")
            return
        self._set_answered(media)

    def _end_fork(self, response: SipResponse) -> None:
        end_fork(self.engine, self.invite, self.transport, self.peer, response)

    def detach(self) -> None:
        """Ended: the INVITE transaction lives on (up to 32 s after a 2xx, RFC 6026) to
        ACK a retransmitted 2xx, without the leg, so the leg's objects are freed now."""
        super().detach()
        self._cancel_ring_timer()
        txn = self._txn
        if txn is None:
            return
        remote_tag = self.dialog.remote_tag if self.dialog is not None else None
        ack_addr = self.engine.ack_addr(self) if self._ack is not None else self.peer
        txn.on_event = _AfterEnd(
            self.engine, self.invite, self.transport, self.peer, remote_tag, self._ack, ack_addr
        )
        self._txn = None

    def _failure(self, response: SipResponse) -> None:
        status = response.status
        if self.ended:
            return
        if status in (401, 407) and self._authorize(response):
            return
        if 300 <= status < 400 and self._redirect(response):
            return
        if self._cancel_cause is not None and status == 487:
            self._end(487, self._cancel_cause, "local", self._cancel_reason)
            return
        cause = reason_cause(response) or cause_for_status(status).code
        self._end(status, cause, "remote", response.reason)

    def _authorize(self, response: SipResponse) -> bool:
        trunk = self.trunk
        if trunk.username is None or trunk.password is None or self._auth_attempts >= 2:
            return False
        if self._cancel_cause is not None:
            return False
        self._auth_attempts += 1
        client = DigestClient(trunk.username, trunk.password)
        try:
            invite = client.authorize(self.invite, response)
        except RemoteProtocolError:
            return False
        invite.headers.replace_first("Via", str(self._fresh_via(invite)))
        self._send_invite(invite)
        return True

    def _redirect(self, response: SipResponse) -> bool:
        contacts = response.contact
        if not contacts or self._redirects >= self.trunk.max_redirects:
            return False
        target = contacts[0].uri
        if not isinstance(target, SipURI) or not self.trunk.allows_redirect_to(target.host):
            log.info("redirect refused: %s", target, extra={"action": "call_redirect_refused"})
            return False
        self._redirects += 1
        h = self.invite.headers.copy()
        h.set("CSeq", f"{self.invite.cseq.number + 1} INVITE")
        h.remove("Authorization")
        h.remove("Proxy-Authorization")
        uri = target.copy()
        uri.headers = []
        invite = SipRequest("INVITE", uri, h, self.invite.body)
        invite.headers.replace_first("Via", str(self._fresh_via(invite)))
        self.peer = (target.host, target.port or 5060)
        self._auth_attempts = 0
        self._seen = frozenset()
        self._send_invite(invite)
        return True

    def _fresh_via(self, invite: SipRequest) -> Via:
        top = invite.top_via
        return Via(top.transport, top.host, top.port, {"branch": generate_branch(), "rport": None})

    def _cancel_ring_timer(self) -> None:
        if self._ring_deadline is not None:
            self._ring_deadline.cancel()
            self._ring_deadline = None

    def _end(self, status: int, cause: int, side: Side, reason: str) -> None:
        self._cancel_ring_timer()
        self.finish(status, cause, side, reason)


def _ignore(event: Event) -> None:
    pass


def end_fork(
    engine: Engine, invite: SipRequest, transport: SipTransport, peer: Addr, response: SipResponse
) -> None:
    """Another fork answered too (RFC 3261 §13.2.2.4): ACK its 2xx, then BYE it."""
    try:
        fork = Dialog.from_uac(invite, response)
    except RemoteProtocolError:
        return
    via = engine.via(transport)
    engine.send_ack_in(fork, transport, fork.create_ack(invite.cseq.number, via=via), peer)
    engine.send_in(fork, transport, fork.create_request("BYE", via=engine.via(transport)), peer)


@dataclass(slots=True, eq=False)
class _AfterEnd:
    """What an ended outbound leg leaves on its INVITE transaction: a retransmitted 2xx
    of its dialog gets the same ACK again, a 2xx of any other (a fork, or one that came
    after the leg gave up) is ACKed and ended with BYE."""

    engine: Engine
    invite: SipRequest
    transport: SipTransport
    peer: Addr
    remote_tag: str | None
    ack: SipRequest | None
    ack_addr: Addr

    def __call__(self, event: Event) -> None:
        if not isinstance(event, ResponseReceived) or not 200 <= event.response.status < 300:
            return
        response = event.response
        if self.ack is not None and response.to.tag == self.remote_tag:
            self.engine.endpoint.send_stateless(self.ack, self.transport, self.ack_addr)
        else:
            end_fork(self.engine, self.invite, self.transport, self.peer, response)
