"""A real RabbitMQ (Debian's ``rabbitmq-server``) on loopback, for the tests.

Each server has a directory of its own (database, logs, config, Erlang cookie), its own
node name and its own ports, the Erlang port mapper's included, so several can run side
by side and none touches the machine's own broker. ``restart`` stops and starts it on
the same ports and data (durable queues keep what they held), as a broker restart in
production does.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from testkit.processes import free_port

__all__ = ["RabbitMQ", "RabbitMQUnavailable", "rabbitmq_installed"]

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
EPMD = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
_START_SECONDS = 90.0


class RabbitMQUnavailable(RuntimeError):
    """The server did not start; its log is in the message."""


def rabbitmq_installed() -> bool:
    return os.path.exists(SERVER)


class RabbitMQ:
    """One broker: ``url`` for clients (user ``guest``, reachable on loopback only)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="rabbitmq-"))
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"gwtest{secrets.token_hex(4)}@localhost"
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            "log.console = false\n"
            "log.file.level = warning\n"
        )
        cookie = self.root / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o400)
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.root),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.root / "rabbitmq.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
        }

    def start(self) -> None:
        """Start the broker and wait until it takes AMQP connections."""
        with (self.root / "server.out").open("ab") as log:
            self.process = subprocess.Popen(
                [SERVER], env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self._accepts():
                return
            time.sleep(0.2)
        self.stop()
        raise RabbitMQUnavailable(self.logs())

    def _accepts(self) -> bool:
        """Whether the AMQP port answers a protocol header with a connection start."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as conn:
                conn.sendall(b"AMQP\x00\x00\x09\x01")
                return len(conn.recv(8)) > 0
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the broker (its whole process group) and wait for it to end."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def ctl(self, *args: str) -> str:
        """Run ``rabbitmqctl`` against this broker (add a user, raise an alarm …); its
        output, or :class:`RuntimeError` with it."""
        done = subprocess.run(
            [CTL, "-n", self.node, *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def logs(self) -> str:
        out = self.root / "server.out"
        return out.read_text(errors="replace")[-4000:] if out.exists() else ""

    def close(self) -> None:
        """Stop the broker and its port mapper; remove its directory."""
        self.stop()
        subprocess.run(
            [EPMD, "-kill"], env=self._env(), capture_output=True, timeout=10, check=False
        )
        shutil.rmtree(self.root, ignore_errors=True)
