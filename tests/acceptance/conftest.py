from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from testkit.processes import GatewayProcess
from testkit.sinks import Sink
from tests.acceptance.helpers import SHOP_SECRET


def base_config(database_url: str, **overrides: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "database": {"url": database_url},
        "delivery": {
            "allowed_private_cidrs": ["127.0.0.0/8"],
            "poll_interval_seconds": 0.2,
            "backoff_base_seconds": 0.05,
            "backoff_cap_seconds": 0.2,
            "max_attempts": 4,
            "timeout_seconds": 5,
            "lease_seconds": 10,
            "grace_seconds": 5,
        },
        "log": {"level": "INFO", "format": "json"},
        "sources": [{"name": "shop", "scheme": "shopify", "secret": SHOP_SECRET}],
    }
    for section, values in overrides.items():
        config.setdefault(section, {}).update(values)
    return config


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    started: list[GatewayProcess] = []

    def start(config: dict[str, Any], role: str = "all", name: str = "gw") -> GatewayProcess:
        folder = tmp_path / f"{name}{len(started)}"
        folder.mkdir()
        gateway = GatewayProcess(folder, config, role).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.kill()
        print(f"--- gateway log ({gateway.config_path.parent.name}) ---\n{gateway.logs()[-20000:]}")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    s = await Sink().start()
    yield s
    await s.stop()
