"""The engine: composition root of transports, endpoint, timer heap and media clock,
and the user agent that places (``dial``) and answers (``incoming``) calls.

Everything here runs on one asyncio loop. ``Engine`` objects share nothing, so two of
them on 127.0.0.1 can call each other in a test (see :mod:`voxgate.engine.testing`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from voxgate.engine.call import SDP, Leg
from voxgate.engine.endpoint import ServerTxn, SipEndpoint
from voxgate.engine.keepalive import TrunkMonitors, TrunkState
from voxgate.engine.mediaclock import MediaClock
from voxgate.engine.overload import Admission
from voxgate.engine.registrar import PasswordLookup, Registrar
from voxgate.engine.rtp_session import PortRange, RtpSession
from voxgate.engine.timers import Deadline, TimerHeap
from voxgate.engine.transport import Addr, SipTransport, TcpTransport, UdpTransport
from voxgate.engine.uac import OutboundLeg, Trunk
from voxgate.engine.uas import InboundLeg
from voxgate.engine.workers import WorkerRouter, WorkerSlot
from voxgate.media.g711 import Codec
from voxgate.observability.logging import bind_call
from voxgate.sip.dialog import Dialog, DialogId
from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.events import Event
from voxgate.sip.headers import Via
from voxgate.sip.message import (
    SipRequest,
    check_request,
    generate_branch,
    generate_call_id,
    generate_tag,
    make_request,
    make_response,
)
from voxgate.sip.quick import is_ack_with_tag, new_invite
from voxgate.sip.registrar import ExpiryPolicy, LocationTable
from voxgate.sip.sdp import PCMA, PCMU, make_offer, parse_sdp
from voxgate.sip.sdp import Codec as SdpCodec
from voxgate.sip.transaction import DEFAULT_TIMERS, Timers
from voxgate.sip.uri import NameAddr, SipURI

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    host: str = "127.0.0.1"  # where SIP and RTP sockets bind
    sip_port: int = 0  # 0: an ephemeral port (UDP and TCP share the number)
    transports: tuple[str, ...] = ("udp", "tcp")
    # bytes of receive queue asked for on the SIP UDP socket (the kernel caps it at
    # net.core.rmem_max): a burst or a pause then waits, and is measured as delay, instead
    # of being dropped and retransmitted. 0: the kernel's default
    sip_receive_buffer: int = 4 << 20
    advertise: str | None = None  # address written in Via, Contact and SDP (default: host)
    rtp_ports: PortRange = field(default_factory=PortRange)
    rtp_timeout: float = 30.0  # seconds without RTP before a call is ended; 0 disables
    silence_fill: bool = True
    inband_dtmf: bool = True
    # seconds between RTCP reports (randomised around it, RFC 3550 §6.2); each call then
    # binds the odd port above its RTP port. 0: no RTCP
    rtcp_interval: float = 5.0
    media_slots: int = 20
    accept_any_source: bool = False  # answer INVITEs from hosts that are not trunks
    max_pending_incoming: int = 256
    # calls this engine carries at once (both directions); past it new INVITEs get
    # 503 + Retry-After and dial() raises AtCapacity, so overload is shed, not queued
    max_calls: int = 1000
    retry_after: int = 5  # seconds, in the Retry-After of a 503
    # overload by load (see engine.overload): the seconds a new UDP INVITE may have waited
    # in the socket's queue, and the engine may run late, before new calls are refused (a
    # stateless 503 + Retry-After; dial() raises AtCapacity). 0 disables.
    shed_delay: float = 0.1
    # the same while the CPU is saturated (90 % of the last 100 ms used), when a shorter
    # queue lets the engine complete more calls (calls last less long)
    shed_delay_saturated: float = 0.003
    timers: Timers = DEFAULT_TIMERS
    user_agent: str = "voxgate"
    # registrar (used once Engine.extension_password is set)
    realm: str = "voxgate"
    # challenges offered to REGISTER, in this order. MD5 alone by default: some clients
    # (baresip 1.0 / libre) give up on a challenge list holding any algorithm they lack
    digest_algorithms: tuple[str, ...] = ("MD5",)
    registration_expiry: ExpiryPolicy = field(default_factory=ExpiryPolicy)
    # one of several engine processes sharing the SIP port (see engine.workers)
    worker: WorkerSlot | None = None


class AtCapacity(Exception):
    """The engine takes no new call now (full, or running behind); try again later."""

    def __init__(self, max_calls: int, *, behind: bool = False) -> None:
        if behind:
            message = "the engine is running behind: new calls are limited for now"
        else:
            message = f"the engine already carries its maximum of {max_calls} calls"
        super().__init__(message)
        self.max_calls = max_calls
        self.behind = behind


class NotRegistered(Exception):
    """The extension has no live registration: there is nowhere to send the call."""

    def __init__(self, extension: str) -> None:
        super().__init__(f"extension {extension} is not registered")
        self.extension = extension


HOUSEKEEPING = 1.0  # seconds between trunk-monitor syncs (and registration purges)
TRACE_TAIL = 32.0  # seconds a call's SIP trace is kept after it ended (retransmissions)
PURGE_EVERY = 60.0
LAG_PROBE = 0.05  # seconds between two measurements of timer lateness
SHED_TAG = b"vxshed"  # To-tag prefix of stateless refusals (their ACKs are dropped unread)


class Engine:
    ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.trunks: list[Trunk] = []
        # extension number -> its plain password, or None if unknown; None: no registrar
        self.extension_password: PasswordLookup | None = None
        self.registrar = Registrar(
            realm=self.config.realm,
            algorithms=self.config.digest_algorithms,
            policy=self.config.registration_expiry,
        )
        self.trunk_monitors = TrunkMonitors(self)
        self._housekeeping: Deadline | None = None
        self._trace_tails: deque[tuple[float, str]] = deque()  # (when to drop, call id)
        self._next_purge = 0.0
        self.transports: dict[str, SipTransport] = {}
        self._legs: dict[str, Leg] = {}
        self._dialogs: dict[DialogId, Leg] = {}
        self._by_invite: dict[ServerTxn, InboundLeg] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._incoming: asyncio.Queue[InboundLeg] | None = None
        self.rejected_sources = 0
        self.shed_invites = 0  # INVITEs refused with 503 because the engine was full
        self.shed_filter_window = 0  # bytes of an ACK the kernel searches for SHED_TAG
        self.admission = Admission(self.config.shed_delay, self.config.shed_delay_saturated)
        self._retry_after = ((b"Retry-After", str(self.config.retry_after).encode()),)
        self._lag_probe: Deadline | None = None
        self.router: WorkerRouter | None = None
        self._admitting: set[str] = set()  # Call-IDs of INVITEs admitted, legs not yet made
        self._started = False

    def __repr__(self) -> str:
        ports = ",".join(f"{t.name}:{t.local[1]}" for t in self.transports.values())
        return f"<Engine {ports} legs={len(self._legs)}>"

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        cfg = self.config
        self.heap = TimerHeap(self.loop)
        self.endpoint = SipEndpoint(self.loop, timers=cfg.timers, heap=self.heap)
        self.endpoint.user_agent = self
        self.clock = MediaClock(self.loop, slots=cfg.media_slots)
        self._incoming = asyncio.Queue(cfg.max_pending_incoming)
        on_message = self.endpoint.on_message
        on_datagram = self.on_datagram
        if cfg.worker is not None:
            self.router = WorkerRouter(cfg.worker, self.on_datagram)
            on_datagram = self.router.on_datagram
        for attempt in range(20):
            port = cfg.sip_port
            try:
                if "udp" in cfg.transports:
                    udp = await UdpTransport.bind(
                        cfg.host,
                        port,
                        on_datagram,
                        reuse_port=cfg.worker is not None,
                        receive_buffer=cfg.sip_receive_buffer,
                    )
                    self.transports["UDP"] = udp
                    if self.admission.enabled:  # their ACKs never reach us
                        self.shed_filter_window = udp.drop_acks_tagged(SHED_TAG)
                    if self.router is not None:
                        self.router.udp = udp
                    port = port or udp.local[1]
                if "tcp" in cfg.transports:
                    tcp = await TcpTransport.bind(
                        cfg.host, port, on_message, self.endpoint.transport_failed
                    )
                    self.transports["TCP"] = tcp
                break
            except OSError:
                for t in self.transports.values():
                    t.close()
                self.transports.clear()
                if cfg.sip_port or attempt == 19:
                    raise
        self._started = True
        self._housekeep()
        self._probe_lag(self.loop.time())
        log.info("engine listening", extra={"action": "engine_started", "engine": repr(self)})

    async def close(self) -> None:
        if not self._started:
            return
        for leg in list(self._legs.values()):
            if not leg.ended:
                leg._local_hangup(16, "shutdown")
        self.trunk_monitors.close()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        if self._lag_probe is not None:
            self._lag_probe.cancel()
        for _ in range(50):  # let BYE/CANCEL get their answers (bounded: 1 s)
            if not self.endpoint.pending_clients(ignore=frozenset({"OPTIONS"})):
                break
            await asyncio.sleep(0.02)
        for task in self._tasks:
            task.cancel()
        for t in self.transports.values():
            t.close()
        if self.router is not None:
            self.router.close()
        self.clock.close()
        self.heap.close()
        self._started = False

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- addresses ---------------------------------------------------------------------------
    @property
    def media_address(self) -> str:
        return self.config.advertise or self.config.host

    def port(self, transport: str = "udp") -> int:
        return self.transports[transport.upper()].local[1]

    def trunk_to_me(self, transport: str = "udp", **kwargs: object) -> Trunk:
        """A Trunk pointing at this engine (for another engine to dial)."""
        return Trunk(self.media_address, self.port(transport), transport, **kwargs)  # type: ignore[arg-type]

    def via(self, transport: SipTransport) -> Via:
        return Via(
            transport.name,
            self.media_address,
            transport.local[1],
            {"branch": generate_branch(), "rport": None},
        )

    def contact(self, transport: SipTransport) -> NameAddr:
        params: dict[str, str | None] = {"transport": "tcp"} if transport.reliable else {}
        uri = SipURI(self.media_address, "voxgate", None, transport.local[1], params=params)
        return NameAddr(uri)

    def codec_list(self, first: Codec | None) -> list[SdpCodec]:
        return [PCMA, PCMU] if first == "pcma" else [PCMU, PCMA]

    async def _new_rtp(self) -> RtpSession:
        cfg = self.config
        return await cfg.rtp_ports.bind(
            cfg.host,
            lambda: RtpSession(
                clock=self.clock,
                timeout=cfg.rtp_timeout,
                silence_fill=cfg.silence_fill,
                inband_dtmf=cfg.inband_dtmf,
                rtcp_interval=cfg.rtcp_interval,
            ),
            rtcp=cfg.rtcp_interval > 0,
        )

    # -- placing calls --------------------------------------------------------------------------
    async def dial(
        self,
        dest: str,
        *,
        trunk: Trunk,
        from_number: str = "voxgate",
        codec: Codec = "pcmu",
        ring_timeout: float | None = 60.0,
    ) -> OutboundLeg:
        """Send an INVITE for ``dest`` through ``trunk``; the leg reports what follows.

        Raises :class:`AtCapacity` when the engine already carries ``max_calls`` calls
        or is running behind (see ``shed_delay``).
        """
        self._admit_dial()
        transport = self.transports[trunk.transport.upper()]
        peer = await self._resolve(trunk.host, trunk.port)
        params: dict[str, str | None] = {"transport": "tcp"} if transport.reliable else {}
        return await self._invite(
            uri=SipURI(trunk.host, dest, None, trunk.port, params=params),
            to=NameAddr(SipURI(trunk.host, dest, None, trunk.port)),
            from_=NameAddr(SipURI(trunk.host, from_number), params={"tag": generate_tag()}),
            peer=peer,
            trunk=trunk,
            codec=codec,
            ring_timeout=ring_timeout,
            label=dest,
        )

    async def dial_extension(
        self,
        number: str,
        *,
        from_number: str = "voxgate",
        codec: Codec = "pcmu",
        ring_timeout: float | None = 60.0,
    ) -> OutboundLeg:
        """Call a registered extension: the INVITE goes to the address its REGISTER came
        from (what a NAT keeps open), with its Contact as the Request-URI; so do the ACK,
        BYE and every other request of the call, whatever Contact the phone answers
        with. With several live bindings the most recently refreshed one is called.

        Raises :class:`NotRegistered` when the extension has no live binding, and
        :class:`AtCapacity` when the engine is full or running behind.
        """
        self._admit_dial()
        bindings = self.registrations.lookup(number, self.loop.time())
        if not bindings:
            raise NotRegistered(number)
        binding = bindings[0]
        host, port = binding.source
        uri = binding.contact.copy()
        uri.headers = []
        here = self.media_address
        return await self._invite(
            uri=uri,
            to=NameAddr(SipURI(here, number)),
            from_=NameAddr(SipURI(here, from_number), params={"tag": generate_tag()}),
            peer=binding.source,
            # answers its challenges with nothing; follows redirects only to itself
            trunk=Trunk(host, port, binding.transport.lower()),
            codec=codec,
            ring_timeout=ring_timeout,
            label=f"extension {number}",
            flow=binding.source,
        )

    async def _invite(
        self,
        *,
        uri: SipURI,
        to: NameAddr,
        from_: NameAddr,
        peer: Addr,
        trunk: Trunk,
        codec: Codec,
        ring_timeout: float | None,
        label: str,
        flow: Addr | None = None,
    ) -> OutboundLeg:
        transport = self.transports[trunk.transport.upper()]
        rtp = await self._new_rtp()
        call_id = generate_call_id(self.media_address)
        if self.config.worker is not None:
            call_id = self.config.worker.call_id_prefix + call_id  # routes its answers to us
        leg = OutboundLeg(
            self, call_id=call_id, direction="outbound", transport=transport, peer=peer, rtp=rtp
        )
        leg.flow = flow
        offer = make_offer(
            address=self.media_address,
            port=rtp.local[1],
            session_id=random.randrange(10**9),
            codecs=self.codec_list(codec),
        )
        leg.local_sdp = offer
        invite = make_request(
            "INVITE",
            uri,
            via=self.via(transport),
            from_=from_,
            to=to,
            call_id=call_id,
            cseq=1,
            contact=self.contact(transport),
            headers=[("Allow", self.ALLOW), ("User-Agent", self.config.user_agent)],
            body=offer.to_bytes(),
            content_type=SDP,
        )
        self._track(leg)
        with bind_call(call_id):
            log.info("dialing %s", label, extra={"action": "call_dialing", "trunk": trunk.host})
            leg.start(invite, trunk, ring_timeout)
        return leg

    async def _resolve(self, host: str, port: int) -> Addr:
        try:
            ipaddress.ip_address(host)
            return host, port
        except ValueError:
            infos = await self.loop.getaddrinfo(host, port, type=2)  # SOCK_DGRAM
            return str(infos[0][4][0]), port

    @property
    def active_calls(self) -> int:
        return len(self._legs) + len(self._admitting)

    @property
    def at_capacity(self) -> bool:
        return self.active_calls >= self.config.max_calls

    def _track(self, leg: Leg) -> None:
        self._legs[leg.call_id] = leg
        self.endpoint.traces[leg.call_id] = leg.trace

    # -- overload ---------------------------------------------------------------------------
    def on_datagram(
        self, data: bytes, source: Addr, transport: UdpTransport, waited: float
    ) -> None:
        """A UDP datagram, before any parsing: new INVITEs are refused here, statelessly,
        while the engine runs behind; everything else goes to the endpoint."""
        admission = self.admission
        if admission.enabled:
            now = self.loop.time()
            admission.observe(now, waited)
            if data.startswith(b"INVITE "):
                # read quickly only when it waited too long; a retransmission of an
                # INVITE already let through belongs to its call and is never refused
                late = admission.full(now, waited, self.active_calls)
                invite = new_invite(data) if late else None
                if invite is not None and not self._knows(invite.call_id):
                    refusal = invite.refusal(
                        source,
                        tag=SHED_TAG + invite.stateless_tag(),
                        headers=self._retry_after,
                    )
                    if refusal is not None:
                        self.shed_invites += 1
                        admission.shed += 1
                        transport.send(*refusal)
                        return
            elif (
                admission.shed
                and data.startswith(b"ACK ")
                and SHED_TAG in data  # most ACKs are not: no need to read their To
                and is_ack_with_tag(data, SHED_TAG)
            ):
                return  # the ACK of a stateless refusal: nothing to do
        self.endpoint.on_message(data, source, transport)

    def _admit_dial(self) -> None:
        if self.at_capacity:
            raise AtCapacity(self.config.max_calls)
        if not self.admission.admit(self.loop.time(), self.active_calls):
            raise AtCapacity(self.config.max_calls, behind=True)

    def _knows(self, call_id: str) -> bool:
        return call_id in self._legs or call_id in self._admitting

    def _probe_lag(self, due: float) -> None:
        now = self.loop.time()
        self.admission.observe(now, now - due)
        due = now + LAG_PROBE
        self._lag_probe = self.heap.call_at(due, lambda: self._probe_lag(due))

    # -- answering calls --------------------------------------------------------------------
    async def incoming(self, timeout: float | None = None) -> InboundLeg:  # noqa: ASYNC109
        """The next call placed to us (100 Trying already sent)."""
        assert self._incoming is not None, "engine not started"
        return await asyncio.wait_for(self._incoming.get(), timeout)

    async def serve_incoming(self, handle: Callable[[InboundLeg], Awaitable[None]]) -> None:
        """Run ``handle(leg)``, each in a task of its own, for every call placed to us, until
        cancelled. A handler's exception is logged with its call id."""
        while True:
            leg = await self.incoming()
            self._spawn(self._handle_incoming(handle, leg))

    @staticmethod
    async def _handle_incoming(
        handle: Callable[[InboundLeg], Awaitable[None]], leg: InboundLeg
    ) -> None:
        try:
            await handle(leg)
        except Exception:
            with bind_call(leg.call_id):
                log.exception(
                    "incoming call handler failed", extra={"action": "call_handler_failed"}
                )

    def _source_allowed(self, source: Addr) -> bool:
        return (
            self.config.accept_any_source
            or any(t.host == source[0] for t in self.trunks)
            or self.registrations.is_source(source, self.loop.time())
        )

    # -- registrar ------------------------------------------------------------------------
    @property
    def registrations(self) -> LocationTable:
        """The location table: extensions registered with this engine."""
        return self.registrar.table

    # -- trunk keep-alive -------------------------------------------------------------------
    def trunk_state(self, trunk: Trunk) -> TrunkState:
        """``up``/``down`` from the OPTIONS keep-alive; ``unknown`` before the first
        answer or for a trunk without ``keepalive``."""
        if self._started:
            self.trunk_monitors.sync(self.trunks)
        return self.trunk_monitors.state(trunk)

    def _housekeep(self) -> None:
        """Every second: follow changes of ``self.trunks``; drop the traces of calls over
        for ``TRACE_TAIL``; now and then drop expired registrations of extensions nobody
        looked up."""
        self.trunk_monitors.sync(self.trunks)
        now = self.loop.time()
        self._drop_traces(now)
        if now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY
            self.registrations.purge(now)
        self._housekeeping = self.heap.call_later(HOUSEKEEPING, self._housekeep)

    def on_request(self, request: SipRequest, txn: ServerTxn) -> None:
        if request.method == "REGISTER":
            self.registrar.on_register(
                request, txn, self.extension_password, self.loop.time(), allow=self.ALLOW
            )
        elif request.to.tag:
            leg = self._dialogs.get(Dialog.id_of_incoming(request))
            if leg is None or leg.ended:
                txn.respond(make_response(request, 481))
            else:
                leg.on_request(request, txn)
        elif request.method == "INVITE":
            self._new_invite(request, txn)
        elif request.method == "OPTIONS":
            allow = self.ALLOW + (", REGISTER" if self.extension_password else "")
            txn.respond(make_response(request, 200, headers=[("Allow", allow)]))
        elif request.method in ("BYE", "INFO", "UPDATE"):
            txn.respond(make_response(request, 481))
        else:
            txn.respond(make_response(request, 405, headers=[("Allow", self.ALLOW)]))

    def _new_invite(self, request: SipRequest, txn: ServerTxn) -> None:
        if not self._source_allowed(txn.source):
            self.rejected_sources += 1
            txn.respond(make_response(request, 403, to_tag=generate_tag()))
            return
        try:
            check_request(request)
            if not request.body:
                raise RemoteProtocolError("INVITE without an SDP offer", 488)
            offer = parse_sdp(request.body)
        except RemoteProtocolError as exc:
            txn.respond(
                make_response(request, exc.status, to_tag=generate_tag(), headers=exc.headers)
            )
            return
        assert self._incoming is not None
        if self._incoming.full() or self.at_capacity:
            self.shed_invites += 1
            retry = [("Retry-After", str(self.config.retry_after))]
            txn.respond(make_response(request, 503, to_tag=generate_tag(), headers=retry))
            return
        self._admitting.add(request.call_id)
        self._spawn(self._accept(request, txn, offer))

    async def _accept(self, request: SipRequest, txn: ServerTxn, offer: object) -> None:
        try:
            rtp = await self._new_rtp()
        except OSError:
            txn.respond(make_response(request, 503, to_tag=generate_tag()))
            return
        finally:
            self._admitting.discard(request.call_id)
        if txn.txn.last_response is not None and txn.txn.last_response.status >= 200:
            rtp.close()  # cancelled while we were binding
            return
        leg = InboundLeg(
            self,
            call_id=request.call_id,
            direction="inbound",
            transport=txn.transport,
            peer=txn.source,
            rtp=rtp,
        )
        leg.offer = offer  # type: ignore[assignment]
        if self.registrations.is_source(txn.source, self.loop.time()):
            leg.flow = txn.source  # a registered extension: requests go where it sends from
        leg.local_tag = generate_tag()
        leg.invite_txn = txn
        txn.on_event = leg.on_invite_server_event
        leg.trace.add("in", txn.transport.name, txn.source, request.to_bytes())
        self._track(leg)
        self._by_invite[txn] = leg
        with bind_call(leg.call_id):
            log.info("incoming call", extra={"action": "call_incoming", "source": txn.source})
        assert self._incoming is not None
        self._incoming.put_nowait(leg)

    def on_ack(self, ack: SipRequest, source: Addr) -> None:
        leg = self._dialogs.get(Dialog.id_of_incoming(ack))
        if leg is not None:
            leg.on_ack(ack)

    def on_cancel(self, invite_txn: ServerTxn) -> None:
        leg = self._by_invite.get(invite_txn)
        if leg is not None:
            leg.on_cancel()
        else:
            invite_txn.respond(make_response(invite_txn.request, 487, to_tag=generate_tag()))

    # -- used by legs -------------------------------------------------------------------------
    def register_dialog(self, leg: Leg) -> None:
        assert leg.dialog is not None
        self._dialogs[leg.dialog.id] = leg

    def forget(self, leg: Leg) -> None:
        if leg.dialog is not None:
            self._dialogs.pop(leg.dialog.id, None)
        self._legs.pop(leg.call_id, None)
        if leg.invite_txn is not None:
            self._by_invite.pop(leg.invite_txn, None)
        leg.detach()
        # keep tracing the tail (BYE answer, retransmissions) for a while; the queue holds
        # the call id only, in a plain tuple (the collector does not walk it)
        self._trace_tails.append((self.loop.time() + TRACE_TAIL, leg.call_id))

    def _drop_traces(self, now: float) -> None:
        tails, traces = self._trace_tails, self.endpoint.traces
        while tails and tails[0][0] <= now:
            traces.pop(tails.popleft()[1], None)

    @staticmethod
    def _dialog_addr(dialog: Dialog, fallback: Addr) -> Addr:
        """Where in-dialog requests go: the first route or the remote target (IP hosts;
        a name falls back to the address the call was placed to or came from)."""
        target = dialog.next_hop()
        if isinstance(target, SipURI):
            host = (target.maddr or target.host).strip("[]")
            try:
                ipaddress.ip_address(host)
                return host, target.port or 5060
            except ValueError:
                pass
        return fallback

    def send_in_dialog(
        self, leg: Leg, request: SipRequest, on_event: Callable[[Event], None]
    ) -> None:
        assert leg.dialog is not None
        addr = leg.flow or self._dialog_addr(leg.dialog, leg.peer)
        self.endpoint.send_request(request, transport=leg.transport, addr=addr, on_event=on_event)

    def send_ack(self, leg: Leg, ack: SipRequest) -> None:
        self.endpoint.send_stateless(ack, leg.transport, self.ack_addr(leg))

    def ack_addr(self, leg: Leg) -> Addr:
        """Where the ACK of a 2xx to the leg's INVITE goes."""
        assert leg.dialog is not None
        return leg.flow or self._dialog_addr(leg.dialog, leg.peer)

    def send_in(
        self, dialog: Dialog, transport: SipTransport, request: SipRequest, fallback: Addr
    ) -> None:
        """A request in a dialog no leg owns (a fork we end at once)."""
        addr = self._dialog_addr(dialog, fallback)
        self.endpoint.send_request(request, transport=transport, addr=addr, on_event=_ignore)

    def send_ack_in(
        self, dialog: Dialog, transport: SipTransport, ack: SipRequest, fallback: Addr
    ) -> None:
        self.endpoint.send_stateless(ack, transport, self._dialog_addr(dialog, fallback))

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = self.loop.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _ignore(event: Event) -> None:
    pass
