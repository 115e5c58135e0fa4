"""A plain webhook is stored and answered from its bytes (ingress/fastpath.py), with the
answer the app gives: the same checks in the same order, the same status, headers and
body, the same metrics. Anything else still goes through aiohttp. Served as ``serve``
serves the ingress, over raw sockets, against the real database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest

from gateway.config import SourceConfig
from gateway.ingress.early import Peer
from gateway.ingress.fastpath import FastIngest
from gateway.ingress.looplag import LoopLag
from gateway.ingress.shedding import EarlyRefusal
from gateway.runtime import early_answers
from gateway.store.database import Database
from testkit.polling import until
from testkit.senders import shopify
from tests.integration.ingress.harness import Client, Ingress, Reply

SECRET = "shpss_fast-path-secret"
SHOP = SourceConfig(name="shop", scheme="shopify", secret=SECRET)
STRICT = SourceConfig(
    name="strict",
    scheme="none",
    event_id="/id",
    content_types=("application/json",),
    max_body_bytes=64,
)
FENCED = SourceConfig(name="fenced", scheme="none", allowed_cidrs=("10.9.0.0/16",))
LIMITED = SourceConfig(
    name="limited", scheme="none", event_id="X-Id", rate_limit_per_second=0.01, rate_limit_burst=1
)
SOURCES = (SHOP, STRICT, FENCED, LIMITED)
_ids = itertools.count(1)


def request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One whole HTTP/1.1 request, as a sender writes it."""
    fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = f"POST {path} HTTP/1.1\r\nHost: gateway\r\n{fields}Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def order(delivery: str | None = None) -> bytes:
    """A Shopify webhook for ``/webhooks/v1/shop``, signed, with its own webhook id."""
    body = b'{"id": %d, "total_price": "12.00"}' % next(_ids)
    return request("/webhooks/v1/shop", body, shopify(SECRET, body, delivery or _new_id()))


def _new_id() -> str:
    return f"fast-{next(_ids)}"


Start = Callable[..., Awaitable[Ingress]]


@pytest.fixture
async def start(db: Database) -> AsyncIterator[Start]:
    started: list[Ingress] = []

    async def go(**ingress: Any) -> Ingress:
        gateway = await Ingress(db, SOURCES, "127.0.0.1", **ingress).start()
        started.append(gateway)
        return gateway

    yield go
    for gateway in started:
        await gateway.stop()


async def connect(gateway: Ingress) -> Client:
    return Client(*await asyncio.open_connection("127.0.0.1", gateway.port))


_until = functools.partial(until, timeout=5, every=0.005)


@contextlib.asynccontextmanager
async def webhook_in_hand(db: Database, gateway: Ingress, client: Client) -> AsyncIterator[None]:
    """A webhook sent on ``client`` is in hand, its commit held up until the block ends
    (the events table is locked meanwhile)."""
    async with db.pool.acquire() as blocker, blocker.transaction():
        await blocker.execute("LOCK TABLE events IN EXCLUSIVE MODE")  # the insert waits
        await client.write(order())
        await _until(lambda: gateway.state.active == 1)
        yield


async def test_a_plain_webhook_is_stored_and_answered_without_aiohttps_request_path(
    start: Start,
) -> None:
    gateway = await start()
    client = await connect(gateway)

    replies = [await client.send(order()) for _ in range(3)]

    assert [reply.status for reply in replies] == [202, 202, 202]
    assert all(orjson.loads(reply.body)["duplicate"] is False for reply in replies)
    assert replies[0].headers["content-type"] == "application/json"
    assert await gateway.stored("shop") == 3
    assert gateway.seen_by_aiohttp == 0
    assert gateway.counted("shop", "accepted") == 3
    acks = gateway.metrics.registry.get_sample_value(
        "gateway_ack_latency_seconds_count", {"source": "shop"}
    )
    assert acks == 3
    client.close()


async def test_aiohttps_own_client_is_served_by_the_fast_path(start: Start) -> None:
    gateway = await start()
    body = b'{"id": 1}'

    answer = await gateway.post("shop", body, shopify(SECRET, body, _new_id()))

    assert answer.status == 202
    assert gateway.seen_by_aiohttp == 0


