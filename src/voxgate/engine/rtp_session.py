"""One leg's RTP socket: send on the media clock's tick, receive keys and audio.

Sending: each tick sends one 20 ms packet -- the next frame of the prompt being played,
queued DTMF events, or silence while idle (so the peer's symmetric RTP latches and its
media timeout stays quiet). Receiving: packets are accepted only with a negotiated
payload type, and only from one source: the first valid packet *latches* the leg to the
address the peer really sends from (symmetric RTP), which may differ from its SDP.
Telephone-events go through ``DtmfReceiver`` (each key once); audio is decoded for the
in-band detector (until the peer shows it sends RFC 4733) and the recorder. A leg that
receives nothing for ``timeout`` seconds while it expects media is reported dead.

Direct media (``set_direct``): the peer was re-INVITEd to exchange media with another
party. The socket stays open, but nothing is sent (neither our stream nor relayed packets)
and silence is not taken for a dead call: nothing is expected here any more.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxgate.engine.events import DtmfSource
from voxgate.engine.mediaclock import MediaClock
from voxgate.media import g711
from voxgate.media.dtmf_detect import DtmfDetector
from voxgate.media.g711 import Codec
from voxgate.media.recorder import LegTrack
from voxgate.media.tones import level_amplitude
from voxgate.rtp.dtmf import DtmfReceiver
from voxgate.rtp.errors import RtpParseError
from voxgate.rtp.packet import RtpPacket
from voxgate.rtp.reporting import DEFAULT_INTERVAL, MediaQuality, RtcpReporter
from voxgate.rtp.session import OutboundStream, RtpRelay
from voxgate.sip.sdp import MediaParams

log = logging.getLogger(__name__)

Addr = tuple[str, int]
_HEADER = struct.Struct("!BBHII")
LATCH_GRACE = 0.5  # seconds to wait for the SDP's host before latching to another
INBAND_BATCH = 4  # frames decoded per detector call (80 ms): numpy overhead is per call
# Mean power under which a batch cannot hold a key: an eighth of one tone at the detector's
# floor (-32 dBm0), so a key filling only a quarter of the batch still passes.
INBAND_GATE = level_amplitude(-32.0) ** 2 / 2 / 8


@dataclass(frozen=True, slots=True)
class PortRange:
    low: int = 16384
    high: int = 32767

    async def bind(
        self,
        host: str,
        factory: Callable[[], RtpSession],
        attempts: int = 64,
        *,
        rtcp: bool = True,
    ) -> RtpSession:
        """Bind an even port from the range for RTP; ports in use are skipped. With
        ``rtcp`` the odd port above it is kept in the range too: the session binds it for
        RTCP when its first report is due (RFC 3550 §11), so a short call costs one socket."""
        loop = asyncio.get_running_loop()
        low = self.low + (self.low & 1)
        top = self.high - 1 if rtcp else self.high
        count = max(1, (top - low) // 2 + 1)
        start = random.randrange(count)
        last: OSError | None = None
        for i in range(min(attempts, count)):
            port = low + 2 * ((start + i) % count)
            try:
                sock = bound_udp(host, port)
            except OSError as exc:
                last = exc
                continue
            session = factory()
            session.attach(RtpSocket(sock, loop, session.datagram_received))
            if rtcp:
                session.enable_rtcp()
            return session
        raise OSError(f"no free RTP port in {self.low}-{self.high}: {last}")


def bound_udp(host: str, port: int) -> socket.socket:
    """A non-blocking UDP socket bound to ``host:port`` (closed again if that fails)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class RtpSocket:
    """A leg's UDP socket, read straight from the event loop's selector (no asyncio
    transport: a call set-up binds one, and every packet of the call goes through it).
    Send errors are dropped: RTP is lossy, and an ICMP error from a peer that is not
    listening yet is reported on the socket's next call."""

    __slots__ = ("_fd", "_loop", "_receiver", "_sock")
    READ_BATCH = 16

    def __init__(
        self,
        sock: socket.socket,
        loop: asyncio.AbstractEventLoop,
        receiver: Callable[[bytes, Any], None],
    ) -> None:
        self._sock = sock
        self._loop = loop
        self._receiver = receiver
        self._fd = sock.fileno()
        loop.add_reader(self._fd, self._read_ready)

    @property
    def local(self) -> Addr:
        name = self._sock.getsockname()
        return (str(name[0]), int(name[1]))

    def _read_ready(self) -> None:
        recvfrom, receiver = self._sock.recvfrom, self._receiver
        for _ in range(self.READ_BATCH):
            try:
                data, addr = recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                if self._sock.fileno() < 0:
                    return
                continue  # an ICMP error reported on the socket
            receiver(data, addr)

    def sendto(self, data: bytes, addr: Addr) -> None:
        try:  # noqa: SIM105 - every packet goes through here; suppress() costs a context
            self._sock.sendto(data, addr)
        except OSError:
            pass

    def close(self) -> None:
        if self._sock.fileno() >= 0:
            self._loop.remove_reader(self._fd)
            self._sock.close()
        self._receiver = _drop  # the session holds this socket: no cycle outlives the call


