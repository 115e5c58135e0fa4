"""Nothing acknowledged is lost: kill -9 mid-stream, and a graceful SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import aiohttp
import orjson

from testkit.adminapi import register
from testkit.polling import until
from testkit.processes import GatewayProcess
from testkit.sinks import Sink
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import send_order


async def _stream(
    http: aiohttp.ClientSession,
    gateway: GatewayProcess,
    prefix: str,
    count: int,
    acked: dict[str, str],
) -> None:
    """Send ``count`` orders, 8 at a time; remember every one answered 2xx."""
    queue = list(range(count))

    async def worker() -> None:
        while queue:
            i = queue.pop(0)
            body = orjson.dumps({"id": i, "prefix": prefix})
            try:
                status, answer = await send_order(http, gateway, body, f"{prefix}-{i}")
            except (TimeoutError, aiohttp.ClientError):
                continue  # the gateway died under us: not acknowledged
            if status in (200, 202):
                acked[f"{prefix}-{i}"] = answer["event_id"]

    await asyncio.gather(*(worker() for _ in range(8)))


async def test_every_acknowledged_event_is_delivered_after_a_kill_9_mid_stream(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
) -> None:
    config = base_config(database_url, delivery={"lease_seconds": 6, "timeout_seconds": 5})
    gateway = start_gateway(config, name="first")
    await register(http, gateway, gateway.token(), sink.url)

    acked: dict[str, str] = {}
    sending = asyncio.create_task(_stream(http, gateway, "crash", 400, acked))
    await until(lambda: len(acked) >= 100, 30, 0.01)
    gateway.kill()
    await sending
    assert 100 <= len(acked) < 400

    start_gateway(config, name="second")
    await sink.wait_for(len(acked), timeout=45)
    await until(
        lambda: set(acked.values()) <= {r.headers["webhook-id"] for r in sink.received}, 45, 0.1
    )
    delivered = {r.headers["webhook-id"] for r in sink.received}
    assert set(acked.values()) <= delivered


async def test_sigterm_finishes_the_work_in_hand_and_exits_cleanly(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    slow = await Sink().start()
    gateway = start_gateway(base_config(database_url))
    try:
        await register(http, gateway, gateway.token(), slow.url)
        acked: dict[str, str] = {}
        await _stream(http, gateway, "term", 50, acked)
        assert len(acked) == 50
        code = await asyncio.to_thread(gateway.stop, signal.SIGTERM)
    finally:
        await slow.stop()
    assert code == 0
    logs = gateway.logs()
    assert '"msg":"stopped"' in logs
    assert "Traceback" not in logs