def _cases() -> dict[str, list[bytes]]:
    """Requests (sent in turn on one connection) whose answers both paths must agree on."""
    repeated = _new_id()
    body = b'{"id": "o-1"}'
    return {
        "accepted": [order()],
        "a duplicate": [order(repeated), order(repeated)],
        "a wrong signature": [
            request("/webhooks/v1/shop", body, {**shopify("wrong", body, _new_id())})
        ],
        "no signature": [request("/webhooks/v1/shop", body, {"Content-Type": "application/json"})],
        "an address not allowed": [request("/webhooks/v1/fenced", body, {})],
        "a query string": [order().replace(b"/webhooks/v1/shop ", b"/webhooks/v1/shop?x=1 ")],
        **_strict_cases(),
    }


def _strict_cases() -> dict[str, list[bytes]]:
    """For the ``strict`` source: JSON only, at most 64 bytes, the id at ``/id``."""

    def strict(body: bytes, content_type: str = "application/json") -> list[bytes]:
        return [request("/webhooks/v1/strict", body, {"Content-Type": content_type})]

    return {
        "a content type not accepted": strict(b'{"id": "a"}', "text/plain"),
        "a body over the source's limit": strict(b'{"id": "%s"}' % (b"x" * 80)),
        "no event id": strict(b'{"other": 1}'),
        "a body that is not JSON": strict(b"not json"),
        "an event id with a NUL": strict(b'{"id": "a\\u0000b"}'),
        "stored": strict(b'{"id": "s-%d"}' % next(_ids)),
    }


def _comparable(reply: Reply) -> tuple[int, dict[str, str], object]:
    """Status, headers and body, less what differs between any two answers (the date,
    a new event's id). Neither path names the server's software."""
    headers = {k: v for k, v in reply.headers.items() if k != "date"}
    try:
        body: object = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        body = reply.body
    if isinstance(body, dict) and "event_id" in body:
        body["event_id"] = body["event_id"][:4]
    return reply.status, headers, body


async def _answers(gateway: Ingress, requests: list[bytes]) -> list[Reply]:
    client = await connect(gateway)
    try:
        return [await client.send(one) for one in requests]
    finally:
        client.close()


async def test_the_fast_path_answers_each_case_as_the_app_does(start: Start) -> None:
    fast, app = await start(), await start(fast_path=False)
    by_fast, by_app = _cases(), _cases()  # each with ids of its own

    for case in by_fast:
        fast_answers = [_comparable(r) for r in await _answers(fast, by_fast[case])]
        app_answers = [_comparable(r) for r in await _answers(app, by_app[case])]
        assert fast_answers == app_answers, case

    assert fast.seen_by_aiohttp == 0
    for outcome, times in {
        "accepted": 4,
        "duplicate": 1,
        "signature-invalid": 2,
        "address-not-allowed": 1,
        "unsupported-media-type": 1,
        "body-too-large": 1,
        "missing-event-id": 2,
        "invalid-event": 1,
    }.items():
        source = {"address-not-allowed": "fenced", "signature-invalid": "shop"}.get(outcome)
        counted = fast.counted(source, outcome) if source else _counted_anywhere(fast, outcome)
        assert counted == times, outcome


def _counted_anywhere(gateway: Ingress, outcome: str) -> float:
    return sum(gateway.counted(source.name, outcome) for source in SOURCES)


async def test_a_rate_limit_is_answered_429_with_retry_after_by_the_fast_path(
    start: Start,
) -> None:
    gateway = await start()
    client = await connect(gateway)
    body = b"{}"

    first = await client.send(request("/webhooks/v1/limited", body, {"X-Id": "r-1"}))
    second = await client.send(request("/webhooks/v1/limited", body, {"X-Id": "r-2"}))

    assert (first.status, second.status) == (202, 429)
    assert second.headers["retry-after"].isdigit()
    assert second.headers["content-type"] == "application/problem+json"
    assert gateway.counted("limited", "rate-limited") == 1
    assert gateway.seen_by_aiohttp == 0
    client.close()


