"""Bridging two answered legs: media is relayed packet by packet, as it arrives.

Each direction is an ``rtp.RtpRelay`` onto the other leg's outbound stream, so the far
ends see one continuous stream each (SSRC, sequence numbers and timestamps rewritten, the
sender's gaps and reordering kept), and RFC 4733 keys cross as telephone-events. While
bridged, a leg's own sending (prompts, silence) pauses; keys are still reported on the
leg they came from. Both legs must use the same codec (no transcoding yet).
"""

from __future__ import annotations

from voxgate.engine.call import Leg, LegError


class Bridge:
    def __init__(self, a: Leg, b: Leg) -> None:
        if a.state != "answered" or b.state != "answered":
            raise LegError("both legs must be answered to bridge them")
        if a.rtp.codec != b.rtp.codec:
            raise LegError(f"cannot bridge {a.rtp.codec} with {b.rtp.codec} (no transcoding)")
        self.a, self.b = a, b
        a.rtp.stop_playback()
        b.rtp.stop_playback()
        a.rtp.bridge_to(b.rtp)
        b.rtp.bridge_to(a.rtp)
        a.bridge = b.bridge = self
        self.active = True

    def unbridge(self) -> None:
        """Stop relaying; each leg that is still up resumes its own stream."""
        if not self.active:
            return
        self.active = False
        for leg in (self.a, self.b):
            leg.rtp.bridge_to(None)
            leg.rtp.unbridged()
            leg.bridge = None

    def __repr__(self) -> str:
        state = "active" if self.active else "ended"
        return f"<Bridge {self.a.call_id} <-> {self.b.call_id} {state}>"


def bridge(a: Leg, b: Leg) -> Bridge:
    """Connect the media of two answered legs; ends by itself when either leg ends."""
    return Bridge(a, b)