class _Playback:
    __slots__ = ("done", "frames", "index")

    def __init__(self, frames: list[bytes], done: asyncio.Future[None]) -> None:
        self.frames = frames
        self.index = 0
        self.done = done


class RtpSession:
    def __init__(
        self,
        *,
        clock: MediaClock,
        timeout: float = 30.0,
        silence_fill: bool = True,
        inband_dtmf: bool = True,
        rtcp_interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self._clock = clock
        self._loop = asyncio.get_running_loop()
        self.on_dtmf: Callable[[str, DtmfSource], None] = _ignore_dtmf
        self.on_timeout: Callable[[], None] = _nothing
        self.timeout = timeout
        self._silence_fill = silence_fill
        self._inband = inband_dtmf
        self._transport: RtpSocket | None = None
        self.local: Addr = ("0.0.0.0", 0)
        self.remote: Addr | None = None
        self.latched = False
        self.params: MediaParams | None = None
        self.codec: Codec = "pcmu"
        self._pt = -1
        self._dtmf_pt = -1
        self._send = False
        self._receive = False
        self.out: OutboundStream | None = None
        self._queue: deque[_Playback] = deque()
        self._events: deque[list[bytes]] = deque()  # telephone-event packets, one group per tick
        self._silence = b"\xff" * 160
        self._restamp = True
        self._dtmf_rx = DtmfReceiver()
        self._detector = DtmfDetector()
        self._pending_audio: list[bytes] = []
        self._detector_fed = False
        self._rfc4733_seen = False
        self._last_rx = 0.0
        self._media_start = 0.0
        self._ticks = 0
        self.recv_track: LegTrack | None = None
        self.sent_track: LegTrack | None = None
        self._rec_start = 0.0
        self.received = 0
        self.dropped = 0
        self.closed = False
        self.call_id = ""  # for logs; set by the leg
        self.bridged_to: RtpSession | None = None
        self._relay: RtpRelay | None = None
        self._rtcp_transport: RtpSocket | None = None
        self.rtcp: RtcpReporter | None = None  # with RTCP (its socket comes with a report)
        self.rtcp_remote: Addr | None = None  # RTP port + 1, until the peer's RTCP latches
        self._rtcp_latched = False
        self.rtcp_interval = rtcp_interval
        self.relayed = False  # True while a bridge feeds this leg's stream
        self.direct = False  # the peer's media goes to another party (direct media)

    def __repr__(self) -> str:
        remote = "-" if self.remote is None else f"{self.remote[0]}:{self.remote[1]}"
        return (
            f"<RtpSession {self.local[1]} -> {remote} latched={self.latched} "
            f"sent={0 if self.out is None else self.out.packets_sent} received={self.received}>"
        )

    # -- socket -----------------------------------------------------------------------
    def attach(self, transport: RtpSocket) -> None:
        self._transport = transport
        self.local = transport.local

    def enable_rtcp(self) -> None:
        """Report on this session; its RTCP socket is bound when the first report is due."""
        self.rtcp = RtcpReporter(
            cname=f"voxgate@{self.local[0]}", now=self._loop.time(), interval=self.rtcp_interval
        )

    def _bind_rtcp(self) -> bool:
        """The odd port above ours; False (and no more RTCP) if something else holds it."""
        host, port = self.local
        try:
            sock = bound_udp(host, port + 1)
        except OSError as exc:
            self.rtcp = None
            log.warning(
                "no RTCP: port %d is taken (%s)",
                port + 1,
                exc,
                extra={"action": "rtcp_port_taken", "call_id": self.call_id},
            )
            return False
        self._rtcp_transport = RtpSocket(sock, self._loop, self.rtcp_received)
        return True

    def rtcp_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            self._receive_rtcp(data, (str(addr[0]), int(addr[1])))
        except Exception:
            self.dropped += 1
            log.exception("rtcp receive failed", extra={"action": "rtcp_receive_failed"})

    def _receive_rtcp(self, data: bytes, source: Addr) -> None:
        """The peer's RTCP: from its media host only; its source becomes where ours go."""
        rtcp = self.rtcp
        if rtcp is None or self.closed or self.remote is None or source[0] != self.remote[0]:
            self.dropped += 1
            return
        if rtcp.on_rtcp(data, self.out, self._loop.time(), time.time()):
            self.rtcp_remote, self._rtcp_latched = source, True
        else:
            self.dropped += 1

    def quality(self) -> MediaQuality | None:
        """The call's media both ways (None without RTCP)."""
        return None if self.rtcp is None else self.rtcp.quality(self.out)

    def _send_rtcp(self, data: bytes) -> None:
        if self._rtcp_transport is not None and self.rtcp_remote is not None and not self.direct:
            self._rtcp_transport.sendto(data, self.rtcp_remote)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            self._receive_packet(data, (str(addr[0]), int(addr[1])))
        except Exception:
            self.dropped += 1
            log.exception("rtp receive failed", extra={"action": "rtp_receive_failed"})

    def _receive_packet(self, data: bytes, source: Addr) -> None:
        if not self._receive or len(data) < 12 or data[0] >> 6 != 2:
            self.dropped += 1
            return
        pt = data[1] & 0x7F
        if pt != self._pt and pt != self._dtmf_pt:
            self.dropped += 1  # RTCP, comfort noise, anything not negotiated
            return
        now = self._loop.time()
        if source != self.remote:
            if self.latched or not self._may_latch(source, now):
                self.dropped += 1
                return
            self.remote = source
        self.latched = True
        self._last_rx = now
        self.received += 1
        if data[0] == 0x80:
            _, b1, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
            payload, marker = data[12:], bool(b1 & 0x80)
        else:
            try:
                packet = RtpPacket.parse(data)
            except RtpParseError:
                self.dropped += 1
                return
            timestamp, payload, marker = packet.timestamp, packet.payload, packet.marker
            sequence, ssrc = packet.sequence, packet.ssrc
        if self.rtcp is not None:
            self.rtcp.on_rtp(ssrc, sequence, timestamp, now)
        relay = self._relay
        if relay is not None and self.bridged_to is not None:
            forwarded = relay.forward(data, now)
            if forwarded is not None:
                self.bridged_to.send_relayed(forwarded)
        if pt == self._dtmf_pt:
            self._rfc4733_seen = True
            for digit in self._dtmf_rx.feed(payload, timestamp, marker, now):
                self.on_dtmf(digit.key, "rfc4733")
            return
        if self.recv_track is not None:
            self.recv_track.add(
                timestamp, g711.decode(self.codec, payload), at=now - self._rec_start
            )
        if self._inband and not self._rfc4733_seen:
            pending = self._pending_audio
            pending.append(payload)
            if len(pending) >= INBAND_BATCH:
                self._flush_inband()

    def _may_latch(self, source: Addr, now: float) -> bool:
        """Latch at once to the SDP's host (any port: NAT may change it); to another host only
        when nothing came from the SDP's host for ``LATCH_GRACE`` seconds (a peer behind NAT
        that advertised its private address). A stranger cannot take over a live stream."""
        sdp_host = self.params.remote_address if self.params is not None else None
        return source[0] == sdp_host or now - self._media_start > LATCH_GRACE

    def _flush_inband(self) -> None:
        """Decode and analyse the batched frames in one numpy pass each."""
        audio = b"".join(self._pending_audio)
        self._pending_audio.clear()
        if audio == self._silence * INBAND_BATCH:
            power = 0.0  # digital silence (an idle peer): nothing to decode
        else:
            pcm = g711.decode(self.codec, audio)
            power = float(np.dot(pcm.astype(np.int64), pcm)) / len(pcm)
        if power < INBAND_GATE:
            # too quiet to hold a key (below the weakest accepted tone pair): skip the
            # Goertzel bank, the costly part of the receive path
            if self._detector_fed:
                self._detector.reset()
                self._detector_fed = False
            return
        self._detector_fed = True
        for key in self._detector.feed(pcm):
            self.on_dtmf(key.key, "inband")

    # -- negotiation ------------------------------------------------------------------
    def configure(self, params: MediaParams) -> None:
        """Apply what offer/answer settled (again after a re-INVITE)."""
        remote = (params.remote_address, params.remote_port)
        old = self.params
        changed = old is None or remote != (old.remote_address, old.remote_port)
        if changed and params.remote_address != "0.0.0.0" and params.remote_port:
            self.remote, self.latched = remote, False  # a new address: latch again
            self._media_start = self._loop.time()
            # RTCP goes where the peer's a=rtcp says (RFC 3605), else to the port above
            # its RTP port (RFC 3550 §11), until its own RTCP shows where it comes from
            host, port = params.rtcp or (None, remote[1] + 1)
            self.rtcp_remote, self._rtcp_latched = (host or remote[0], port), False
        self.params = params
        self.codec = "pcma" if params.codec.name == "PCMA" else "pcmu"
        self._silence = bytes([g711.silence_byte(self.codec)]) * 160
        self._pt = params.codec.payload_type
        self._dtmf_pt = params.dtmf_pt if params.dtmf_pt is not None else -1
        if self.out is None or self.out.payload_type != self._pt:
            self.out = OutboundStream(payload_type=self._pt, event_payload_type=params.dtmf_pt)
            self._restamp = True
        else:
            self.out.event_payload_type = params.dtmf_pt
        was_receiving = self._receive
        self._receive = params.can_receive
        self._send = params.can_send
        if self._receive and not was_receiving:
            self._last_rx = self._loop.time()
        if not self._send:
            self.out.pause()
            self._restamp = True
        self._clock.add(self)

    def set_sending(self, send: bool) -> None:
        self._send = send and self.params is not None and self.params.can_send

    # -- playing ----------------------------------------------------------------------
    def play(self, frames: list[bytes]) -> asyncio.Future[None]:
        done: asyncio.Future[None] = self._loop.create_future()
        if not frames or self.closed:
            done.set_result(None)
        else:
            self._queue.append(_Playback(frames, done))
        return done

    def stop_playback(self) -> None:
        while self._queue:
            item = self._queue.popleft()
            if not item.done.done():
                item.done.set_result(None)

    def send_dtmf(self, key: str, duration_ms: int = 100) -> bool:
        """Queue one RFC 4733 key; False when the peer did not negotiate telephone-event."""
        out = self.out
        if out is None or out.event_payload_type is None:
            return False
        packets = out.dtmf(key, duration_ms=duration_ms)
        groups: dict[float, list[bytes]] = {}
        for offset, packet in packets:
            groups.setdefault(offset, []).append(packet)
        self._events.extend(groups[k] for k in sorted(groups))
        return True

    # -- bridging ---------------------------------------------------------------------
    def bridge_to(self, other: RtpSession | None) -> None:
        """Relay what arrives here onto ``other``'s stream (SSRC, sequence and timestamp
        rewritten by ``rtp.RtpRelay``; telephone-events pass through). None: stop."""
        self.bridged_to = other
        if other is None or other.out is None:
            self._relay = None
            return
        types = {self._pt: other._pt}
        if self._dtmf_pt >= 0 and other._dtmf_pt >= 0:
            types[self._dtmf_pt] = other._dtmf_pt
        self._relay = RtpRelay(other.out, payload_types=types)

    def send_relayed(self, data: bytes) -> None:
        """A packet relayed from the bridged leg; our own sending pauses meanwhile."""
        self.relayed = True
        if self._transport is not None and self.remote is not None and self._send:
            if self.direct:
                return  # the peer listens to another party now
            self._transport.sendto(data, self.remote)

    def unbridged(self) -> None:
        """The bridge is gone: resume our own stream, re-stamped from real time."""
        self.relayed = False
        self._restamp = True

    def set_direct(self, direct: bool) -> None:
        """Direct media on: send nothing and expect nothing (no inactivity timeout). Off: the
        peer sends to us again; sending resumes re-stamped, the timeout counts from now."""
        if direct == self.direct:
            return
        self.direct = direct
        if not direct:
            self._restamp = True
            self._last_rx = self._loop.time()
        log.info(
            "direct media %s",
            "on" if direct else "off",
            extra={"action": "rtp_direct", "call_id": self.call_id, "direct": direct},
        )

    # -- the clock's callbacks ---------------------------------------------------------
    def skipped(self) -> None:
        self._restamp = True

    def tick(self, now: float) -> None:
        self._ticks += 1
        if self._ticks % 5 == 0:
            self._housekeeping(now)
        out, transport, remote = self.out, self._transport, self.remote
        if (
            not self._send
            or out is None
            or transport is None
            or remote is None
            or self.relayed
            or self.direct
        ):
            return
        if self._events:
            for packet in self._events.popleft():
                transport.sendto(packet, remote)
            return
        queue = self._queue
        if queue:
            item = queue[0]
            frame = item.frames[item.index]
            item.index += 1
            if item.index >= len(item.frames):
                queue.popleft()
                if not item.done.done():
                    item.done.set_result(None)
        elif self._silence_fill:
            frame = self._silence
        else:
            out.pause()
            self._restamp = True
            return
        if self._restamp:
            self._restamp = False
            stamp = out.timestamp_at(now)
            data = out.audio(frame, 160, now)
        else:
            stamp = out.timestamp
            data = out.audio(frame)
        transport.sendto(data, remote)
        if self.sent_track is not None:
            self.sent_track.add(stamp, g711.decode(self.codec, frame), at=now - self._rec_start)

    def _housekeeping(self, now: float) -> None:
        for digit in self._dtmf_rx.handle_timer(now):
            self.on_dtmf(digit.key, "rfc4733")
        rtcp = self.rtcp
        if (
            rtcp is not None
            and rtcp.due(now)
            and self.params is not None
            and (self._rtcp_transport is not None or self._bind_rtcp())
        ):
            self._send_rtcp(rtcp.report(self.out, now, time.time()))
        if (
            self._receive
            and not self.direct
            and self.timeout > 0
            and now - self._last_rx > self.timeout
            and not (self.params is not None and self.params.remote_hold)
        ):
            self._receive = False
            log.info(
                "no RTP for %.1f s",
                self.timeout,
                extra={"action": "rtp_timeout", "call_id": self.call_id},
            )
            self.on_timeout()

    # -- recording and teardown ---------------------------------------------------------
    def start_recording(self, *, sent: bool = False) -> None:
        self._rec_start = self._loop.time()
        self.recv_track = LegTrack()
        self.sent_track = LegTrack() if sent else None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._receive = self._send = False
        self._clock.remove(self)
        self.stop_playback()
        if self._pending_audio:
            self._flush_inband()
        if self._transport is not None:
            self._transport.close()
        if self._rtcp_transport is not None:
            if self.rtcp is not None and self.rtcp.reports_sent:
                self._send_rtcp(self.rtcp.bye(self.out, self._loop.time(), time.time()))
            self._rtcp_transport.close()
        # the leg's callbacks hold the leg, which holds this session: once closed, a call
        # is freed by reference counting alone, not left for a full collection
        self.on_dtmf = _ignore_dtmf
        self.on_timeout = _nothing


def _drop(data: bytes, addr: Any) -> None:
    pass


def _ignore_dtmf(key: str, source: DtmfSource) -> None:
    pass


def _nothing() -> None:
    pass
