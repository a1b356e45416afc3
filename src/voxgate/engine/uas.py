"""Answering a call: the INVITE's server transaction already sent 100 Trying; the
domain then rings (180), answers (200 with the SDP answer) or rejects it. A CANCEL
from the caller ends the leg with 487; a 2xx never ACKed (Timer L) ends it with BYE.
"""

from __future__ import annotations

from voxgate.engine.call import SDP, Leg, LegError
from voxgate.sip.causes import cause_for_status, status_for_cause
from voxgate.sip.dialog import Dialog
from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.message import make_response
from voxgate.sip.sdp import SessionDescription, make_answer

ORIGINATOR_CANCEL = 487


class InboundLeg(Leg):
    """A leg someone placed to us; take it from ``Engine.incoming``."""

    offer: SessionDescription
    local_tag: str

    @property
    def request(self) -> str:
        """The number dialled (user part of the Request-URI)."""
        assert self.invite_txn is not None
        uri = self.invite_txn.request.uri
        return str(getattr(uri, "user", None) or getattr(uri, "number", "") or "")

    @property
    def caller(self) -> str:
        assert self.invite_txn is not None
        uri = self.invite_txn.request.from_.uri
        return str(getattr(uri, "user", None) or getattr(uri, "number", "") or "")

    def _pending(self) -> None:
        if self.ended or self.state == "answered" or self.invite_txn is None:
            raise LegError(f"leg is {self.state}")

    async def ring(self) -> None:
        """Send 180 Ringing."""
        self._pending()
        assert self.invite_txn is not None
        self.state = "proceeding"
        self.invite_txn.respond(
            make_response(
                self.invite_txn.request,
                180,
                to_tag=self.local_tag,
                headers=[("Contact", str(self.engine.contact(self.transport)))],
            )
        )

    async def answer(self) -> None:
        """Send 200 OK with our SDP answer; media starts at once."""
        self._pending()
        txn = self.invite_txn
        assert txn is not None
        try:
            answer, params = make_answer(
                self.offer,
                address=self.engine.media_address,
                port=self.rtp.local[1],
                session_id=self.session_id,
                preference=self.engine.codec_list(None),
            )
        except RemoteProtocolError as exc:
            await self.reject(exc.status)
            raise LegError("no acceptable media in the offer") from exc
        contact = self.engine.contact(self.transport)
        self.dialog = Dialog.from_uas(txn.request, local_tag=self.local_tag, local_contact=contact)
        self.engine.register_dialog(self)
        self.local_sdp = answer
        self.reinvites.acked.clear()  # no re-INVITE of ours before the caller's ACK
        txn.respond(
            make_response(
                txn.request,
                200,
                to_tag=self.local_tag,
                headers=[("Contact", str(contact)), ("Allow", self.engine.ALLOW)],
                body=answer.to_bytes(),
                content_type=SDP,
            )
        )
        self._set_answered(params)

    async def reject(self, status: int = 486) -> None:
        """Refuse the call with a final status (486 busy, 603 decline, 480...)."""
        self._pending()
        assert self.invite_txn is not None
        self.invite_txn.respond(
            make_response(self.invite_txn.request, status, to_tag=self.local_tag)
        )
        self.finish(status, cause_for_status(status).code, "local", "rejected")

    def abandon(self, cause: int, reason: str) -> None:
        if self.invite_txn is not None and not self.ended:
            status = status_for_cause(cause)
            self.invite_txn.respond(
                make_response(self.invite_txn.request, status, to_tag=self.local_tag)
            )
        self.finish(status_for_cause(cause), cause, "local", reason)

    def on_cancel(self) -> None:
        """The caller gave up before we answered."""
        if self.ended or self.state == "answered" or self.invite_txn is None:
            return
        self.invite_txn.respond(make_response(self.invite_txn.request, 487, to_tag=self.local_tag))
        self.finish(487, ORIGINATOR_CANCEL, "remote", "cancel")
