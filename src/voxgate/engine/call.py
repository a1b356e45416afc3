"""A call leg: the SIP signalling of one call (either role) and its media API.

The domain drives a :class:`Leg` through a few coroutines (``play``, ``gather``,
``record``, ``hangup``; ``ring``/``answer``/``reject`` for inbound legs) and reads its
events. Signalling state lives in the pure ``sip.Dialog`` and transactions; this module
only decides what to send next. An outbound leg is driven by :mod:`voxgate.engine.uac`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from voxgate.engine.endpoint import ServerTxn, SipTrace
from voxgate.engine.events import (
    Answered,
    Dtmf,
    DtmfSource,
    Hangup,
    LegEvent,
    Side,
)
from voxgate.engine.reinvite import MediaTarget, ReinviteClient, ReinviteResult
from voxgate.engine.rtp_session import RtpSession
from voxgate.media import tones
from voxgate.media.g711 import encode
from voxgate.media.recorder import write_wav
from voxgate.media.render import TelephoneAudio, transcode
from voxgate.sip.causes import cause_name
from voxgate.sip.dialog import Dialog
from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.events import AckReceived, Event, TransactionTimeout
from voxgate.sip.message import SipRequest, SipResponse, make_response
from voxgate.sip.sdp import MediaParams, SessionDescription, make_answer, negotiated, parse_sdp

if TYPE_CHECKING:
    from voxgate.engine.bridge import Bridge
    from voxgate.engine.engine import Engine
    from voxgate.engine.transport import Addr, SipTransport

log = logging.getLogger(__name__)

LegState = Literal["calling", "proceeding", "early", "answered", "ended"]
_REASON_CAUSE = re.compile(r"Q\.850\s*;\s*cause\s*=\s*(\d+)", re.IGNORECASE)
_INFO_SIGNAL = re.compile(r"Signal\s*=\s*([0-9A-Da-d*#])", re.IGNORECASE)
SDP = "application/sdp"


class LegError(Exception):
    """The leg is not in a state that allows the operation."""


def reason_cause(msg: SipRequest | SipResponse) -> int | None:
    """The Q.850 cause of a ``Reason: Q.850;cause=N`` header (RFC 3326), if any."""
    for value in msg.headers.get_all("reason"):
        m = _REASON_CAUSE.search(value)
        if m:
            return int(m.group(1))
    return None


class Leg:
    """One call leg. Build with ``Engine.dial`` (outbound) or take from ``Engine.incoming``."""

    def __init__(
        self,
        engine: Engine,
        *,
        call_id: str,
        direction: Literal["outbound", "inbound"],
        transport: SipTransport,
        peer: Addr,
        rtp: RtpSession,
    ) -> None:
        self.engine = engine
        self.call_id = call_id
        self.direction = direction
        self.transport = transport
        self.peer = peer
        # set for registered extensions: every request of the call goes to this address
        # (the one the phone sends from) instead of its Contact, which NAT may hide
        self.flow: Addr | None = None
        self.rtp = rtp
        rtp.on_dtmf = self.on_dtmf
        rtp.call_id = call_id
        rtp.on_timeout = self.on_rtp_timeout
        self.state: LegState = "calling"
        self.dialog: Dialog | None = None
        self.local_sdp: SessionDescription | None = None
        self.media: MediaParams | None = None
        self.trace = SipTrace()
        self.history: list[LegEvent] = []
        self._queue: asyncio.Queue[LegEvent] = asyncio.Queue()
        self._answered: asyncio.Future[bool] = engine.loop.create_future()
        self._ended: asyncio.Future[Hangup] = engine.loop.create_future()
        self._digits: list[str] = []
        self._digit_event = asyncio.Event()
        self._record_path: Path | None = None
        self._record_task: asyncio.Task[None] | None = None
        self.sdp_version = 1  # of the last SDP we sent (o= line)
        self._session_id: int | None = None
        self.reinvites = ReinviteClient(self)
        self.invite_txn: ServerTxn | None = None  # inbound: the INVITE we answer
        self._reinvite_txn: ServerTxn | None = None  # the last re-INVITE we answered 200
        self.bridge: Bridge | None = None

    def __repr__(self) -> str:
        return f"<Leg {self.call_id} {self.direction} {self.state} {self.rtp!r}>"

    # -- events ---------------------------------------------------------------------------
    def emit(self, event: LegEvent) -> None:
        self.history.append(event)
        self._queue.put_nowait(event)
        log.info(
            "leg event %s",
            type(event).__name__,
            extra={"action": "leg_event", "call_id": self.call_id, "event": repr(event)},
        )

    async def events(self) -> AsyncIterator[LegEvent]:
        """Every event of this leg, in order, ending with its Hangup."""
        while True:
            event = await self._queue.get()
            yield event
            if isinstance(event, Hangup):
                return

    async def wait_answered(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """True once answered; False if the leg ended first."""
        return await asyncio.wait_for(asyncio.shield(self._answered), timeout)

    async def wait_ended(self, timeout: float | None = None) -> Hangup:  # noqa: ASYNC109
        hangup = await asyncio.wait_for(asyncio.shield(self._ended), timeout)
        if self._record_task is not None:
            await self._record_task
        return hangup

    @property
    def ended(self) -> bool:
        return self.state == "ended"

    @property
    def ended_future(self) -> asyncio.Future[Hangup]:
        return self._ended

    # -- media API ------------------------------------------------------------------------
    async def play(self, audio: TelephoneAudio) -> None:
        """Play ``audio`` to the peer; returns when its last packet has been sent."""
        if self.state != "answered":
            raise LegError(f"cannot play on a leg that is {self.state}")
        audio = transcode(audio, self.rtp.codec)
        await self.rtp.play(list(audio.frames(20)))

    def stop_playback(self) -> None:
        self.rtp.stop_playback()

    async def gather(
        self,
        max_digits: int,
        timeout: float,  # noqa: ASYNC109 -- the engine API names it so
        *,
        terminators: str = "#",
    ) -> str:
        """Collect up to ``max_digits`` keys; ``timeout`` is the wait for each key.

        Keys pressed before the call (type-ahead, e.g. during a prompt) count. A terminator
        key ends the input early and is not returned.
        """
        got = ""
        while len(got) < max_digits:
            if not self._digits:
                if self.ended:
                    break
                self._digit_event.clear()
                try:
                    await asyncio.wait_for(self._digit_event.wait(), timeout)
                except TimeoutError:
                    break
                continue
            key = self._digits.pop(0)
            if key in terminators:
                break
            got += key
        return got

    def send_dtmf(self, keys: str, *, duration_ms: int = 100) -> None:
        """Send keys as RFC 4733 events, or as in-band tones when the peer has none."""
        for key in keys:
            if not self.rtp.send_dtmf(key, duration_ms):
                pcm = tones.dtmf_tone(key, duration_ms / 1000)
                pause = tones.silence(0.06)
                payload = encode(self.rtp.codec, pcm) + encode(self.rtp.codec, pause)
                self.rtp.play(list(TelephoneAudio(self.rtp.codec, payload).frames(20)))

    def send_info_dtmf(self, key: str, *, duration_ms: int = 160) -> None:
        """Send one key as SIP INFO (application/dtmf-relay), for peers that want it."""
        if self.dialog is None or self.ended:
            raise LegError(f"cannot send INFO on a leg that is {self.state}")
        body = f"Signal={key}\r\nDuration={duration_ms}\r\n".encode()
        info = self.dialog.create_request(
            "INFO",
            via=self.engine.via(self.transport),
            body=body,
            content_type="application/dtmf-relay",
        )
        self.engine.send_in_dialog(self, info, lambda event: None)

    def record(self, path: str | Path, *, both: bool = False) -> None:
        """Record what the peer sends (``both``: stereo, peer left and what we send right)
        into a WAV file written when the leg ends.

        A leg bridged with direct media moves its bridge back to relay first (by
        re-INVITEs): the recording holds what arrives once the media flows through us again.
        """
        self._record_path = Path(path)
        self.rtp.start_recording(sent=both)
        if self.bridge is not None:
            self.bridge.relay_needed(f"recording on {self.call_id}")

    @property
    def recording(self) -> bool:
        return self._record_path is not None

    def on_dtmf(self, key: str, source: DtmfSource) -> None:
        if self.ended:
            return
        self._digits.append(key)
        self._digit_event.set()
        self.emit(Dtmf(key, source))

    # -- ending ---------------------------------------------------------------------------
    async def hangup(self, cause: int = 16) -> Hangup:
        """End the call: BYE when up, CANCEL when ringing out, a rejection when ringing in."""
        if not self.ended:
            self._local_hangup(cause, "hangup")
        return await self.wait_ended(timeout=40)

    def _local_hangup(self, cause: int, reason: str) -> None:
        if self.state == "answered" and self.dialog is not None:
            self.send_bye(cause)
            self.finish(200, cause, "local", reason)
        else:
            self.abandon(cause, reason)

    def abandon(self, cause: int, reason: str) -> None:
        """End before answer (the role decides how: CANCEL or a final response)."""
        raise NotImplementedError

    def on_rtp_timeout(self) -> None:
        if not self.ended:
            self._local_hangup(102, "rtp_timeout")

    def send_bye(self, cause: int) -> None:
        dialog = self.dialog
        assert dialog is not None
        bye = dialog.create_request(
            "BYE",
            via=self.engine.via(self.transport),
            headers=[("Reason", f'Q.850;cause={cause};text="{cause_name(cause)}"')],
        )
        self.engine.send_in_dialog(self, bye, lambda event: None)

    def finish(self, sip_status: int, cause: int, side: Side, reason: str = "") -> None:
        if self.ended:
            return
        self.state = "ended"
        if self.bridge is not None:
            self.bridge.unbridge()
        if self.dialog is not None:
            self.dialog.terminate()
        self.rtp.close()
        self.engine.forget(self)
        if self._record_path is not None:
            self._record_task = asyncio.ensure_future(asyncio.to_thread(self._write_recording))
        event = Hangup(sip_status, cause, side, reason)
        self.emit(event)
        self._digit_event.set()
        if not self._answered.done():
            self._answered.set_result(False)
        if not self._ended.done():
            self._ended.set_result(event)

    def _write_recording(self) -> None:
        path, rtp = self._record_path, self.rtp
        if path is None or rtp.recv_track is None:
            return
        with path.open("wb") as file:
            if rtp.sent_track is None:
                write_wav(file, rtp.recv_track.render())
            else:
                from voxgate.media.recorder import interleave

                write_wav(
                    file, interleave(rtp.recv_track.render(), rtp.sent_track.render()), channels=2
                )

    def _set_answered(self, media: MediaParams) -> None:
        self.media = media
        self.state = "answered"
        self.rtp.configure(media)
        self.emit(Answered(media.codec.name, f"{media.remote_address}:{media.remote_port}"))
        if not self._answered.done():
            self._answered.set_result(True)

    # -- requests inside the dialog ---------------------------------------------------------
    async def reinvite(self, target: MediaTarget | None = None) -> ReinviteResult:
        """Send a re-INVITE offering ``target`` (another party's media address: direct
        media), or by default our own RTP socket; see :mod:`voxgate.engine.reinvite`."""
        if self.state != "answered" or self.dialog is None:
            raise LegError(f"cannot re-INVITE a leg that is {self.state}")
        return await self.reinvites.send(target)

    def on_request(self, request: SipRequest, txn: ServerTxn) -> None:
        dialog = self.dialog
        assert dialog is not None
        try:
            dialog.handle_request(request)
        except RemoteProtocolError as exc:
            txn.respond(make_response(request, exc.status))
            return
        method = request.method
        if method == "BYE":
            txn.respond(make_response(request, 200))
            cause = reason_cause(request) or 16
            self.finish(200 if self.state == "answered" else 487, cause, "remote", "bye")
        elif method == "INVITE":
            if self.reinvites.pending:  # glare: ours is in progress (RFC 3261 §14.2)
                txn.respond(make_response(request, 491))
                return
            self._on_reinvite(request, txn)
        elif method == "INFO":
            key = info_dtmf(request)
            txn.respond(make_response(request, 200))
            if key is not None:
                self.on_dtmf(key, "info")
        elif method in ("OPTIONS", "UPDATE"):
            txn.respond(make_response(request, 200))
        else:
            txn.respond(make_response(request, 405, headers=[("Allow", self.engine.ALLOW)]))

    def _on_reinvite(self, request: SipRequest, txn: ServerTxn) -> None:
        if not request.body:
            txn.respond(make_response(request, 488))  # offerless re-INVITE: not supported yet
            return
        try:
            offer = parse_sdp(request.body)
            self.sdp_version += 1
            answer, params = make_answer(
                offer,
                address=self.engine.media_address,
                port=self.rtp.local[1],
                session_id=self.session_id,
                version=self.sdp_version,
                preference=self.engine.codec_list(self.rtp.codec),
            )
        except RemoteProtocolError as exc:
            txn.respond(make_response(request, exc.status))
            return
        self.local_sdp = answer
        self.media = params
        self.rtp.configure(params)
        assert self.dialog is not None
        self._reinvite_txn = txn
        self.reinvites.acked.clear()
        txn.respond(
            make_response(
                request,
                200,
                to_tag=self.dialog.local_tag,
                headers=[("Contact", str(self.dialog.local_contact))],
                body=answer.to_bytes(),
                content_type=SDP,
            )
        )
        if self.bridge is not None:
            self.bridge.peer_moved(self)  # its media comes to us again

    @property
    def session_id(self) -> int:
        """Our o= session id, the same in every SDP of this call (RFC 3264 §8)."""
        if self._session_id is None:
            sent = self.local_sdp.session_id if self.local_sdp is not None else None
            self._session_id = sent if sent is not None else abs(hash(self.call_id)) % 10**9
        return self._session_id

    def detach(self) -> None:
        """Ended and forgotten: its INVITE transactions live on to absorb retransmissions
        (up to 32 s) but no longer report to the leg, so the leg's objects are freed now
        (an outbound leg also leaves its INVITE client transaction, see ``uac``)."""
        for txn in self.server_txns():
            txn.on_event = None

    def server_txns(self) -> list[ServerTxn]:
        """The INVITE transactions this leg answered (the initial one, the last re-INVITE)."""
        return [t for t in (self.invite_txn, self._reinvite_txn) if t is not None]

    def on_ack(self, ack: SipRequest) -> None:
        """An ACK for a 2xx we sent (initial INVITE or re-INVITE): it stops the 2xx
        retransmissions of that INVITE's server transaction."""
        for txn in (self.invite_txn, self._reinvite_txn):
            if txn is not None and ack.cseq.number == txn.request.cseq.number:
                self.engine.endpoint.deliver_ack(txn, ack)
                self.reinvites.acked.set()
                return

    def on_invite_server_event(self, event: Event) -> None:
        if isinstance(event, AckReceived) and self.dialog is not None:
            self.dialog.confirm()
        elif isinstance(event, TransactionTimeout) and self.state == "answered":
            self._local_hangup(102, "no_ack")

    def negotiate_answer(self, response: SipResponse) -> MediaParams:
        if self.local_sdp is None or not response.body:
            raise RemoteProtocolError("answer without SDP", 488)
        return negotiated(self.local_sdp, parse_sdp(response.body))


def info_dtmf(request: SipRequest) -> str | None:
    """The key carried by a SIP INFO (application/dtmf-relay or application/dtmf)."""
    ctype = request.content_type
    text = request.body.decode("ascii", "replace").strip()
    if ctype == "application/dtmf-relay":
        m = _INFO_SIGNAL.search(text)
        return m.group(1).upper() if m else None
    if ctype == "application/dtmf" and len(text) == 1 and text.upper() in "0123456789*#ABCD":
        return text.upper()
    return None
