"""What a scenario runs in: databases, gateway processes, subscribers, and cleaning up.

A :class:`Lab` owns everything a scenario starts, so that a failing scenario still
kills its gateways and drops its databases. Blocking steps (starting a gateway, minting
a token) run in threads, so the subscribers on the event loop keep answering meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from chaos.load import SHOP_SECRET, SOURCE
from chaos.subscribers import Recorder
from testkit.adminapi import register
from testkit.postgres import PostgresForTests, with_database
from testkit.processes import GatewayProcess

LEASE_SECONDS = 3.0  # short leases: a crashed replica's claims come back quickly
SWEEP_SECONDS = 1.0  # how often a dispatcher releases expired leases (lease / 4, at least 1 s)


def gateway_config(database_url: str, **sections: Any) -> dict[str, Any]:
    """A gateway for the fault suite: loopback subscribers, short leases and timeouts."""
    config: dict[str, Any] = {
        "database": {
            "url": database_url,
            "connect_timeout_seconds": 2,
            "command_timeout_seconds": 10,
        },
        "ingress": {"ack_timeout_seconds": 5, "retry_after_seconds": 1},
        "delivery": {
            "allowed_private_cidrs": ["127.0.0.0/8"],
            "poll_interval_seconds": 0.2,
            "timeout_seconds": 2,
            "lease_seconds": LEASE_SECONDS,
            "grace_seconds": 3,
            "backoff_base_seconds": 0.1,
            "backoff_cap_seconds": 1.0,
            "max_attempts": 100,
        },
        "metrics": {"backlog_interval_seconds": 0},
        "log": {"level": "WARNING", "format": "json"},
        "sources": [{"name": SOURCE, "scheme": "shopify", "secret": SHOP_SECRET}],
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    return config


@dataclasses.dataclass
class Lab:
    pg: PostgresForTests
    root: Path
    gateways: list[GatewayProcess] = dataclasses.field(default_factory=list)
    databases: list[str] = dataclasses.field(default_factory=list)
    recorders: list[Recorder] = dataclasses.field(default_factory=list)
    others: list[Any] = dataclasses.field(default_factory=list)  # anything with async stop()
    token: str | None = None

    async def database(self) -> str:
        """A fresh migrated database on the session server; its URL."""
        name = await asyncio.to_thread(self.pg.create_database)
        self.databases.append(name)
        return with_database(self.pg.url, name)

    def gateway(self, config: dict[str, Any], name: str = "gateway") -> GatewayProcess:
        folder = self.root / f"{name}-{len(self.gateways)}"
        folder.mkdir(parents=True)
        gateway = GatewayProcess(folder, config)
        self.gateways.append(gateway)
        return gateway

    async def start(self, gateway: GatewayProcess) -> float:
        """Start ``gateway`` and wait until it is ready; seconds it took."""
        began = time.monotonic()
        await asyncio.to_thread(gateway.start, 60.0)
        return time.monotonic() - began

    async def stop(self, gateway: GatewayProcess, sig: int = signal.SIGTERM) -> int:
        return await asyncio.to_thread(gateway.stop, sig, 40.0)

    async def kill(self, gateway: GatewayProcess) -> None:
        await asyncio.to_thread(gateway.kill)

    async def recorder(self, name: str, **options: Any) -> Recorder:
        recorder = await Recorder(name, **options).start()
        self.recorders.append(recorder)
        return recorder

    async def subscribe(
        self, gateway: GatewayProcess, recorder: Recorder | None, *, name: str, url: str = ""
    ) -> dict[str, Any]:
        """Register a subscriber through the admin API (a recorder's secret is kept)."""
        if self.token is None:  # every gateway of a lab shares the test JWT secret
            self.token = await asyncio.to_thread(gateway.token, "admin")
        fields: dict[str, Any] = {"name": name}
        if recorder is not None and recorder.event_types:
            fields["event_types"] = recorder.event_types
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            target = recorder.url if recorder else url
            created = await register(http, gateway, self.token, target, **fields)
        if recorder is not None:
            recorder.secret = created["secret"]
            recorder.subscriber_id = created["id"]
        return created

    async def close(self) -> None:
        for gateway in self.gateways:
            gateway.kill()
        for thing in [*self.recorders, *self.others]:
            with contextlib.suppress(Exception):
                await thing.stop()
        for name in self.databases:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.pg.drop_database, name)


@contextlib.asynccontextmanager
async def lab(pg: PostgresForTests, root: Path) -> Any:
    the_lab = Lab(pg, root)
    try:
        yield the_lab
    finally:
        await the_lab.close()


@dataclasses.dataclass
class Resources:
    """The most memory, file descriptors and sockets a process held while sampled."""

    pid: int
    rss: int = 0
    fds: int = 0
    sockets: int = 0
    samples: int = 0

    def sample(self) -> None:
        with contextlib.suppress(psutil.Error, OSError):
            process = psutil.Process(self.pid)
            self.rss = max(self.rss, process.memory_info().rss)
            self.fds = max(self.fds, process.num_fds())
            self.sockets = max(self.sockets, count_sockets(self.pid))
            self.samples += 1

    async def watch(self, stop: asyncio.Event, every: float = 0.2) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)


def count_sockets(pid: int) -> int:
    count = 0
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    count += 1
    return count


def count_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
