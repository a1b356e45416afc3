"""Pure RTP: packets, RTCP, receiver statistics, RFC 4733 events, stream state and relay.

Nothing here opens a socket or reads a clock; time comes in as ``now``.
"""

from voxgate.rtp.dtmf import DtmfDigit, DtmfReceiver, EventPacket, TelephoneEvent, encode_digit
from voxgate.rtp.errors import RtpError, RtpParseError
from voxgate.rtp.packet import RtpPacket, is_rtcp, pack_rtp
from voxgate.rtp.rtcp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    RtcpUnknown,
    SdesChunk,
    SenderReport,
    SourceDescription,
    ntp_middle32,
    ntp_time,
    parse_rtcp,
    serialize_rtcp,
)
from voxgate.rtp.session import OutboundStream, RtpRelay
from voxgate.rtp.stats import RtpReceiverStats

__all__ = [
    "Bye",
    "DtmfDigit",
    "DtmfReceiver",
    "EventPacket",
    "OutboundStream",
    "ReceiverReport",
    "ReportBlock",
    "RtcpPacket",
    "RtcpUnknown",
    "RtpError",
    "RtpPacket",
    "RtpParseError",
    "RtpReceiverStats",
    "RtpRelay",
    "SdesChunk",
    "SenderReport",
    "SourceDescription",
    "TelephoneEvent",
    "encode_digit",
    "is_rtcp",
    "ntp_middle32",
    "ntp_time",
    "pack_rtp",
    "parse_rtcp",
    "serialize_rtcp",
]
