"""Errors of the RTP layer.

A parse error is always the peer's fault: the bytes came off the wire. The engine drops the
datagram (and may count it); it never lets the error escape into a call.
"""

from __future__ import annotations

from voxgate.errors import VoxgateError


class RtpError(VoxgateError):
    """Something went wrong in the RTP layer."""

    error_id = "rtp_error"


class RtpParseError(RtpError, ValueError):
    """A peer sent an RTP or RTCP datagram that cannot be parsed."""

    error_id = "rtp_parse_error"
