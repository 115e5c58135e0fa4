"""The gateway under test: a real ``webhook-gateway serve`` process with a written config."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.payloads import SECRET, SOURCE
from bench.procs import PYTHON, ROOT, Child, free_port, http_json

JWT_SECRET = "bench-jwt-secret-" + "x" * 40


def base_config(database_url: str) -> dict[str, dict[str, Any]]:
    """The shipped defaults, plus what the bench needs: loopback, its database, its source."""
    return {
        "database": {"url": database_url, "migrate_on_start": True},
        "delivery": {"allowed_private_cidrs": ["127.0.0.0/8"]},
        "api": {"jwt_secret": JWT_SECRET},
    }


def apply_overrides(config: dict[str, dict[str, Any]], overrides: list[str]) -> None:
    """``section.key=value`` (value in TOML/JSON syntax, else a string)."""
    for item in overrides:
        key, _, raw = item.partition("=")
        section, _, name = key.partition(".")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        config.setdefault(section, {})[name] = value


def to_toml(config: dict[str, dict[str, Any]]) -> str:
    lines = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    lines += ["[[sources]]", f'name = "{SOURCE}"', 'scheme = "shopify"', f'secret = "{SECRET}"']
    # The load sends each signed body again under new webhook ids (bench/payloads.py): a
    # replay, which Shopify's window would answer as a duplicate and not store.
    lines += ["replay_window_seconds = 0"]
    return "\n".join(lines) + "\n"


class Gateway:
    def __init__(
        self, workdir: Path, name: str, config: dict[str, dict[str, Any]], role: str
    ) -> None:
        self.ingress_port = free_port()
        self.admin_port = free_port()
        config = {k: dict(v) for k, v in config.items()}
        config.setdefault("ingress", {}).update(host="127.0.0.1", port=self.ingress_port)
        config.setdefault("admin", {}).update(host="127.0.0.1", port=self.admin_port)
        self.config_path = workdir / f"{name}.toml"
        self.config_path.write_text(to_toml(config))
        self.log = workdir / f"{name}.log"
        self.role = role
        serve = ["serve", "--config", str(self.config_path), "--role", role]
        self.child = Child([PYTHON, "-m", "gateway", *serve], self.log)
        self._wait_ready()

    @property
    def pid(self) -> int:
        return self.child.pid

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingress_port}/webhooks/v1/{SOURCE}"

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def _wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.child.proc.poll() is not None:
                raise RuntimeError(f"gateway exited:\n{self.log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{self.admin}/readyz", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.child.stop()
        raise RuntimeError(f"gateway not ready in {timeout}s:\n{self.log.read_text()[-4000:]}")

    def token(self) -> str:
        config = str(self.config_path)
        done = subprocess.run(
            [PYTHON, "-m", "gateway", "token", "create", "--scope", "admin", "--config", config],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=True,
        )
        return done.stdout.strip()

    def add_subscriber(self, token: str, name: str, url: str) -> str:
        created = http_json(
            f"{self.admin}/api/v1/subscribers", "POST", {"name": name, "url": url}, token
        )
        return str(created["id"])

    def stop(self) -> None:
        self.child.stop(timeout=60)


class Deployment:
    """The gateway in one of the shapes it is deployed in, on one database.

    ``split`` is the Helm chart's default (``mode: split``): an ingress process takes the
    webhooks and a worker process delivers them, so neither takes CPU from the other.
    ``all`` is ``make serve``: one process does both.
    """

    def __init__(self, start: Callable[[str, str], Gateway], name: str, shape: str) -> None:
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
        self.shape = shape
        self.parts: dict[str, Gateway] = {}
        try:
            if shape == "all":
                self.parts["server"] = start(f"{name}-all", "all")
            else:  # the worker first: it is listening when the first event is stored
                self.parts["worker"] = start(f"{name}-worker", "worker")
                self.parts["server"] = start(f"{name}-ingress", "ingress")
        except BaseException:
            self.stop()
            raise

    @property
    def described(self) -> str:
        if self.shape == "all":
            return "one process, --role all"
        return "--role ingress and --role worker processes"

    @property
    def ingress(self) -> Gateway:
        return self.parts["server"]

    @property
    def pids(self) -> dict[str, int]:
        """Each process by its part: ``server`` takes the webhooks, ``worker`` delivers."""
        return {part: gateway.pid for part, gateway in self.parts.items()}

    def stop(self) -> None:
        for gateway in reversed(list(self.parts.values())):
            gateway.stop()


SHAPES = ("split", "all")
