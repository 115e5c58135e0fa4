"""Limits on what may be sent: body size (also chunked), rate per client and per source,
content type, and the WooCommerce creation ping that must be answered without storing."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from collections.abc import AsyncIterator

import pytest

from gateway.config import SourceConfig
from testkit.polling import until
from testkit.senders import woocommerce
from tests.integration.ingress.conftest import StartIngress
from tests.integration.ingress.harness import Ingress, raw_exchange
from tests.integration.ingress.senders import ORDER, SENDERS

JSON = {"Content-Type": "application/json"}
LIMIT = 1024


def chunked_head(source: str) -> bytes:
    return (
        f"POST /webhooks/v1/{source} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def test_an_over_limit_chunked_body_gets_413_at_once_and_the_connection_is_closed(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SourceConfig(name="open", scheme="none", max_body_bytes=LIMIT))
    parts = [chunk(b"x" * 512) for _ in range(8)]  # 4 KiB, and the request never ends

    answer = await raw_exchange(gateway.port, chunked_head("open"), parts, wait=3.0)

    assert answer.status == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["connection"] == "close"
    assert answer.closed, "the server kept reading the rest of the body instead of closing"
    assert answer.seconds < 2.0
    assert b"exceeds 1024 bytes" in answer.body
    assert await gateway.stored() == 0
    assert gateway.counted("open", "body-too-large") == 1


async def test_a_declared_length_over_the_limit_gets_413_before_any_body_is_sent(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SourceConfig(name="open", scheme="none", max_body_bytes=LIMIT))
    head = (
        b"POST /webhooks/v1/open HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
    )
    answer = await raw_exchange(gateway.port, head, [], wait=3.0)
    assert (answer.status, answer.closed) == (413, True)


async def test_a_chunked_body_within_the_limit_is_stored_whole(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SourceConfig(name="open", scheme="none", max_body_bytes=LIMIT))

    async def pieces() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"y" * 200

    async with gateway.http.post(gateway.url("open"), data=pieces(), headers=JSON) as response:
        assert response.status == 202
    assert await gateway.db.pool.fetchval("SELECT length(body) FROM events") == 800


async def test_a_client_over_its_rate_is_told_when_to_retry(start_ingress: StartIngress) -> None:
    gateway = await start_ingress(
        SourceConfig(name="open", scheme="none"), rate_limit_per_second=0.5, rate_limit_burst=2
    )
    statuses = [(await gateway.post("open", b"{}", JSON)).status for _ in range(2)]
    assert statuses == [202, 202]

    refused = await gateway.post("open", b"{}", JSON)
    assert refused.status == 429, refused
    assert refused.headers["Retry-After"] == "2"
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.body["type"].endswith("/rate-limited")
    assert await gateway.stored() == 2
    assert gateway.counted("open", "rate-limited") == 1


async def test_a_source_over_its_rate_is_refused_while_other_sources_go_on(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(
        SourceConfig(name="slow", scheme="none", rate_limit_per_second=0.2),
        SourceConfig(name="fast", scheme="none"),
    )
    assert (await gateway.post("slow", b"{}", JSON)).status == 202
    refused = await gateway.post("slow", b"{}", JSON)
    assert refused.status == 429, refused
    assert refused.headers["Retry-After"] == "5"
    assert "for this source" in refused.body["detail"]
    assert (await gateway.post("fast", b"{}", JSON)).status == 202


async def test_a_content_type_the_source_does_not_list_is_refused_with_415(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(
        SourceConfig(name="open", scheme="none", content_types=("application/json",))
    )
    refused = await gateway.post("open", b"a=1", {"Content-Type": "text/plain"})
    assert refused.status == 415, refused
    assert "'text/plain'" in refused.body["detail"]
    assert (await gateway.post("open", b"{}", {})).status == 415
    with_charset = {"Content-Type": "Application/JSON; charset=utf-8"}
    assert (await gateway.post("open", b"{}", with_charset)).status == 202
    assert gateway.counted("open", "unsupported-media-type") == 2


async def test_the_woocommerce_creation_ping_is_answered_200_and_nothing_is_stored(
    start_ingress: StartIngress,
) -> None:
    woo = next(sender for sender in SENDERS if sender.source.scheme == "woocommerce")
    source = SourceConfig(
        name="woo", scheme="woocommerce", secret=woo.secret, content_types=("application/json",)
    )
    gateway = await start_ingress(source)
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    ping = await gateway.post("woo", b"webhook_id=42", form)
    assert ping.status == 200, ping
    assert await gateway.stored() == 0
    assert gateway.counted("woo", "ping") == 1

    not_a_ping = await gateway.post("woo", b"webhook_id=42&topic=x", form)
    assert not_a_ping.status == 415, not_a_ping
    signed = await gateway.post("woo", ORDER, woocommerce(woo.secret, ORDER, "d-7"))
    assert signed.status == 202, signed
    assert await gateway.stored() == 1


async def test_refusals_come_cheapest_first(start_ingress: StartIngress) -> None:
    gateway = await start_ingress(
        SourceConfig(
            name="elsewhere",
            scheme="shopify",
            secret="s3cret",
            allowed_cidrs=("192.0.2.0/24",),
            content_types=("application/json",),
            max_body_bytes=16,
        ),
        SourceConfig(
            name="shop",
            scheme="shopify",
            secret="s3cret",
            content_types=("application/json",),
            max_body_bytes=16,
        ),
    )
    big, small = b"x" * 64, b"{}"
    text = {"Content-Type": "text/plain"}
    assert (await gateway.post("elsewhere", big, text)).status == 403
    assert (await gateway.post("shop", big, text)).status == 415
    assert (await gateway.post("shop", big, JSON)).status == 413
    assert (await gateway.post("shop", small, JSON)).status == 401


async def test_a_body_that_does_not_decode_for_its_content_encoding_is_a_400_not_a_500(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SourceConfig(name="open", scheme="none"))
    answer = await gateway.post("open", b"\x00not deflate" * 8, {"Content-Encoding": "deflate"})
    assert answer.status == 400, answer
    assert answer.body["type"].endswith("/body-unreadable")
    assert await gateway.stored() == 0


async def _waiting_on_a_lock(gateway: Ingress) -> bool:
    """Whether a session on the test's database waits on a lock (a commit held up)."""
    waiting = await gateway.db.pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND datname = current_database()"
    )
    return bool(waiting >= 1)


