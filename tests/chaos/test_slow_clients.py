"""Slow clients cannot pin ingress connections: head deadline, body stalls, idle keep-alive.

The runner under test is the one the ingress listener uses (``GuardedRunner``), serving a
small application on loopback; clients are raw sockets that misbehave on purpose.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from gateway.ingress.slowclients import GuardedRunner
from testkit.sinks import listen

HEADER_TIMEOUT = 0.6
KEEPALIVE_TIMEOUT = 2.0


async def _echo(request: web.Request) -> web.Response:
    try:
        body = await request.read()
    except ConnectionResetError:
        raise web.HTTPBadRequest() from None  # cut off: there is no one to answer
    if request.query.get("think"):
        await asyncio.sleep(float(request.query["think"]))
    return web.Response(text=f"got {len(body)} bytes")


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    runner = GuardedRunner(
        app,
        header_timeout=HEADER_TIMEOUT,
        keepalive_timeout=KEEPALIVE_TIMEOUT,
        access_log=None,
        shutdown_timeout=1.0,
    )
    yield await listen(runner)
    await runner.cleanup()


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _closed_after(reader: asyncio.StreamReader, limit: float) -> tuple[float, bytes]:
    """Read until the server closes the connection; how long it took and what it sent."""
    started = time.monotonic()
    received = b""
    async with asyncio.timeout(limit):
        try:
            while chunk := await reader.read(4096):
                received += chunk
        except ConnectionResetError:
            pass  # closed while the client was still sending: a reset, not a FIN
    return time.monotonic() - started, received


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str = "/"
) -> bytes:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: gateway\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    return head + await asyncio.wait_for(reader.readexactly(length), 5)


async def test_a_client_that_stalls_inside_the_request_line_is_disconnected(port: int) -> None:
    reader, writer = await _connect(port)
    writer.write(b"POST /webhooks/v1/sh")
    took, answer = await _closed_after(reader, HEADER_TIMEOUT * 5)
    writer.close()
    assert HEADER_TIMEOUT * 0.8 <= took < HEADER_TIMEOUT * 3
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_a_client_sending_its_headers_one_byte_a_second_is_disconnected(port: int) -> None:
    reader, writer = await _connect(port)
    request = b"POST /webhooks/v1/shop HTTP/1.1\r\nHost: gateway\r\nX-Padding: " + b"a" * 100
    started = time.monotonic()

    async def trickle() -> None:
        for byte in request:
            writer.write(bytes([byte]))
            await asyncio.sleep(HEADER_TIMEOUT / 4)  # always busy, never done

    sending = asyncio.create_task(trickle())
    try:
        _, answer = await _closed_after(reader, HEADER_TIMEOUT * 5)
    finally:
        sending.cancel()
        writer.close()
    assert time.monotonic() - started < HEADER_TIMEOUT * 3
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_a_connection_that_never_sends_anything_is_closed(port: int) -> None:
    reader, writer = await _connect(port)
    took, answer = await _closed_after(reader, HEADER_TIMEOUT * 5)
    writer.close()
    assert took < HEADER_TIMEOUT * 3
    assert answer == b""  # nothing was asked, nothing is answered


async def test_a_body_that_stops_arriving_closes_the_connection(port: int) -> None:
    reader, writer = await _connect(port)
    writer.write(b"POST /hook HTTP/1.1\r\nHost: gateway\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
    took, answer = await _closed_after(reader, HEADER_TIMEOUT * 5)
    writer.close()
    assert HEADER_TIMEOUT * 0.8 <= took < HEADER_TIMEOUT * 3
    assert b" 200 " not in answer


async def test_a_body_sent_in_pauses_shorter_than_the_limit_is_read(port: int) -> None:
    reader, writer = await _connect(port)
    writer.write(b"POST /hook HTTP/1.1\r\nHost: gateway\r\nContent-Length: 3072\r\n\r\n")
    for _ in range(3):  # each KiB buys a second (MIN_BODY_RATE)
        await asyncio.sleep(HEADER_TIMEOUT * 0.6)
        writer.write(b"x" * 1024)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    assert head.startswith(b"HTTP/1.1 200 ")


async def test_a_keep_alive_client_idle_between_requests_keeps_its_connection(port: int) -> None:
    reader, writer = await _connect(port)
    answers = []
    for _ in range(3):
        answers.append(await _exchange(reader, writer))
        await asyncio.sleep(HEADER_TIMEOUT * 1.5)  # idle longer than the head deadline
    answers.append(
        await _exchange(reader, writer, f"/?think={HEADER_TIMEOUT * 1.5}")
    )  # a slow handler is no fault
    writer.close()
    assert all(answer.startswith(b"HTTP/1.1 200 ") for answer in answers)


async def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(
    port: int,
) -> None:
    reader, writer = await _connect(port)
    await _exchange(reader, writer)
    took, answer = await _closed_after(reader, KEEPALIVE_TIMEOUT * 3)
    writer.close()
    assert KEEPALIVE_TIMEOUT * 0.8 <= took < KEEPALIVE_TIMEOUT * 2
    assert answer == b""


async def test_a_body_trickling_in_below_the_minimum_rate_is_cut_off(port: int) -> None:
    reader, writer = await _connect(port)
    writer.write(b"POST /hook HTTP/1.1\r\nHost: gateway\r\nContent-Length: 1000\r\n\r\n")
    started = time.monotonic()

    async def trickle() -> None:
        for _ in range(1000):
            writer.write(b"x")
            await asyncio.sleep(HEADER_TIMEOUT / 3)  # never silent for long, but far too slow

    sending = asyncio.create_task(trickle())
    try:
        _, answer = await _closed_after(reader, HEADER_TIMEOUT * 6)
    finally:
        sending.cancel()
        writer.close()
    assert time.monotonic() - started < HEADER_TIMEOUT * 3
    assert b" 200 " not in answer


async def test_a_malformed_request_is_answered_400_without_an_error_in_the_log(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    reader, writer = await _connect(port)
    writer.write(b"POST /hook HTTP/1.1\r\nHost: gateway\r\nContent-Length: 1x\r\n\r\n")
    _, answer = await _closed_after(reader, 5)
    writer.close()
    assert answer.split(b" ", 2)[1] == b"400"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
