"""``voxgate serve --media-workers 2``: the node's SIP address, served by two engine processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.interop.sipp import free_port


def _options(port: int, sock: socket.socket, n: int) -> bytes:
    local = sock.getsockname()[1]
    request = (
        f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKprobe{n};rport\r\n"
        f"From: <sip:probe@127.0.0.1>;tag=p{n}\r\nTo: <sip:127.0.0.1>\r\n"
        f"Call-ID: probe-{n}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # workers take a moment to start
        sock.sendto(request, ("127.0.0.1", port))
        try:
            return sock.recv(4096)
        except TimeoutError:
            continue
    raise AssertionError("no answer to OPTIONS")


def _wait_http(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the HTTP server did not start")


@pytest.mark.interop
def test_serve_runs_engine_processes_on_the_sip_port_and_stops_them(tmp_path: Path) -> None:
    sip, http = free_port(), free_port()
    env = {
        **os.environ,
        "VOXGATE_DATA_DIR": str(tmp_path),
        "VOXGATE_SIP_PORT": str(sip),
        "VOXGATE_HTTP_PORT": str(http),
        "VOXGATE_TTS_PREWARM": "false",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "voxgate", "serve", "--media-workers", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        answers = []
        for n in range(8):  # several sources: the kernel spreads them over the workers
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind(("127.0.0.1", 0))
                sock.settimeout(0.5)
                answers.append(_options(sip, sock, n))
        assert all(a.startswith(b"SIP/2.0 200 OK\r\n") for a in answers), answers
        assert all(f"probe-{n}@127.0.0.1".encode() in a for n, a in enumerate(answers))
        _wait_http(http)  # stop it only once it is fully up
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert f"voxgate SIP on udp:127.0.0.1:{sip} (2 engine processes)" in out
    # the engine processes are gone with the server: the SIP port is free again
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", sip))


def test_serve_refuses_a_sip_port_in_use(tmp_path: Path) -> None:
    sip = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", sip))
        result = subprocess.run(
            [sys.executable, "-m", "voxgate", "serve", "--media-workers", "2"],
            env={**os.environ, "VOXGATE_DATA_DIR": str(tmp_path), "VOXGATE_SIP_PORT": str(sip)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"SIP address 127.0.0.1:{sip} is in use" in result.stderr
