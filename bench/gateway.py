"""The gateway under test: a real ``webhook-gateway serve`` process with a written config."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.payloads import SECRET, SOURCE
from bench.procs import http_json
from testkit.processes import GatewayFailed, GatewayProcess


def base_config(database_url: str) -> dict[str, Any]:
    """The shipped defaults, plus what the bench needs: loopback, its database, its source."""
    return {
        "database": {"url": database_url, "migrate_on_start": True},
        "delivery": {"allowed_private_cidrs": ["127.0.0.0/8"]},
        # The load sends each signed body again under new webhook ids (bench/payloads.py):
        # a replay, which Shopify's window would answer as a duplicate and not store.
        "sources": [
            {"name": SOURCE, "scheme": "shopify", "secret": SECRET, "replay_window_seconds": 0}
        ],
    }


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> None:
    """``section.key=value`` (value in TOML/JSON syntax, else a string)."""
    for item in overrides:
        key, _, raw = item.partition("=")
        section, _, name = key.partition(".")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        config.setdefault(section, {})[name] = value


class Gateway:
    """``webhook-gateway serve --role role`` with ``config``, started and ready (the kit's
    gateway process, its config and log in ``workdir/name``)."""

    def __init__(self, workdir: Path, name: str, config: dict[str, Any], role: str) -> None:
        folder = workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        self.process = GatewayProcess(folder, config, role).start(timeout=90.0)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ingest_url(self) -> str:
        return f"{self.process.ingress}/webhooks/v1/{SOURCE}"

    @property
    def admin(self) -> str:
        return self.process.admin

    def token(self) -> str:
        return self.process.token("admin")

    def add_subscriber(self, token: str, name: str, url: str, **settings: Any) -> str:
        body = {"name": name, "url": url, **settings}
        created = http_json(f"{self.admin}/api/v1/subscribers", "POST", body, token)
        return str(created["id"])

    def stop(self) -> None:
        with contextlib.suppress(GatewayFailed):  # killed after the minute: nothing to wait for
            self.process.stop(timeout=60.0)


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
