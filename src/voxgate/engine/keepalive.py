"""OPTIONS keep-alive towards trunks: is the trunk answering?

A trunk with ``keepalive`` set gets an OPTIONS every ``keepalive`` seconds (the first
at once). Any final response, whatever its status, means the trunk is **up**; a
transaction timeout (no answer within Timer F), a transport failure (TCP connection
refused) or an unresolvable host means **down**. A new probe is sent only once the
previous one has finished, so an interval shorter than Timer F does not pile up
transactions. Changes of state are logged (``trunk_up`` / ``trunk_down``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Literal

from voxgate.sip.events import Event, ResponseReceived, TransactionTimeout, TransportFailed
from voxgate.sip.message import generate_call_id, generate_tag, make_request
from voxgate.sip.uri import NameAddr, SipURI

if TYPE_CHECKING:
    from voxgate.engine.engine import Engine
    from voxgate.engine.timers import Deadline
    from voxgate.engine.uac import Trunk

log = logging.getLogger(__name__)

TrunkState = Literal["unknown", "up", "down"]


class TrunkMonitor:
    """Probes one trunk with OPTIONS and keeps its up/down state."""

    def __init__(self, engine: Engine, trunk: Trunk) -> None:
        assert trunk.keepalive, "a trunk without a keep-alive interval is not monitored"
        self.engine = engine
        self.trunk = trunk
        self.interval = trunk.keepalive
        self.state: TrunkState = "unknown"
        self.last_status: int | None = None  # status of the last final response
        self.probes = 0
        self._outstanding = False
        self._deadline: Deadline | None = None
        self._stopped = False

    def __repr__(self) -> str:
        t = self.trunk
        return f"<TrunkMonitor {t.transport}:{t.host}:{t.port} {self.state} probes={self.probes}>"

    def start(self) -> None:
        self._deadline = self.engine.heap.call_later(0.0, self._tick)

    def stop(self) -> None:
        self._stopped = True
        if self._deadline is not None:
            self._deadline.cancel()

    def _tick(self) -> None:
        if self._stopped:
            return
        self._deadline = self.engine.heap.call_later(self.interval, self._tick)
        if not self._outstanding:  # the last probe is still waiting for its answer
            self._outstanding = True
            self.engine._spawn(self._probe())

    async def _probe(self) -> None:
        engine, trunk = self.engine, self.trunk
        transport = engine.transports.get(trunk.transport.upper())
        if transport is None:
            self._finish("down", f"no {trunk.transport} transport")
            return
        try:
            peer = await engine._resolve(trunk.host, trunk.port)
        except OSError as exc:
            self._finish("down", f"cannot resolve {trunk.host}: {exc}")
            return
        if self._stopped:
            self._outstanding = False
            return
        params: dict[str, str | None] = {"transport": "tcp"} if transport.reliable else {}
        here = engine.media_address
        options = make_request(
            "OPTIONS",
            SipURI(trunk.host, None, None, trunk.port, params=params),
            via=engine.via(transport),
            from_=NameAddr(SipURI(here, "voxgate"), params={"tag": generate_tag()}),
            to=NameAddr(SipURI(trunk.host, None, None, trunk.port)),
            call_id=generate_call_id(here),
            cseq=1,
            contact=engine.contact(transport),
            headers=[("Accept", "application/sdp"), ("User-Agent", engine.config.user_agent)],
        )
        self.probes += 1
        engine.endpoint.send_request(
            options, transport=transport, addr=peer, on_event=self._on_event
        )

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ResponseReceived):
            if event.response.status >= 200:
                self.last_status = event.response.status
                self._finish("up", f"{event.response.status} {event.response.reason}")
        elif isinstance(event, TransactionTimeout):
            self._finish("down", "no answer to OPTIONS")
        elif isinstance(event, TransportFailed):
            self._finish("down", "transport failed")

    def _finish(self, state: TrunkState, why: str) -> None:
        self._outstanding = False
        if self._stopped or state == self.state:
            return
        previous, self.state = self.state, state
        t = self.trunk
        extra = {
            "action": f"trunk_{state}",
            "trunk": f"{t.transport}:{t.host}:{t.port}",
            "previous": previous,
            "why": why,
        }
        if state == "down":
            log.warning("trunk %s:%s is down (%s)", t.host, t.port, why, extra=extra)
        else:
            log.info("trunk %s:%s is up (%s)", t.host, t.port, why, extra=extra)


class TrunkMonitors:
    """One monitor per trunk that has a keep-alive interval (``sync`` with the list)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._by_trunk: dict[Trunk, TrunkMonitor] = {}

    def __repr__(self) -> str:
        return f"<TrunkMonitors {list(self._by_trunk.values())!r}>"

    def __iter__(self) -> Iterator[Trunk]:
        return iter(self._by_trunk)

    def get(self, trunk: Trunk) -> TrunkMonitor | None:
        return self._by_trunk.get(trunk)

    def state(self, trunk: Trunk) -> TrunkState:
        monitor = self._by_trunk.get(trunk)
        return monitor.state if monitor is not None else "unknown"

    def sync(self, trunks: Iterable[Trunk]) -> None:
        """Start monitors for new trunks with ``keepalive``; stop those of trunks gone."""
        wanted = {t for t in trunks if t.keepalive}
        for trunk in [t for t in self._by_trunk if t not in wanted]:
            self._by_trunk.pop(trunk).stop()
        for trunk in wanted - self._by_trunk.keys():
            monitor = self._by_trunk[trunk] = TrunkMonitor(self.engine, trunk)
            monitor.start()

    def close(self) -> None:
        for monitor in self._by_trunk.values():
            monitor.stop()
        self._by_trunk.clear()
