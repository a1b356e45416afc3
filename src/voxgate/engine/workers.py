"""Several engine processes on one node, sharing its SIP address: one per core.

Every worker binds the node's SIP address and port with ``SO_REUSEPORT``; the kernel
spreads peers over the workers by their address. Each call belongs to one worker, its
owner, named by the Call-ID: a call a worker places carries the worker's number in its
Call-ID (``vw3-…``); a call placed to the node belongs to a hash of its Call-ID. A
worker that receives a datagram of a call it does not own passes it, with the peer's
address and the kernel's receive time, to the owner over a local datagram socket (Unix,
abstract namespace, named after the node's group); the owner handles it as if it had
read it itself and answers from its own socket, bound to the same address, so peers see
one SIP address. Each worker has its own slice of the RTP ports: media goes straight
between a peer and the worker that owns the call. TCP is carried by the first worker.

:func:`run_workers` starts the processes and stops them; each runs ``main(engine, arg)``
with its started engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import socket
import struct
import time
import zlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from voxgate.engine.rtp_session import PortRange
from voxgate.sip.quick import call_id as quick_call_id

if TYPE_CHECKING:
    from voxgate.engine.engine import Engine, EngineConfig
    from voxgate.engine.transport import Addr, DatagramHandler, UdpTransport

log = logging.getLogger(__name__)

_HEAD = struct.Struct("!dHB")  # kernel receive time, peer port, length of the peer host
READ_BATCH = 64


@dataclass(frozen=True, slots=True)
class WorkerSlot:
    index: int
    count: int
    group: str  # names the node's local sockets: unique per node and SIP address

    @property
    def call_id_prefix(self) -> str:
        return f"vw{self.index}-"

    def address(self, index: int) -> bytes:
        return f"\0voxgate-{self.group}-{index}".encode()


def owner_of(call_id: bytes | None, count: int) -> int | None:
    """The worker that owns a call, from its Call-ID; None: no Call-ID (handle locally)."""
    if call_id is None:
        return None
    if call_id.startswith(b"vw"):
        number, dash, _ = call_id[2:].partition(b"-")
        if dash and number.isdigit() and int(number) < count:
            return int(number)
    return zlib.crc32(call_id) % count


class WorkerRouter:
    """Delivers each SIP datagram to the worker that owns its call."""

    def __init__(self, slot: WorkerSlot, deliver: DatagramHandler) -> None:
        self.slot = slot
        self._deliver = deliver
        self.udp: UdpTransport | None = None
        self.forwarded = 0
        self.lost = 0  # datagrams the owner could not be handed (it is not running)
        self._loop = asyncio.get_running_loop()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._peers = [slot.address(i) for i in range(slot.count)]
        self._sock.bind(self._peers[slot.index])
        self._loop.add_reader(self._sock.fileno(), self._read_forwarded)

    def on_datagram(
        self, data: bytes, source: Addr, transport: UdpTransport, waited: float
    ) -> None:
        owner = owner_of(quick_call_id(data), self.slot.count)
        if owner is None or owner == self.slot.index:
            self._deliver(data, source, transport, waited)
            return
        host = source[0].encode()
        head = _HEAD.pack(time.time() - waited, source[1], len(host)) + host
        try:
            self._sock.sendto(head + data, self._peers[owner])
            self.forwarded += 1
        except OSError:
            self.lost += 1

    def _read_forwarded(self) -> None:
        for _ in range(READ_BATCH):
            try:
                packet = self._sock.recv(65535 + 300)
            except (BlockingIOError, InterruptedError):
                return
            if len(packet) < _HEAD.size or self.udp is None:
                continue
            received, port, size = _HEAD.unpack_from(packet)
            start = _HEAD.size + size
            host = packet[_HEAD.size : start].decode()
            waited = max(0.0, time.time() - received)
            try:
                self._deliver(packet[start:], (host, port), self.udp, waited)
            except Exception:  # as on the UDP socket: one bad datagram costs only itself
                log.exception("error handling a datagram", extra={"action": "sip_input_failed"})

    def close(self) -> None:
        if self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()


def slot_config(config: EngineConfig, slot: WorkerSlot) -> EngineConfig:
    """One worker's configuration: its slice of the RTP ports, TCP on the first only."""
    low, high = config.rtp_ports.low, config.rtp_ports.high
    span = (high - low + 1) // slot.count // 2 * 2  # even: RTP/RTCP pairs stay in a slice
    first = low + slot.index * span
    last = high if slot.index == slot.count - 1 else first + span - 1
    transports = config.transports if slot.index == 0 else ("udp",)
    return replace(config, rtp_ports=PortRange(first, last), transports=transports, worker=slot)


WorkerMain = Callable[["Engine", Any], Coroutine[Any, Any, None]]


def _worker_process(
    config: EngineConfig, main: WorkerMain, arg: Any, log_level: str | None
) -> None:
    from voxgate.engine.engine import Engine

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    if log_level is not None:
        from voxgate.observability.logging import configure

        configure(log_level)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stopping.set)
        async with Engine(config) as engine:
            # what start-up built (modules, tables: ~100,000 objects) lives as long as the
            # process: frozen, full collections skip it, and they run while calls carry media
            gc.collect()
            gc.freeze()
            work: asyncio.Task[None] = asyncio.create_task(main(engine, arg))
            stop: asyncio.Task[bool] = asyncio.create_task(stopping.wait())
            await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
            for task in (work, stop):
                task.cancel()
            for task in (work, stop):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    asyncio.run(run())


class WorkerGroup:
    """The engine processes of one node; a context manager that stops them on exit."""

    def __init__(
        self,
        config: EngineConfig,
        count: int,
        main: WorkerMain,
        arg: Any = None,
        *,
        log_level: str | None = None,  # set: each process logs to stderr at this level
    ):
        if config.sip_port == 0:
            raise ValueError("media workers share one SIP port: give a fixed port")
        self.config = config
        self.count = count
        group = f"{os.getpid()}-{config.host}-{config.sip_port}"
        self.slots = [WorkerSlot(i, count, group) for i in range(count)]
        self._main, self._arg, self._log_level = main, arg, log_level
        self.processes: list[multiprocessing.process.BaseProcess] = []

    def start(self) -> WorkerGroup:
        _check_port_free(self.config.host, self.config.sip_port)
        context = multiprocessing.get_context("spawn")
        for slot in self.slots:
            process = context.Process(
                target=_worker_process,
                args=(slot_config(self.config, slot), self._main, self._arg, self._log_level),
                name=f"voxgate-engine-{slot.index}",
                daemon=True,
            )
            process.start()
            self.processes.append(process)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1)

    def __enter__(self) -> WorkerGroup:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_port_free(host: str, port: int) -> None:
    """Refuse to join a port another program holds: SO_REUSEPORT would share it silently."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        try:
            probe.bind(address)
        except OSError as exc:
            raise OSError(f"SIP address {host}:{port} is in use: {exc.strerror}") from None
