"""The engine processes ``voxgate serve`` runs: the node's SIP address, shared by workers.

Each worker answers OPTIONS (trunks and load balancers probe it), sheds overload and
refuses calls placed to the node with 480 Temporarily Unavailable: routing inbound calls
to flows is not built yet (docs/engine.md, "Media workers").
"""

from __future__ import annotations

import logging

from voxgate.engine.engine import Engine, EngineConfig
from voxgate.engine.rtp_session import PortRange
from voxgate.engine.uas import InboundLeg
from voxgate.engine.workers import WorkerGroup
from voxgate.observability.logging import bind_call

log = logging.getLogger(__name__)


async def refuse_inbound(engine: Engine, arg: object = None) -> None:
    async def refuse(leg: InboundLeg) -> None:
        with bind_call(leg.call_id):
            log.info("no inbound route for %s", leg.request, extra={"action": "call_refused"})
        await leg.reject(480)

    await engine.serve_incoming(refuse)


def node_engines(
    host: str, port: int, rtp_ports: PortRange, count: int, log_level: str
) -> WorkerGroup:
    """The node's engine processes (not started yet)."""
    config = EngineConfig(host=host, sip_port=port, rtp_ports=rtp_ports, accept_any_source=True)
    return WorkerGroup(config, count, refuse_inbound, log_level=log_level)
