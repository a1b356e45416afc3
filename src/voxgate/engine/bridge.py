"""Bridging two answered legs: relayed media, or direct media by re-INVITE.

Relay (the default): each direction is an ``rtp.RtpRelay`` onto the other leg's outbound
stream, so the far ends see one continuous stream each (SSRC, sequence numbers and
timestamps rewritten, the sender's gaps and reordering kept), and RFC 4733 keys cross as
telephone-events. While bridged, a leg's own sending (prompts, silence) pauses; keys are
still reported on the leg they came from. Both legs must use the same codec (no transcoding
yet).

Direct media (``media="direct"``): the bridge starts relaying at once, then re-INVITEs leg A
with the media address leg B's peer advertised, and leg B with the one A's peer gave in its
answer, so RTP flows peer to peer. Before each re-INVITE the leg stops sending (the peer
must latch to its new source, not to us); a leg in direct media sends nothing and is not
hung up for silence, its RTP socket stays open. It is asked for only when neither leg
records; if either re-INVITE fails the bridge falls back to relay (the leg whose re-INVITE
took is pointed back at us by another one) and ``reason`` says why. ``mode`` is the media
in effect; ``await bridge.settled()`` waits until no re-INVITE of the bridge is under way.

Back to relay from direct media: ``unbridge()`` (or either leg ending), ``record()`` on
either leg, or a re-INVITE from either peer (it sends to us again; the other is pointed back
too). Each leg is re-INVITEd to our own RTP socket before its local media resumes; a leg
whose peer refuses that is ended (cause 47): its media could not come back.

With direct media RFC 4733 keys go peer to peer: the legs no longer report them (SIP INFO
keys still arrive, in the dialog).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from voxgate.engine.call import Leg, LegError
from voxgate.engine.reinvite import MediaTarget

log = logging.getLogger(__name__)

BridgeMedia = Literal["relay", "direct"]
RESOURCE_UNAVAILABLE = 47


class Bridge:
    def __init__(self, a: Leg, b: Leg, *, media: BridgeMedia = "relay") -> None:
        if a.state != "answered" or b.state != "answered":
            raise LegError("both legs must be answered to bridge them")
        if a.rtp.codec != b.rtp.codec:
            raise LegError(f"cannot bridge {a.rtp.codec} with {b.rtp.codec} (no transcoding)")
        if media not in ("relay", "direct"):
            raise ValueError(f"media must be 'relay' or 'direct', not {media!r}")
        self.a, self.b = a, b
        self.requested: BridgeMedia = media
        self.reason: str | None = None  # why direct media, when asked for, is not in effect
        self._want: BridgeMedia = "relay"
        self._direct: set[Leg] = set()  # legs whose peer took a re-INVITE to the other peer
        self._worker: asyncio.Task[None] | None = None
        a.rtp.stop_playback()
        b.rtp.stop_playback()
        self._relay()
        a.bridge = b.bridge = self
        self.active = True
        if media == "direct":
            if a.recording or b.recording:
                self.reason = "a leg records"
                self._log("direct media refused: %s", self.reason)
            else:
                self._want = "direct"
                self._kick()

    @property
    def mode(self) -> BridgeMedia:
        """The media in effect: ``direct`` once both peers took their re-INVITE."""
        return "direct" if len(self._direct) == 2 else "relay"

    @property
    def settling(self) -> bool:
        """A re-INVITE of this bridge is under way."""
        return self._worker is not None and not self._worker.done()

    async def settled(self, timeout: float | None = None) -> BridgeMedia:  # noqa: ASYNC109
        """Wait until no re-INVITE of this bridge is under way; the media then in effect."""
        async with asyncio.timeout(timeout):
            while self._worker is not None and not self._worker.done():
                await asyncio.shield(self._worker)
        return self.mode

    # -- leaving direct media --------------------------------------------------------------
    def relay_needed(self, reason: str) -> None:
        """Media must flow through us (a recording starts): back to relay."""
        if self._want == "direct":
            self._want = "relay"
            self.reason = reason
            self._log("back to relay: %s", reason)
        self._kick()

    def peer_moved(self, leg: Leg) -> None:
        """``leg``'s peer re-INVITEd us and was answered with our own media address."""
        if leg in self._direct or leg.rtp.direct:
            self._direct.discard(leg)
            self._resume(leg)
            self.relay_needed(f"re-INVITE from the peer of {leg.call_id}")

    def unbridge(self) -> None:
        """Stop bridging; each leg that is still up resumes its own stream (after its
        re-INVITE back to us, for a leg in direct media)."""
        if not self.active:
            return
        self.active = False
        self._want = "relay"
        for leg in (self.a, self.b):
            leg.bridge = None
            if not leg.rtp.direct:
                self._resume(leg)
        self._kick()

    # -- the re-INVITEs, one at a time -------------------------------------------------------
    def _kick(self) -> None:
        if not self.settling:
            self._worker = self.a.engine.loop.create_task(self._work())

    async def _work(self) -> None:
        try:
            while True:
                if self._want == "direct" and self.active:
                    step = self._next_direct()
                    if step is None:
                        self._log("direct media in effect")
                        return
                    leg, other = step
                    assert other.media is not None
                    if not await self._move(leg, MediaTarget.peer_of(other.media)):
                        self._want = "relay"
                    continue
                legs = [leg for leg in (self.a, self.b) if leg in self._direct]
                if not legs:
                    return
                await self._restore(legs[0])
        except Exception:
            log.exception(
                "bridge media change failed",
                extra={"action": "bridge_failed", "call_id": self.a.call_id},
            )

    def _next_direct(self) -> tuple[Leg, Leg] | None:
        for leg, other in ((self.a, self.b), (self.b, self.a)):
            if leg not in self._direct:
                return leg, other
        return None

    async def _move(self, leg: Leg, target: MediaTarget) -> bool:
        """Re-INVITE ``leg``'s peer to send to ``target``; False (and back to relay) if not."""
        if leg.ended or leg.recording:
            self.reason = self.reason or f"{leg.call_id} ended or records"
            return False
        leg.rtp.set_direct(True)  # quiet first: the peer must latch to its new source
        result = await leg.reinvite(target)
        if result.ok:
            self._direct.add(leg)
            return True
        self.reason = f"re-INVITE of {leg.call_id} answered {result.status}"
        self._log("direct media failed, relaying: %s", self.reason)
        if not leg.ended:
            self._resume(leg)
        return False

    async def _restore(self, leg: Leg) -> None:
        """Point ``leg``'s peer back at our own RTP socket."""
        if leg.ended:
            self._direct.discard(leg)
            return
        result = await leg.reinvite(None)
        self._direct.discard(leg)
        if leg.ended:
            return
        if not result.ok:
            self._log("media of %s could not come back: %d", leg.call_id, result.status)
            await leg.hangup(RESOURCE_UNAVAILABLE)
            return
        self._resume(leg)

    def _resume(self, leg: Leg) -> None:
        """Media flows through us again on ``leg``: relay, or its own stream if unbridged."""
        leg.rtp.set_direct(False)
        if self.active:
            self._relay()
        else:
            leg.rtp.bridge_to(None)
            leg.rtp.unbridged()

    def _relay(self) -> None:
        self.a.rtp.bridge_to(self.b.rtp)
        self.b.rtp.bridge_to(self.a.rtp)

    def _log(self, message: str, *args: object) -> None:
        log.info(
            message,
            *args,
            extra={
                "action": "bridge_media",
                "call_id": self.a.call_id,
                "other_call_id": self.b.call_id,
                "mode": self.mode,
            },
        )

    def __repr__(self) -> str:
        state = "active" if self.active else "ended"
        return f"<Bridge {self.a.call_id} <-> {self.b.call_id} {self.mode} {state}>"


def bridge(a: Leg, b: Leg, *, media: BridgeMedia = "relay") -> Bridge:
    """Connect the media of two answered legs; ends by itself when either leg ends.

    ``media="direct"``: move the media peer to peer by re-INVITEs when it can (see the
    module's text); the bridge relays meanwhile and whenever that fails.
    """
    return Bridge(a, b, media=media)
