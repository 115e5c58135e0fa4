"""The outbound client against real servers: every kind of answer a subscriber gives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from gateway.delivery.client import OutboundClient
from gateway.delivery.ssrf import AddressPolicy
from testkit.resolver import StubResolver
from testkit.sinks import (
    Sink,
    answer,
    huge_body,
    reset_connection,
    slow,
)

SNIPPET = 512


@pytest.fixture
async def client() -> AsyncIterator[OutboundClient]:
    c = OutboundClient(AddressPolicy(["127.0.0.0/8"]), snippet_bytes=SNIPPET)
    yield c
    await c.close()


Start = Callable[..., Awaitable[Sink]]


async def test_a_2xx_answer_is_a_success_with_its_snippet(
    client: OutboundClient, start_subscriber: Start
) -> None:
    server = await start_subscriber(answer(204 - 4, text="accepted"))
    result = await client.post(server.url, b"{}", {"Content-Type": "application/json"}, 5)
    assert (result.outcome, result.status_code, result.response_snippet) == (
        "success",
        200,
        "accepted",
    )
    [arrival] = server.arrivals
    assert arrival.body == b"{}"


async def test_a_cookie_a_subscriber_sets_is_never_sent_back(start_subscriber: Start) -> None:
    # By name, not by IP literal: a cookie jar keeps the cookies of named hosts only.
    server = await start_subscriber(answer(200, {"Set-Cookie": "session=abc; Path=/"}))
    resolver = StubResolver({"wms.internal.example": ["127.0.0.1"]})
    client = OutboundClient(AddressPolicy(["127.0.0.0/8"]), resolver=resolver)
    try:
        for _ in range(2):
            url = f"http://wms.internal.example:{server.port}/hook"
            assert (await client.post(url, b"{}", {}, 5)).outcome == "success"
    finally:
        await client.close()
    assert [a.headers.get("Cookie") for a in server.arrivals] == [None, None]


async def test_a_500_is_an_http_error_with_the_answer_recorded(
    client: OutboundClient, start_subscriber: Start
) -> None:
    server = await start_subscriber(answer(500, text="database down"))
    result = await client.post(server.url, b"{}", {}, 5)
    assert (result.outcome, result.status_code, result.error) == ("http_error", 500, "HTTP 500")
    assert result.response_snippet == "database down"


@pytest.mark.parametrize(("status", "value", "seconds"), [(429, "7", 7.0), (503, "0", 0.0)])
async def test_a_retry_after_in_seconds_comes_back_with_the_failure(
    client: OutboundClient, start_subscriber: Start, status: int, value: str, seconds: float
) -> None:
    server = await start_subscriber(answer(status, {"Retry-After": value}))
    result = await client.post(server.url, b"{}", {}, 5)
    assert (result.status_code, result.retry_after_seconds) == (status, seconds)


async def test_a_retry_after_as_a_date_in_the_past_means_now(
    client: OutboundClient, start_subscriber: Start
) -> None:
    server = await start_subscriber(answer(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    result = await client.post(server.url, b"{}", {}, 5)
    assert result.retry_after_seconds == 0.0


async def test_a_410_is_reported_with_its_status(
    client: OutboundClient, start_subscriber: Start
) -> None:
    server = await start_subscriber(answer(410))
    result = await client.post(server.url, b"{}", {}, 5)
    assert (result.outcome, result.status_code) == ("http_error", 410)


async def test_a_redirect_is_a_failure_and_is_not_followed(
    client: OutboundClient, start_subscriber: Start
) -> None:
    target = await start_subscriber(answer(200))
    server = await start_subscriber(answer(307, {"Location": target.url}))
    result = await client.post(server.url, b"{}", {}, 5)
    assert (result.outcome, result.status_code) == ("redirect", 307)
    assert target.arrivals == []


async def test_an_answer_slower_than_the_timeout_is_a_timeout(
    client: OutboundClient, start_subscriber: Start
) -> None:
    server = await start_subscriber(slow(5.0))
    result = await client.post(server.url, b"{}", {}, 0.3)
    assert result.outcome == "timeout"
    assert result.status_code is None


async def test_a_connection_reset_is_a_connection_error(
    client: OutboundClient, start_subscriber: Start
) -> None:
    server = await start_subscriber(reset_connection())
    result = await client.post(server.url, b"{}", {}, 5)
    assert result.outcome == "connection_error"
    assert result.error


async def test_a_refused_connection_is_a_connection_error(client: OutboundClient) -> None:
    result = await client.post("http://127.0.0.1:9/hook", b"{}", {}, 5)
    assert result.outcome == "connection_error"


async def test_a_huge_answer_is_cut_at_the_snippet_cap_and_not_downloaded(
    client: OutboundClient, start_subscriber: Start
) -> None:
    total = 512 * 1024 * 1024
    server = await start_subscriber()
    server.behaviour = huge_body(server, total)
    result = await client.post(server.url, b"{}", {}, 10)
    assert result.outcome == "success"
    assert result.response_snippet == "x" * SNIPPET
    await server.wait_for(1)
    # Only what the socket buffers on the way could hold was ever written (a few MB on
    # loopback), not the half gigabyte on offer: the client read the cap and hung up.
    assert server.bytes_written < 32 * 1024 * 1024


async def test_the_connection_after_a_cut_answer_still_serves_the_next_attempt(
    client: OutboundClient, start_subscriber: Start
) -> None:
    server = await start_subscriber()
    server.behaviour = huge_body(server, 64 * 1024 * 1024)
    await client.post(server.url, b"{}", {}, 10)
    server.behaviour = answer(200, text="fine")
    result = await client.post(server.url, b"{}", {}, 10)
    assert (result.outcome, result.response_snippet) == ("success", "fine")


async def test_an_https_only_subscriber_is_never_sent_plain_http(
    client: OutboundClient, start_subscriber: Start
) -> None:
    server = await start_subscriber(answer(200))
    result = await client.post(server.url, b"{}", {}, 5, https_only=True)
    assert result.outcome == "blocked"
    assert server.arrivals == []


@pytest.mark.parametrize(
    ("name", "addresses"),
    [
        ("hooks.example.com", ["127.0.0.1"]),
        ("metadata.example.com", ["169.254.169.254"]),
        ("wms.example.com", ["10.1.2.3"]),
        ("mixed.example.com", ["93.184.216.34", "192.168.0.10"]),
        ("v6.example.com", ["::1"]),
        ("mapped.example.com", ["::ffff:127.0.0.1"]),
        ("nat64.example.com", ["64:ff9b::a9fe:a9fe"]),
        ("sixtofour.example.com", ["2002:7f00:1::"]),
    ],
)
async def test_a_public_looking_name_resolving_to_a_private_address_is_never_connected(
    start_subscriber: Start, name: str, addresses: list[str]
) -> None:
    server = await start_subscriber(answer(200))
    resolver = StubResolver({name: addresses})
    client = OutboundClient(AddressPolicy(), resolver=resolver)
    try:
        result = await client.post(f"http://{name}:{server.port}/hook", b"{}", {}, 5)
    finally:
        await client.close()
    assert result.outcome == "blocked", result
    assert resolver.asked == [name]
    assert server.arrivals == []


async def test_the_connection_goes_to_the_address_that_was_checked(
    start_subscriber: Start,
) -> None:
    server = await start_subscriber(answer(200))
    resolver = StubResolver({"wms.internal.example": ["127.0.0.1"]})
    client = OutboundClient(AddressPolicy(["127.0.0.0/8"]), resolver=resolver)
    try:
        result = await client.post(f"http://wms.internal.example:{server.port}/hook", b"1", {}, 5)
    finally:
        await client.close()
    # The name exists in no DNS but the stub's: the request reached the address the guard
    # checked, found by one lookup, with the name kept for the Host header (and TLS).
    assert result.outcome == "success"
    assert resolver.asked == ["wms.internal.example"]
    assert server.arrivals[0].headers["Host"] == f"wms.internal.example:{server.port}"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://[::1]:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0:9/",
        "http://10.0.0.1/",
    ],
)
async def test_a_forbidden_ip_literal_is_refused_before_connecting(url: str) -> None:
    client = OutboundClient(AddressPolicy())
    try:
        result = await client.post(url, b"{}", {}, 5)
    finally:
        await client.close()
    assert result.outcome == "blocked", result
