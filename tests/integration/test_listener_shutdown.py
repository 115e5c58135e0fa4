"""A listener's shutdown does not wait for a connection that arrived as it began.

aiohttp's server closes every connection it has, then waits for each. One that arrives
in between parks waiting for a request that will never be read; before the second close
(gateway/http/closing.py), the shutdown waited for it until a deadline ended it: the
ingress's head deadline, or the runner's shutdown timeout. Both deadlines are a minute
here, and the shutdown must end well before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiohttp import web

from gateway.http.closing import ClosingRunner
from gateway.ingress.slowclients import GuardedRunner
from testkit.polling import until

MINUTE = 60.0


async def _hello(_: web.Request) -> web.Response:
    return web.Response(text="hello")


def _ingress(app: web.Application) -> web.AppRunner:
    return GuardedRunner(
        app,
        header_timeout=MINUTE,
        keepalive_timeout=MINUTE,
        access_log=None,
        shutdown_timeout=MINUTE,
    )


def _admin(app: web.Application) -> web.AppRunner:
    return ClosingRunner(app, keepalive_timeout=MINUTE, access_log=None, shutdown_timeout=MINUTE)


@pytest.mark.parametrize("make_runner", [_ingress, _admin], ids=["ingress", "admin"])
async def test_a_connection_that_arrives_as_the_server_closes_does_not_hold_its_shutdown(
    make_runner: Callable[[web.Application], web.AppRunner],
) -> None:
    app = web.Application()
    app.router.add_get("/", _hello)
    runner = make_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None and runner.server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    runner.server.pre_shutdown()  # the server's close of every connection it has now
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    await until(lambda: runner.server.connections, 5, 0.01)
    await asyncio.sleep(0.05)  # its handler has started, and waits for a request

    async with asyncio.timeout(5):  # far below either deadline
        await runner.server.shutdown(MINUTE)
    writer.close()
    await writer.wait_closed()
    await runner.cleanup()
