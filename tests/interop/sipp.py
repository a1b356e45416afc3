"""Running SIPp (Debian ``sip-tester``) as a peer, and a UDP sink for the RTP we send.

Every wait is bounded; a missing ``sipp`` fails the test (never skips it).
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SCENARIOS = Path(__file__).parent / "scenarios"
CAPTURES = Path("/usr/share/sip-tester")


def require(program: str) -> str:
    path = shutil.which(program)
    assert path is not None, f"{program} is not installed: the interop tests need it"
    return path


def free_port(*, even: bool = False, span: int = 1) -> int:
    """A loopback port (and the ``span - 1`` above it) free for UDP and TCP right now."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if even and port % 2:
            continue
        if port + span > 65535:
            continue
        if all(_port_free(p) for p in range(port, port + span)):
            return port
    raise RuntimeError("no free port")


def _port_free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


@dataclass
class Sipp:
    """One SIPp process running a scenario (by default ``-m 1``: one call, then exit)."""

    scenario: str
    workdir: Path
    transport: str = "udp"
    keys: dict[str, str] = field(default_factory=dict)
    timeout: float = 20.0
    port: int = 0
    media_port: int = 0
    remote: str | None = None  # as UAC: the address to call
    calls: int = 1  # -m: calls to place or answer before exiting
    extra: list[str] = field(default_factory=list)  # more SIPp options (-r, -l, ...)
    trace: bool = True  # log every message (too slow for thousands of calls)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Sipp:
        sipp = require("sipp")
        self.port = self.port or free_port()
        self.media_port = self.media_port or free_port(even=True, span=4)
        keys = {"media_to": str(self.media_port), "formats": "0 8 101", **self.keys}
        if self.scenario.startswith("builtin:"):
            scenario = ["-sn", self.scenario.removeprefix("builtin:")]
        else:
            scenario = ["-sf", str(SCENARIOS / self.scenario)]
        cmd = [
            sipp,
            *([self.remote] if self.remote else []),
            *scenario,
            "-i",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-mi",
            "127.0.0.1",
            "-mp",
            str(self.media_port),
            "-t",
            "t1" if self.transport == "tcp" else "u1",
            "-m",
            str(self.calls),
            "-timeout",
            f"{int(self.timeout)}s",
            "-timeout_error",
            "-nostdin",
            *(["-trace_msg"] if self.trace else []),
            "-trace_err",
            "-message_file",
            str(self.workdir / "sipp_messages.log"),
            "-error_file",
            str(self.workdir / "sipp_errors.log"),
        ]
        for name, value in keys.items():
            cmd += ["-key", name, value]
        cmd += self.extra
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.workdir,
            stdout=(self.workdir / "sipp_screen.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        if self.remote is None:
            self._wait_listening()
        return self

    def start_caller(self) -> Sipp:
        """Start as UAC (``remote`` set): it calls at once."""
        assert self.remote is not None
        return self.start()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"SIPp exited at start-up:\n{self.logs()}")
            if not _port_free(self.port):
                return
            time.sleep(0.02)
        raise AssertionError("SIPp did not start listening within 5 s")

    def wait(self, timeout: float | None = None) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout or self.timeout + 5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"SIPp did not finish:\n{self.logs()}") from None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def logs(self) -> str:
        out = []
        for name in ("sipp_errors.log", "sipp_messages.log", "sipp_screen.log"):
            path = self.workdir / name
            if path.exists():
                out.append(f"--- {name}\n{path.read_text(errors='replace')[-6000:]}")
        return "\n".join(out)

    @property
    def trunk(self) -> str:
        return f"sip:127.0.0.1:{self.port}"


class UdpSink:
    """Collects every datagram sent to a loopback port, with its arrival time."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.packets: list[tuple[float, bytes, tuple[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            self.packets.append((time.monotonic(), data, addr))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def rtp_header(data: bytes) -> tuple[int, bool, int, int, int]:
    """(payload type, marker, sequence, timestamp, ssrc) of a plain RTP packet."""
    b0, b1, seq, ts, ssrc = struct.unpack_from("!BBHII", data)
    assert b0 == 0x80, "expected RTP v2 without padding, extension or CSRC"
    return b1 & 0x7F, bool(b1 & 0x80), seq, ts, ssrc


def voxgate_call(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run ``voxgate call ...`` as a subprocess and return its output."""
    return subprocess.run(
        [sys.executable, "-m", "voxgate", "call", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
