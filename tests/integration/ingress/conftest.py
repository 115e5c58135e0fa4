from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from gateway.config import SourceConfig
from gateway.store.database import Database
from tests.integration.ingress.harness import Ingress

StartIngress = Callable[..., Awaitable[Ingress]]


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture(params=[True, False], ids=["fast-path", "aiohttp-path"])
async def start_ingress(
    db: Database, request: pytest.FixtureRequest
) -> AsyncIterator[StartIngress]:
    """Start the ingress app for some sources; ``[ingress]`` settings as keyword arguments.
    Each test runs twice: served with the fast path, as ``serve`` does, and without it."""
    started: list[Ingress] = []
    fast_path: bool = request.param

    async def start(*sources: SourceConfig, host: str = "127.0.0.1", **ingress: Any) -> Ingress:
        gateway = await Ingress(db, sources, host, **{"fast_path": fast_path, **ingress}).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        await gateway.stop()