LEFT_TO_AIOHTTP: dict[str, Callable[[], bytes]] = {
    "an unknown source": lambda: request("/webhooks/v1/nobody", b"{}", {}),
    "a compressed body": lambda: request(
        "/webhooks/v1/limited",
        gzip.compress(b"{}"),
        {"X-Id": _new_id(), "Content-Encoding": "gzip"},
    ),
    "a folded header line": lambda: order().replace(b"Host: gateway\r\n", b"Host: ga\r\n te\r\n"),
    "a header that is not ASCII": lambda: request(
        "/webhooks/v1/limited", b"{}", {"X-Id": _new_id() + "\xe9"}
    ),
}


@pytest.mark.parametrize("make", LEFT_TO_AIOHTTP.values(), ids=LEFT_TO_AIOHTTP.keys())
async def test_a_request_the_fast_path_does_not_read_is_left_to_aiohttp(
    start: Start, make: Callable[[], bytes]
) -> None:
    gateway = await start()
    fast = await _answers(gateway, [make()])
    reference = await _answers(await start(fast_path=False), [make()])

    assert gateway.seen_by_aiohttp == 1
    assert _comparable(fast[0]) == _comparable(reference[0])


async def test_a_webhook_sent_in_parts_is_stored_through_aiohttp(start: Start) -> None:
    gateway = await start()
    client = await connect(gateway)
    whole = order()
    split = whole.index(b"\r\n\r\n") + 4

    await client.write(whole[:split], whole[split:], pause=0.05)
    reply = await client.reply()

    assert reply.status == 202
    assert gateway.seen_by_aiohttp == 1
    assert await gateway.stored("shop") == 1
    client.close()


async def test_a_request_sent_before_the_answer_waits_its_turn(start: Start, db: Database) -> None:
    gateway = await start()
    client = await connect(gateway)
    async with webhook_in_hand(db, gateway, client):
        await client.write(order())  # pipelined, before the first is answered
        await asyncio.sleep(0.1)
        assert gateway.state.active == 1  # the second waits unread
    first, second = await client.reply(), await client.reply()

    assert (first.status, second.status) == (202, 202)
    assert orjson.loads(first.body)["event_id"] != orjson.loads(second.body)["event_id"]
    assert await gateway.stored("shop") == 2
    assert gateway.seen_by_aiohttp == 0
    client.close()


async def test_a_webhook_whose_sender_left_is_still_stored_and_counted(
    start: Start, db: Database
) -> None:
    gateway = await start()
    client = await connect(gateway)
    async with webhook_in_hand(db, gateway, client):
        client.close()
        await asyncio.sleep(0.05)
    await _until(lambda: gateway.state.active == 0)

    assert await gateway.stored("shop") == 1
    assert gateway.counted("shop", "accepted") == 1


async def test_a_slow_commit_outlasts_the_keep_alive_and_head_deadlines(
    start: Start, db: Database
) -> None:
    gateway = await start(keepalive_timeout_seconds=0.2, header_timeout_seconds=0.2)
    client = await connect(gateway)
    async with webhook_in_hand(db, gateway, client):
        await asyncio.sleep(0.5)  # past both deadlines while the answer waits

    reply = await client.reply()

    assert reply.status == 202
    assert await client.closed_within(1.0)  # idle from the answer on: keep-alive ends it
    client.close()


async def test_shutdown_writes_the_answer_of_a_webhook_being_stored(
    start: Start, db: Database
) -> None:
    gateway = await start()
    client = await connect(gateway)
    async with webhook_in_hand(db, gateway, client):
        assert gateway.runner is not None
        stopping = asyncio.create_task(gateway.runner.cleanup())
        await asyncio.sleep(0.1)
        assert not stopping.done()  # waiting for the answer in hand
    reply = await client.reply()
    await stopping

    assert reply.status == 202
    assert await gateway.stored("shop") == 1
    assert await client.closed_within(1.0)
    client.close()


async def test_a_commit_that_takes_too_long_is_a_503_with_retry_after(
    start: Start, db: Database
) -> None:
    gateway = await start(ack_timeout_seconds=0.2)
    client = await connect(gateway)
    async with db.pool.acquire() as blocker, blocker.transaction():
        await blocker.execute("LOCK TABLE events IN EXCLUSIVE MODE")
        reply = await client.send(order())

    assert reply.status == 503
    assert reply.headers["retry-after"] == "5"
    assert orjson.loads(reply.body)["type"].endswith("/storage-timeout")
    assert gateway.counted("shop", "storage-timeout") == 1
    client.close()


