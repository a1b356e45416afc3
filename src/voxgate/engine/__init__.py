"""The only place with sockets and timers: SIP transports and endpoint, call legs, RTP
sessions and the shared media clock, on asyncio. See docs/engine.md."""

from voxgate.engine.bridge import Bridge, bridge
from voxgate.engine.call import Leg, LegError
from voxgate.engine.engine import AtCapacity, Engine, EngineConfig, NotRegistered
from voxgate.engine.events import (
    Answered,
    Dtmf,
    EarlyMedia,
    Hangup,
    LegEvent,
    Ringing,
    Trying,
    event_dict,
)
from voxgate.engine.keepalive import TrunkState
from voxgate.engine.rtp_session import PortRange
from voxgate.engine.uac import OutboundLeg, Trunk
from voxgate.engine.uas import InboundLeg

__all__ = [
    "Answered",
    "AtCapacity",
    "Bridge",
    "Dtmf",
    "EarlyMedia",
    "Engine",
    "EngineConfig",
    "Hangup",
    "InboundLeg",
    "Leg",
    "LegError",
    "LegEvent",
    "NotRegistered",
    "OutboundLeg",
    "PortRange",
    "Ringing",
    "Trunk",
    "TrunkState",
    "Trying",
    "bridge",
    "event_dict",
]
