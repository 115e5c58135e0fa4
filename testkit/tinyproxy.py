"""A real HTTP proxy (Debian's ``tinyproxy``) on loopback, for the egress tests.

Each proxy has a directory of its own with its config and its log; it listens on a free
loopback port, takes clients from 127.0.0.1 only, and tunnels (``CONNECT``) to the ports
it is given alone (to any, tinyproxy's default, when given none).
:meth:`TinyProxy.requests` reads the log back: the request lines the proxy received
(``CONNECT 127.0.0.1:8443``, ``POST http://…``), so a test can tell what went through
the proxy, and that nothing did.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from testkit.processes import free_port

__all__ = ["TINYPROXY", "TinyProxy", "tinyproxy_installed"]

TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
_START_SECONDS = 10.0
_REQUEST = re.compile(r"Request \(file descriptor \d+\): (?P<line>\S+ \S+) HTTP/")
_CONNECT = re.compile(r'Established connection to host "(?P<host>[^"]*)" using file')


def tinyproxy_installed() -> bool:
    return os.path.exists(TINYPROXY)


class TinyProxy:
    """One proxy: ``url`` for clients; ``connect_ports`` are those it tunnels to
    (``CONNECT`` to any other port is refused with 403, as a production proxy's list
    does); ``basic_auth`` (``user:password``) is the password it demands."""

    def __init__(self, connect_ports: Iterable[int] = (), basic_auth: str | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tinyproxy-"))
        self.port = free_port()
        self.log = self.root / "tinyproxy.log"
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 30",
            f'LogFile "{self.log}"',
            "LogLevel Info",
            f'PidFile "{self.root / "tinyproxy.pid"}"',
            "MaxClients 20",
            "Allow 127.0.0.1",
            "DisableViaHeader Yes",
            *(f"ConnectPort {p}" for p in connect_ports),
        ]
        if basic_auth is not None:
            user, password = basic_auth.split(":", 1)
            lines.append(f"BasicAuth {user} {password}")
        (self.root / "tinyproxy.conf").write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen(
            [TINYPROXY, "-d", "-c", str(self.root / "tinyproxy.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self._wait_listening()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        self.close()
        raise RuntimeError(f"tinyproxy did not start: {self.log_text()}")

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def requests(self) -> list[str]:
        """The request lines the proxy received, oldest first (``CONNECT host:port``)."""
        return [m.group("line") for m in _REQUEST.finditer(self.log_text())]

    def connections(self) -> list[str]:
        """The hosts the proxy connected to on its clients' behalf, oldest first."""
        return [m.group("host") for m in _CONNECT.finditer(self.log_text())]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)