async def test_serve_answers_plain_webhooks_from_their_bytes_unless_told_not_to(
    start: Start,
) -> None:
    on = (await start()).state
    off = (await start(fast_path=False)).state

    assert isinstance(early_answers(on), FastIngest)
    assert isinstance(early_answers(off), EarlyRefusal)


async def test_the_overload_refusal_comes_before_the_fast_path(start: Start) -> None:
    state = (await start()).state
    lag = LoopLag(threshold=0.2)
    lag.lag = 1.0
    state.lag = lag

    answer = FastIngest(state, EarlyRefusal(state))(order(), Peer("127.0.0.1", False))

    assert isinstance(answer, bytes)
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert state.active == 0


def strict_webhook(*extra: bytes, target: bytes = b"/webhooks/v1/strict") -> bytes:
    """A webhook to the ``strict`` source, with ``extra`` field lines, a new event id."""
    body = b'{"id": "%s"}' % _new_id().encode()
    fields = b"".join(line + b"\r\n" for line in extra)
    return (
        b"POST %s HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n%s"
        b"Content-Length: %d\r\n\r\n%s" % (target, fields, len(body), body)
    )


REFUSED_BY_AIOHTTP: dict[str, Callable[[], bytes]] = {
    "no Host": lambda: strict_webhook().replace(b"Host: gateway\r\n", b""),
    "two Hosts": lambda: strict_webhook(b"Host: other"),
    "a NUL in the query": lambda: strict_webhook(target=b"/webhooks/v1/strict?a=\x00"),
    "a TAB in the query": lambda: strict_webhook(target=b"/webhooks/v1/strict?a=\t"),
    "a \\x01 in the query": lambda: strict_webhook(target=b"/webhooks/v1/strict?a=\x01"),
    "a DEL in the query": lambda: strict_webhook(target=b"/webhooks/v1/strict?a=\x7f"),
    "a bare CR in the query": lambda: strict_webhook(target=b"/webhooks/v1/strict?a=\rb"),
    "Content-Type twice": lambda: strict_webhook(b"Content-Type: application/json"),
    "User-Agent twice": lambda: strict_webhook(b"User-Agent: a", b"User-Agent: a"),
    "Max-Forwards twice": lambda: strict_webhook(b"Max-Forwards: 1", b"Max-Forwards: 1"),
}


@pytest.mark.parametrize("make", REFUSED_BY_AIOHTTP.values(), ids=REFUSED_BY_AIOHTTP.keys())
async def test_what_aiohttp_refuses_gets_its_400_and_nothing_after_it_is_read(
    start: Start, make: Callable[[], bytes]
) -> None:
    gateway = await start()
    client = await connect(gateway)

    reply = await client.send(make())
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, TimeoutError):
        await client.send(strict_webhook())  # never read: the connection is closed

    assert reply.status == 400
    assert await gateway.stored() == 0
    client.close()


async def test_a_webhook_with_proxy_connection_close_is_stored_and_its_connection_closed(
    start: Start,
) -> None:
    gateway = await start()
    client = await connect(gateway)

    reply = await client.send(strict_webhook(b"Proxy-Connection: close"))

    assert reply.status == 202
    assert await client.closed_within(1.0)  # as aiohttp closes after answering
    assert await gateway.stored() == 1
    client.close()


async def test_no_ingress_answer_names_the_servers_software(start: Start) -> None:
    gateway = await start()
    sent = [
        order(),  # stored by the fast path
        request("/webhooks/v1/nobody", b"{}", {}),  # 404 from the app
        b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n",
        b"GET /elsewhere HTTP/1.1\r\nHost: gateway\r\n\r\n",  # aiohttp's router
        b"POST /webhooks/v1/shop HTTP/1.1\r\n\r\n",  # no Host: aiohttp's own 400
    ]

    replies = await _answers(gateway, sent)

    assert [reply.status for reply in replies] == [202, 404, 200, 404, 400]
    assert [reply.headers.get("server") for reply in replies] == [None] * 5
