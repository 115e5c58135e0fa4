"""The listening site takes every connection waiting in the kernel's queue at once, on
uvloop too (whose own servers take one per turn of the loop), and otherwise serves
like aiohttp's TCPSite: the bound port, HTTP and TLS, and a clean stop."""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
import trustme
import uvloop
from aiohttp import web

from gateway.http.acceptor import GreedySite

WAITING = 64
ROOT = Path(__file__).resolve().parents[2]


def hello_app() -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    return app


async def serving(
    site_for: Callable[[web.AppRunner], web.BaseSite],
) -> tuple[web.AppRunner, web.BaseSite]:
    runner = web.AppRunner(hello_app(), handle_signals=False)
    await runner.setup()
    site = site_for(runner)
    await site.start()
    return runner, site


async def turns_until_all_connected(site_for: Callable[[web.AppRunner], web.BaseSite]) -> int:
    """Open ``WAITING`` connections (the kernel completes them unaccepted), then count the
    turns of the loop until the server has made all of them (at most 200)."""
    runner, site = await serving(site_for)
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(WAITING)]
    try:
        assert runner.server is not None
        for turn in range(1, 201):
            await asyncio.sleep(0)
            if len(runner.server.connections) == WAITING:
                return turn
        return 201
    finally:
        for client in clients:
            client.close()
        await runner.cleanup()


def test_every_waiting_connection_is_taken_within_a_few_turns_of_a_uvloop_loop() -> None:
    turns = uvloop.run(turns_until_all_connected(lambda runner: GreedySite(runner, "127.0.0.1", 0)))
    assert turns <= 10, f"{WAITING} waiting connections took {turns} turns of the loop"


def test_aiohttp_own_site_on_uvloop_takes_one_connection_per_turn() -> None:
    """Why the site exists: if uvloop ever accepts greedily again, this says so."""
    turns = uvloop.run(
        turns_until_all_connected(lambda runner: web.TCPSite(runner, "127.0.0.1", 0))
    )
    assert turns >= WAITING // 2


async def test_the_site_serves_http_on_the_port_it_bound() -> None:
    runner, site = await serving(lambda runner: GreedySite(runner, "127.0.0.1", 0))
    try:
        assert isinstance(site, GreedySite)
        assert site.port > 0
        assert site.name == f"http://127.0.0.1:{site.port}"
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{site.port}/") as response,
        ):
            assert (response.status, await response.text()) == (200, "hello")
    finally:
        await runner.cleanup()


async def test_once_stopped_the_port_refuses_connections() -> None:
    runner, site = await serving(lambda runner: GreedySite(runner, "127.0.0.1", 0))
    port = site.port  # type: ignore[attr-defined]
    await runner.cleanup()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context for 127.0.0.1 and a client context that trusts it."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


async def test_a_failed_handshake_leaves_the_tls_listener_serving(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_context, client_context = tls
    runner, site = await serving(
        lambda runner: GreedySite(runner, "127.0.0.1", 0, ssl_context=server_context)
    )
    url = f"https://127.0.0.1:{site.port}/"  # type: ignore[attr-defined]
    try:
        assert site.name.startswith("https://")
        async with aiohttp.ClientSession() as session:
            reader, writer = await asyncio.open_connection("127.0.0.1", site.port)  # type: ignore[attr-defined]
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP: no handshake
            await writer.drain()
            async with asyncio.timeout(5):
                assert await reader.read() == b""  # the server hung up
            writer.close()
            async with session.get(url, ssl=client_context) as response:
                assert (response.status, await response.text()) == (200, "hello")
    finally:
        await runner.cleanup()


OUT_OF_DESCRIPTORS = """
import asyncio, logging, os, resource, sys
import uvloop
from aiohttp import web
from gateway.http.acceptor import GreedySite

async def hello(request):
    return web.Response(text="hello")

async def main():
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = GreedySite(runner, "127.0.0.1", 0)
    await site.start()
    spare = len(os.listdir("/proc/self/fd")) + 3  # room for three connections at a time
    resource.setrlimit(resource.RLIMIT_NOFILE, (spare, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    print(site.port, flush=True)
    await asyncio.sleep(60)

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
uvloop.run(main())
"""


async def test_out_of_file_descriptors_it_pauses_accepting_and_then_serves_everyone() -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        OUT_OF_DESCRIPTORS,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None and child.stderr is not None
        async with asyncio.timeout(30):
            port = int(await child.stdout.readline())

            async def fetch() -> bytes:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answer = await reader.read()
                writer.close()
                return answer

            answers = await asyncio.gather(*(fetch() for _ in range(12)))
        assert all(answer.endswith(b"\r\n\r\nhello") for answer in answers), answers
    finally:
        child.kill()
        _, errors = await child.communicate()
    assert b"not accepting for 1 s" in errors, errors.decode()
