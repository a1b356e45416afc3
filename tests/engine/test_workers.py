"""Media workers: engine processes sharing one SIP port, each call handled by its owner."""

from __future__ import annotations

import os
import signal
import socket
import time
import zlib
from pathlib import Path

import pytest

from tests.engine.worker_mains import answer_and_dial
from tests.interop.sipp import Sipp, free_port
from voxgate.engine import EngineConfig, PortRange
from voxgate.engine.workers import WorkerGroup, WorkerSlot, owner_of, slot_config


def test_a_call_belongs_to_the_worker_its_call_id_names_or_hashes_to() -> None:
    assert owner_of(b"vw1-abc@host", 4) == 1
    assert owner_of(b"vw3-abc@host", 4) == 3
    assert owner_of(b"vw9-abc@host", 4) == zlib.crc32(b"vw9-abc@host") % 4  # no such worker
    assert owner_of(b"1-4242@127.0.0.1", 4) == zlib.crc32(b"1-4242@127.0.0.1") % 4
    assert owner_of(None, 4) is None
    owners = {owner_of(f"{i}-99@127.0.0.1".encode(), 3) for i in range(100)}
    assert owners == {0, 1, 2}


def test_each_worker_gets_its_own_rtp_ports_and_only_the_first_tcp() -> None:
    config = EngineConfig(sip_port=5060, rtp_ports=PortRange(20000, 29999))
    slots = [slot_config(config, WorkerSlot(i, 3, "g")) for i in range(3)]
    assert [(c.rtp_ports.low, c.rtp_ports.high) for c in slots] == [
        (20000, 23331),
        (23332, 26663),
        (26664, 29999),
    ]  # each slice from an even port to an odd one: RTP/RTCP pairs never straddle two
    assert [c.transports for c in slots] == [("udp", "tcp"), ("udp",), ("udp",)]
    assert all(c.worker is not None and c.worker.count == 3 for c in slots)


def test_workers_need_a_fixed_port_and_a_free_one() -> None:
    with pytest.raises(ValueError, match="fixed port"):
        WorkerGroup(EngineConfig(sip_port=0), 2, answer_and_dial)
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", port))
        group = WorkerGroup(EngineConfig(sip_port=port), 2, answer_and_dial)
        with pytest.raises(OSError, match="in use"):
            group.start()


def _wait_for(path: Path, predicate: str, count: int, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        found = [line for line in lines if line.startswith(predicate)]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{count} x {predicate!r} not seen: {path.read_text()}")


@pytest.mark.interop
def test_two_workers_share_the_sip_port_and_every_call_reaches_its_owner(
    tmp_path: Path,
) -> None:
    port = free_port()
    log = tmp_path / "calls.log"
    callee = Sipp("uas_answer.xml", tmp_path / "callee", calls=2)
    callee.workdir.mkdir()
    callee.start()
    config = EngineConfig(sip_port=port, accept_any_source=True, transports=("udp",))
    try:
        with WorkerGroup(config, 2, answer_and_dial, (str(log), callee.port)) as group:
            _wait_for(log, "ready", 2)
            # SIPp calls from one socket: the kernel gives all its datagrams to one worker,
            # which passes the calls the other owns over to it
            caller = Sipp(
                "builtin:uac",
                tmp_path / "caller",
                remote=f"127.0.0.1:{port}",
                calls=40,
                extra=["-r", "40"],
            )
            caller.workdir.mkdir()
            caller.start_caller()
            assert caller.wait(60) == 0, caller.logs()
            answered = _wait_for(log, "answered", 40)
            # each worker places a call; the callee's answers reach the worker that dialled
            for process in group.processes:
                assert process.pid is not None
                os.kill(process.pid, signal.SIGUSR1)
            dialed = _wait_for(log, "dialed", 2)
            assert callee.wait(30) == 0, callee.logs()
    finally:
        callee.stop()
    by_worker = {line.split()[1] for line in answered}
    assert by_worker == {"0", "1"}, answered
    for line in answered:
        _, worker, call_id, side = line.split()
        assert owner_of(call_id.encode(), 2) == int(worker)
        assert side == "remote"  # SIPp's BYE reached the owner
    assert sorted(line.split()[1] for line in dialed) == ["0", "1"]
    for line in dialed:
        _, worker, call_id, answered_flag = line.split()
        assert call_id.startswith(f"vw{worker}-") and answered_flag == "True"
