"""The real ``webhook-gateway serve`` in a subprocess, on free loopback ports."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from testkit.polling import until_sync
from testkit.tokens import JWT_SECRET

CLI = [sys.executable, "-m", "gateway"]


class GatewayFailed(RuntimeError):
    """The gateway exited, never became ready, or would not stop; its log is in the message."""


def _ephemeral_ports() -> range:
    """The ports the kernel hands out to outgoing connections and to ``bind(0)``."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(32768, 61000)


def free_port(attempts: int = 200) -> int:
    """A loopback port nothing listens on right now, chosen below the kernel's ephemeral
    range: a port the gateway binds only after it has started would otherwise be free to
    become the local port of any outgoing connection (a test's, a driver's) meanwhile."""
    ephemeral = _ephemeral_ports()
    low, high = 20000, min(ephemeral.start, 32768)
    for port in random.sample(range(low, high), min(attempts, high - low)):
        if port in ephemeral:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(config: dict[str, Any]) -> str:
    """Sections of scalars, plus ``brokers``, ``sources`` and ``subscribers`` as arrays of
    tables."""
    lines: list[str] = []
    for section, values in config.items():
        if section in ("brokers", "sources", "subscribers"):
            for table in values:
                lines.append(f"[[{section}]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
            continue
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``webhook-gateway *args`` to its end; its output as text."""
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


class GatewayProcess:
    """Writes a config, starts ``serve``, waits for ``/readyz``; stops with a signal."""

    def __init__(
        self,
        tmp_path: Path,
        config: dict[str, Any],
        role: str = "all",
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.command = command or CLI
        self.env = env
        self.ingress_port = free_port()
        self.admin_port = free_port()
        config = {k: dict(v) if isinstance(v, dict) else v for k, v in config.items()}
        config.setdefault("ingress", {}).update(host="127.0.0.1", port=self.ingress_port)
        config.setdefault("admin", {}).update(host="127.0.0.1", port=self.admin_port)
        config.setdefault("database", {}).setdefault("data_dir", str(tmp_path / "data"))
        config.setdefault("api", {}).setdefault("jwt_secret", JWT_SECRET)
        self.config_path = tmp_path / "gateway.toml"
        self.config_path.write_text(to_toml(config))
        self.log_path = tmp_path / "gateway.log"
        self.role = role
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def ingress(self) -> str:
        return f"http://127.0.0.1:{self.ingress_port}"

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> GatewayProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*self.command, "serve", "--config", str(self.config_path), "--role", self.role],
                stdout=log,
                stderr=log,
                env=self.env,
            )
        try:
            until_sync(self._ready, timeout, 0.1)
        except TimeoutError:
            self.kill()
            raise GatewayFailed(f"gateway not ready within {timeout}s:\n{self.logs()}") from None
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise GatewayFailed(f"gateway exited with {self.proc.returncode}:\n{self.logs()}")
        try:
            with urllib.request.urlopen(f"{self.admin}/readyz", timeout=2) as r:  # noqa: S310
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def token(self, scope: str = "admin") -> str:
        result = run_cli("token", "create", "--config", str(self.config_path), "--scope", scope)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise GatewayFailed(f"gateway did not stop within {timeout}s:\n{self.logs()}") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
