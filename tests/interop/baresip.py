"""Running baresip (Debian ``baresip-core``) as a registered phone, driven over its console.

baresip gets a config directory of its own: SIP bound to 127.0.0.1 (``net_interface``
takes an address; it cannot bind ``lo`` by name), only the modules a test needs (G.711,
the ``cons`` UDP console, ``aubridge`` as a silent audio device, ``menu`` for commands),
and one account. ``-s`` puts its SIP trace in the log, which is captured to a file.

Console keys: a digit sent during a call starts an RFC 4733 event; the key-release code
(0x04) ends it. Long commands start with ``/`` and end with a newline.

Every wait is bounded; a missing ``baresip`` fails the test (never skips it).
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.interop.sipp import free_port, require

KEY_RELEASE = "\x04"

CONFIG = """\
poll_method		epoll
sip_listen		127.0.0.1:{sip_port}
net_interface		127.0.0.1
call_local_timeout	30
call_max_calls		2
audio_player		aubridge,bridge
audio_source		aubridge,bridge
audio_alert		aubridge,bridge
rtp_ports		{rtp_low}-{rtp_high}
module_path		{module_path}
module			cons.so
module			g711.so
module			aubridge.so
module_tmp		account.so
module_app		menu.so
cons_listen		127.0.0.1:{cons_port}
"""


@dataclass
class Baresip:
    """One baresip process with one account registering at ``registrar`` (host, port)."""

    workdir: Path
    registrar: tuple[str, int]
    user: str = "1001"
    password: str = "secret"
    transport: str = "udp"
    module_path: Path = Path("/usr/lib/baresip/modules")
    proc: asyncio.subprocess.Process | None = None
    cons_port: int = 0

    @property
    def confdir(self) -> Path:
        return self.workdir / f"baresip-{self.user}"

    @property
    def logfile(self) -> Path:
        return self.confdir / "baresip.log"

    async def start(self) -> Baresip:
        program = require("baresip")
        assert self.module_path.is_dir(), f"baresip modules not found in {self.module_path}"
        self.confdir.mkdir(parents=True, exist_ok=True)
        # every port chosen here: with SIP on port 0 the kernel once gave baresip's SIP
        # socket the console's port, just probed free, and the console failed to bind.
        # baresip also listens for SIP over TLS on the port above its SIP port
        self.cons_port = free_port()
        sip_port = free_port(span=2)
        while self.cons_port in (sip_port, sip_port + 1):
            sip_port = free_port(span=2)
        taken = (sip_port, sip_port + 1, self.cons_port)
        rtp = free_port(even=True, span=10)
        while any(rtp <= port < rtp + 10 for port in taken):
            rtp = free_port(even=True, span=10)
        (self.confdir / "config").write_text(
            CONFIG.format(
                sip_port=sip_port,
                rtp_low=rtp,
                rtp_high=rtp + 9,
                module_path=self.module_path,
                cons_port=self.cons_port,
            )
        )
        host, port = self.registrar
        (self.confdir / "accounts").write_text(
            f"<sip:{self.user}@{host}:{port};transport={self.transport}>"
            f";auth_pass={self.password};answermode=auto;regint=60\n"
        )
        with self.logfile.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                program,
                "-f",
                str(self.confdir),
                "-s",
                cwd=self.confdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        await self._wait_console()
        return self

    async def _wait_console(self) -> None:
        """Until the console answers (baresip is up), at most 5 s."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise AssertionError(f"baresip exited at start-up:\n{self.log()}")
            if "--- Help ---" in await asyncio.to_thread(self.command, "h", wait=0.2):
                return
        raise AssertionError(f"baresip's console did not answer within 5 s:\n{self.log()}")

    def command(self, text: str, *, wait: float = 0.0) -> str:
        """Send ``text`` to the console; return what it printed back within ``wait`` s."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.sendto(text.encode(), ("127.0.0.1", self.cons_port))
            out = b""
            deadline = time.monotonic() + wait
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    out += sock.recv(65535)
                except (TimeoutError, ConnectionRefusedError):
                    break
            return out.decode(errors="replace")

    async def press(self, key: str, *, hold: float = 0.12, pause: float = 0.25) -> None:
        """One DTMF key during a call: pressed for ``hold`` seconds, then released."""
        self.command(key)
        await asyncio.sleep(hold)
        self.command(KEY_RELEASE)
        await asyncio.sleep(pause)

    async def quit(self, timeout: float = 5.0) -> int:  # noqa: ASYNC109
        """``/quit`` (baresip unregisters first); the loop keeps running meanwhile."""
        assert self.proc is not None
        self.command("/quit\n")
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            await self.stop()
            raise AssertionError(
                f"baresip did not quit within {timeout} s:\n{self.tail()}"
            ) from None

    async def stop(self) -> None:
        """Terminate (then kill) the process if it still runs; bounded."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 3)
        except TimeoutError:
            self.proc.kill()
            await asyncio.wait_for(self.proc.wait(), 5)

    def log(self) -> str:
        """The captured output, without terminal colour codes."""
        if not self.logfile.exists():
            return ""
        return re.sub(r"\x1b\[[0-9;]*m", "", self.logfile.read_text(errors="replace"))

    def tail(self, chars: int = 8000) -> str:
        return f"--- {self.logfile}\n{self.log()[-chars:]}"