async def test_webhooks_beyond_the_concurrent_limit_are_told_to_retry_and_nothing_is_lost(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(
        SourceConfig(name="open", scheme="none"), max_concurrent_requests=2
    )
    blocker = await gateway.db.pool.acquire()
    transaction = blocker.transaction()
    await transaction.start()
    await blocker.execute("LOCK TABLE events IN EXCLUSIVE MODE")  # commits wait behind it
    try:
        held = [asyncio.create_task(gateway.post("open", b"{}", JSON)) for _ in range(2)]
        await until(lambda: _waiting_on_a_lock(gateway), 10, 0.02)
        await asyncio.sleep(0.1)  # both are in hand: one committing, one queued
        refused = await gateway.post("open", b"{}", JSON)
    finally:
        await transaction.rollback()
        await gateway.db.pool.release(blocker)
    assert refused.status == 503, refused
    assert refused.headers["Retry-After"] == "5"
    assert refused.body["type"].endswith("/overloaded")
    assert [(await answer).status for answer in held] == [202, 202]
    assert await gateway.stored() == 2
    assert gateway.counted("open", "overloaded") == 1


ENCODED = {"Content-Type": "application/json"}
PLAIN = b'{"order": 1}'


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip, gzip", gzip.compress(gzip.compress(PLAIN))),
        ("deflate, gzip", gzip.compress(zlib.compress(PLAIN))),
        ("gzip,gzip", gzip.compress(gzip.compress(PLAIN))),
        ("identity, gzip", gzip.compress(PLAIN)),
        ("x-gzip", gzip.compress(PLAIN)),
        ("compress", PLAIN),
    ],
    ids=["gzip-gzip", "deflate-gzip", "gzip-gzip-no-space", "identity-gzip", "x-gzip", "compress"],
)
async def test_a_body_aiohttp_would_leave_encoded_gets_415_naming_what_is_accepted(
    start_ingress: StartIngress, coding: str, body: bytes
) -> None:
    gateway = await start_ingress(SourceConfig(name="open", scheme="none"))
    refused = await gateway.post("open", body, {**ENCODED, "Content-Encoding": coding})
    assert refused.status == 415, refused
    assert refused.headers["Accept-Encoding"] == "gzip, deflate"
    assert refused.body["type"].endswith("/unsupported-content-encoding")
    assert refused.body["detail"] == (
        f"content encoding {coding!r} is not accepted;"
        " send the body unencoded or in one layer of gzip or deflate"
    )
    assert await gateway.stored() == 0
    assert gateway.counted("open", "unsupported-content-encoding") == 1


async def test_two_content_encoding_lines_are_stacked_codings_too(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SourceConfig(name="open", scheme="none"))
    body = gzip.compress(gzip.compress(PLAIN))
    head = (
        "POST /webhooks/v1/open HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
        f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = await raw_exchange(gateway.port, head, [body])
    assert answer.status == 415
    assert answer.headers["accept-encoding"] == "gzip, deflate"
    assert await gateway.stored() == 0


async def test_a_gzip_bomb_stacked_twice_is_refused_before_a_byte_is_inflated(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SourceConfig(name="open", scheme="none"))
    bomb = gzip.compress(gzip.compress(bytes(10 * 1024 * 1024)))  # 10 MB of zeros, ~100 bytes
    started = time.monotonic()
    refused = await gateway.post("open", bomb, {**ENCODED, "Content-Encoding": "gzip, gzip"})
    assert refused.status == 415, refused
    assert time.monotonic() - started < 2.0
    assert await gateway.stored() == 0


async def test_one_gzip_layer_is_stored_decoded_and_its_bomb_stops_at_the_limit(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SourceConfig(name="open", scheme="none", max_body_bytes=LIMIT))
    gzipped = {**ENCODED, "Content-Encoding": "GZip"}
    stored = await gateway.post("open", gzip.compress(PLAIN), gzipped)
    bomb = gzip.compress(bytes(10 * 1024 * 1024))
    started = time.monotonic()
    too_large = await gateway.post("open", bomb, gzipped)
    assert stored.status == 202, stored
    assert await gateway.db.pool.fetchval("SELECT body FROM events") == PLAIN
    assert too_large.status == 413, too_large
    assert time.monotonic() - started < 2.0
    assert await gateway.stored() == 1
