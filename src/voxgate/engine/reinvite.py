"""Re-INVITEs a leg sends inside its established dialog (RFC 3261 §14.1).

A leg sends one re-INVITE at a time, and none while a 2xx it sent still waits for its ACK
(an INVITE transaction is then in progress the other way). The dialog builds the request:
next CSeq, route set, same Call-ID and tags, our Contact. Its body is an SDP offer with our
session id and an ``o=`` version one above the last one we sent. What an answer does:

- 2xx: ACKed (again for each retransmitted 2xx); the answer is read and the offer becomes
  the leg's SDP. Offering our own RTP socket reconfigures it; offering another party's
  address (direct media) leaves the socket alone -- the caller decides.
- 491 Request Pending (glare): sent again after §14.1's random delay (2.1-4 s when we own the
  Call-ID, else 0-2 s), at most twice, then given up.
- any other 3xx-6xx, or 503 for a transport failure: the offer is void; the session stays as
  it was.
- 481, 408 or no answer at all: the dialog is gone (§12.2.1.2): the leg ends (no BYE).
- a 2xx whose SDP we cannot use: ACKed, then the call is ended with BYE (cause 88), as for
  the first answer.

An INVITE that arrives while ours waits for its final response is answered 491 by the leg.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voxgate.sip.causes import cause_for_status
from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.events import Event, ResponseReceived, TransactionTimeout, TransportFailed
from voxgate.sip.message import SipRequest, SipResponse
from voxgate.sip.sdp import (
    Codec,
    MediaParams,
    SessionDescription,
    make_offer,
    negotiated,
    parse_sdp,
)

if TYPE_CHECKING:
    from voxgate.engine.call import Leg

log = logging.getLogger(__name__)

SDP = "application/sdp"
GLARE_RETRIES = 2  # re-sends after a 491 before giving up
ACK_WAIT = 32.0  # at most this long for the ACK of a 2xx we sent before we send an INVITE


@dataclass(frozen=True, slots=True)
class MediaTarget:
    """Where a re-INVITE asks the peer to send its media, and with which payload types."""

    address: str
    port: int
    codec: Codec
    dtmf_pt: int | None = None

    @classmethod
    def peer_of(cls, params: MediaParams) -> MediaTarget:
        """The media address a peer advertised (to point another peer at it)."""
        return cls(params.remote_address, params.remote_port, params.codec, params.dtmf_pt)

    def __str__(self) -> str:
        return f"{self.address}:{self.port} {self.codec}"


@dataclass(frozen=True, slots=True)
class ReinviteResult:
    """The outcome of :meth:`Leg.reinvite`: the final status, and the answer when it took."""

    status: int
    params: MediaParams | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.params is not None


class ReinviteClient:
    """The re-INVITEs of one leg: one at a time, glare handled."""

    def __init__(self, leg: Leg) -> None:
        # the leg owns this client: a weak reference, so the two form no cycle
        self.leg: Leg = weakref.proxy(leg)
        self.pending = False  # ours waits for its final response: incoming INVITEs get 491
        self.sent = 0  # requests sent, retries included
        self.acked = asyncio.Event()  # cleared while a 2xx we sent waits for its ACK
        self.acked.set()
        self._lock = asyncio.Lock()
        self._rng: random.Random | None = None  # made on the first glare (seeding costs)

    async def send(self, target: MediaTarget | None) -> ReinviteResult:
        """Offer ``target`` (None: our own RTP socket) and wait for the outcome."""
        async with self._lock:
            attempt = 0
            while True:
                attempt += 1
                await self._until_acked()
                leg = self.leg
                if leg.ended or leg.dialog is None:
                    return ReinviteResult(481, attempts=attempt)
                result = await self._once(target, attempt)
                if result.status != 491 or attempt > GLARE_RETRIES:
                    return result
                if self._rng is None:
                    self._rng = random.Random()
                delay = leg.dialog.glare_retry_delay(self._rng)
                log.info(
                    "re-INVITE glare: again in %.2f s",
                    delay,
                    extra={"action": "reinvite_glare", "call_id": leg.call_id, "delay": delay},
                )
                if await self._ended_within(delay):
                    return ReinviteResult(481, attempts=attempt)

    async def _until_acked(self) -> None:
        try:
            await asyncio.wait_for(self.acked.wait(), ACK_WAIT)
        except TimeoutError:
            self.acked.set()  # never ACKed: Timer L ends that transaction anyway

    async def _ended_within(self, delay: float) -> bool:
        try:
            await asyncio.wait_for(asyncio.shield(self.leg.ended_future), delay)
        except TimeoutError:
            return False
        return True

    def _offer(self, target: MediaTarget | None) -> SessionDescription:
        leg = self.leg
        assert leg.media is not None
        if target is None:
            target = MediaTarget(
                leg.engine.media_address, leg.rtp.local[1], leg.media.codec, leg.media.dtmf_pt
            )
        leg.sdp_version += 1
        return make_offer(
            address=target.address,
            port=target.port,
            session_id=leg.session_id,
            version=leg.sdp_version,
            codecs=[target.codec],
            dtmf_pt=target.dtmf_pt,
            origin_address=leg.engine.media_address,
        )

    async def _once(self, target: MediaTarget | None, attempt: int) -> ReinviteResult:
        leg = self.leg
        dialog = leg.dialog
        assert dialog is not None
        offer = self._offer(target)
        request = dialog.create_request(
            "INVITE",
            via=leg.engine.via(leg.transport),
            headers=[("Allow", leg.engine.ALLOW)],
            body=offer.to_bytes(),
            content_type=SDP,
        )
        done: asyncio.Future[SipResponse | int] = leg.engine.loop.create_future()
        ack: list[SipRequest] = []

        def on_event(event: Event) -> None:
            if isinstance(event, ResponseReceived):
                response = event.response
                if response.status < 200:
                    return
                if response.status < 300:
                    if ack:  # a retransmitted 2xx: our ACK was lost
                        leg.engine.send_ack(leg, ack[0])
                        return
                    dialog.handle_response("INVITE", response)
                    via = leg.engine.via(leg.transport)
                    ack.append(dialog.create_ack(request.cseq.number, via=via))
                    leg.engine.send_ack(leg, ack[0])
                else:
                    dialog.handle_response("INVITE", response)
                outcome: SipResponse | int = response
            elif isinstance(event, TransactionTimeout):
                outcome = 408
            elif isinstance(event, TransportFailed):
                outcome = 503
            else:
                return
            if not done.done():
                done.set_result(outcome)

        log.info(
            "sending re-INVITE (CSeq %d) offering %s",
            request.cseq.number,
            target or "our own media",
            extra={"action": "reinvite_sent", "call_id": leg.call_id, "attempt": attempt},
        )

        def on_leg_end(_: object) -> None:
            if not done.done():
                done.set_result(481)  # ended meanwhile (BYE, hangup): no dialog any more

        self.pending = True
        self.sent += 1
        leg.ended_future.add_done_callback(on_leg_end)
        try:
            leg.engine.send_in_dialog(leg, request, on_event)
            outcome = await done
        finally:
            self.pending = False
            leg.ended_future.remove_done_callback(on_leg_end)
        if leg.ended:
            return ReinviteResult(481, attempts=attempt)
        return self._outcome(outcome, offer, target, attempt)

    def _outcome(
        self,
        outcome: SipResponse | int,
        offer: SessionDescription,
        target: MediaTarget | None,
        attempt: int,
    ) -> ReinviteResult:
        leg = self.leg
        status = outcome if isinstance(outcome, int) else outcome.status
        log.info(
            "re-INVITE answered %d",
            status,
            extra={"action": "reinvite_answered", "call_id": leg.call_id, "status": status},
        )
        if status in (408, 481):
            if leg.dialog is not None:
                leg.dialog.terminate()
            if status == 408:
                leg.finish(200, 102, "local", "reinvite_timeout")
            else:
                leg.finish(200, cause_for_status(481).code, "remote", "reinvite_481")
            return ReinviteResult(status, attempts=attempt)
        if isinstance(outcome, int) or status >= 300:
            return ReinviteResult(status, attempts=attempt)
        try:
            if not outcome.body:
                raise RemoteProtocolError("2xx to a re-INVITE without SDP", 488)
            params = negotiated(offer, parse_sdp(outcome.body))
        except RemoteProtocolError:
            if not leg.ended:
                leg.send_bye(88)
                leg.finish(200, 88, "local", "no_usable_media")
            return ReinviteResult(488, attempts=attempt)
        leg.local_sdp = offer
        leg.media = params
        if target is None:
            leg.rtp.configure(params)
        return ReinviteResult(status, params, attempts=attempt)
