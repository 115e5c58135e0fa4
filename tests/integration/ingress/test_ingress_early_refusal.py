"""While the gateway is overloaded, a plain webhook is refused from its bytes, in the
connection's protocol, before aiohttp builds a request for it; the connection stays open
for the sender's next one. Everything that is not the plain case is still refused, by the
first middleware. Served the way ``serve`` serves the ingress (``GuardedRunner`` with
``EarlyRefusal``), over raw sockets, so every byte on the wire is the gateway's.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trustme

from gateway.config import Config, IngressConfig, SourceConfig, WriterConfig
from gateway.http.acceptor import GreedySite
from gateway.ingress.intake import UNKNOWN_SOURCE, Intake
from gateway.ingress.looplag import LoopLag
from gateway.ingress.shedding import EarlyRefusal
from gateway.ingress.slowclients import GuardedRunner
from gateway.ingress.source import build_sources
from gateway.ingress.writer import GroupCommitWriter
from gateway.observability import Metrics
from gateway.runtime.apps import build_ingress_app
from gateway.store.database import Database
from testkit.polling import until
from tests.integration.ingress.harness import Client

OPEN = SourceConfig(name="open", scheme="none", event_id="X-Event-Id")
BODY = b'{"id": 1}'
_ids = itertools.count(1)


def webhook(
    path: bytes = b"/webhooks/v1/open", *, extra: bytes = b"", version: bytes = b"HTTP/1.1"
) -> bytes:
    """A whole webhook request, each with its own event id."""
    return (
        b"POST %s %s\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"X-Event-Id: e-%d\r\n%sContent-Length: %d\r\n\r\n%s"
        % (path, version, next(_ids), extra, len(BODY), BODY)
    )


@dataclasses.dataclass
class Served:
    port: int
    state: Intake
    runner: GuardedRunner
    db: Database
    clients: list[Client] = dataclasses.field(default_factory=list)

    async def connect(self, tls: ssl.SSLContext | None = None) -> Client:
        client = Client(*await asyncio.open_connection("127.0.0.1", self.port, ssl=tls))
        self.clients.append(client)
        return client

    def overload(self, overloaded: bool = True) -> None:
        """The loop-lag reading says the loop runs a second late (or keeps time)."""
        lag = LoopLag(threshold=0.2)
        lag.lag = 1.0 if overloaded else 0.0
        self.state.lag = lag

    @property
    def seen_by_aiohttp(self) -> int:
        """Requests aiohttp parsed and handed to the app."""
        assert self.runner.server is not None
        return int(self.runner.server.requests_count)

    def counted(self, source: str, outcome: str) -> float:
        value = self.state.metrics.registry.get_sample_value(
            "gateway_ingest_requests_total", {"source": source, "outcome": outcome}
        )
        return value or 0.0

    async def stored(self) -> int:
        return int(await self.db.pool.fetchval("SELECT count(*) FROM events"))


Serve = Callable[..., Awaitable[Served]]


@pytest.fixture
async def serve(db: Database) -> AsyncIterator[Serve]:
    started: list[tuple[Served, GroupCommitWriter]] = []

    async def start(tls: ssl.SSLContext | None = None, **ingress: Any) -> Served:
        metrics = Metrics()
        writer = GroupCommitWriter(db, WriterConfig(batch_wait_ms=0), metrics)
        writer.start()
        config = IngressConfig(**ingress)
        state = Intake(config, build_sources(Config(sources=(OPEN,))), writer, metrics)
        runner = GuardedRunner(
            build_ingress_app(state),
            header_timeout=config.header_timeout_seconds,
            keepalive_timeout=config.keepalive_timeout_seconds,
            answer_early=EarlyRefusal(state),
            access_log=None,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        site = GreedySite(runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        served = Served(site.port, state, runner, db)
        started.append((served, writer))
        return served

    yield start
    for served, writer in started:
        for client in served.clients:
            client.close()
        await served.runner.cleanup()
        await writer.close()


async def test_a_plain_webhook_is_refused_from_its_bytes_and_the_connection_kept(
    serve: Serve,
) -> None:
    gateway = await serve()
    gateway.overload()
    client = await gateway.connect()

    first = await client.send(webhook())
    second = await client.send(webhook(b"/webhooks/v1/open?attempt=2"))

    for reply in (first, second):
        assert reply.status == 503
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.headers["retry-after"] == "5"
        assert reply.headers["date"].endswith(" GMT")
        assert reply.problem() == {
            "type": "https://webhook-gateway.dev/problems/overloaded",
            "title": "Service Unavailable",
            "status": 503,
            "detail": "the gateway is saturated; retry later",
            "instance": "/webhooks/v1/open",
        }
    assert gateway.seen_by_aiohttp == 0
    assert gateway.counted("open", "overloaded") == 2
    assert await gateway.stored() == 0
    assert not await client.closed_within(0.2)


async def test_a_webhook_that_asks_for_keep_alive_is_refused_early(serve: Serve) -> None:
    gateway = await serve()
    gateway.overload()
    client = await gateway.connect()

    reply = await client.send(webhook(extra=b"Connection: Keep-Alive\r\n"))

    assert reply.status == 503
    assert gateway.seen_by_aiohttp == 0


async def test_a_plain_webhook_over_tls_is_refused_from_its_bytes(serve: Serve) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    gateway = await serve(tls=server_context)
    gateway.overload()
    client = await gateway.connect(client_context)

    replies = [await client.send(webhook()) for _ in range(2)]

    assert [reply.status for reply in replies] == [503, 503]
    assert gateway.seen_by_aiohttp == 0
    assert gateway.counted("open", "overloaded") == 2


async def test_the_same_webhook_is_taken_once_the_gateway_keeps_up(serve: Serve) -> None:
    gateway = await serve()
    client = await gateway.connect()

    gateway.overload()
    refused = await client.send(webhook())
    gateway.overload(False)
    taken = await client.send(webhook())

    assert (refused.status, taken.status) == (503, 202)
    assert gateway.seen_by_aiohttp == 1
    assert await gateway.stored() == 1


async def test_after_an_answer_from_the_app_the_next_webhook_is_refused_early(
    serve: Serve,
) -> None:
    gateway = await serve()
    client = await gateway.connect()
    assert (await client.send(webhook())).status == 202

    gateway.overload()
    replies = [await client.send(webhook()) for _ in range(3)]

    assert [reply.status for reply in replies] == [503, 503, 503]
    assert gateway.seen_by_aiohttp == 1


async def test_a_refusal_waits_its_turn_behind_a_webhook_being_stored(
    serve: Serve, db: Database
) -> None:
    gateway = await serve()
    client = await gateway.connect()
    async with db.pool.acquire() as blocker, blocker.transaction():
        await blocker.execute("LOCK TABLE events IN EXCLUSIVE MODE")  # the insert waits
        await client.write(webhook())
        await until(lambda: gateway.state.active != 0, 5, 0.01)
        gateway.overload()
        await client.write(webhook())  # pipelined behind the one being stored
        await asyncio.sleep(0.1)
    first, second = await client.reply(), await client.reply()

    assert (first.status, second.status) == (202, 503)
    assert gateway.seen_by_aiohttp == 2
    assert await gateway.stored() == 1


async def test_a_connection_that_sent_a_request_in_parts_is_left_to_the_app(
    serve: Serve,
) -> None:
    gateway = await serve()
    client = await gateway.connect()
    whole = webhook()
    split = whole.index(b"\r\n\r\n") + 4
    await client.write(whole[:split], whole[split:], pause=0.05)
    assert (await client.reply()).status == 202

    gateway.overload()
    later = await client.send(webhook())

    assert later.status == 503
    assert gateway.seen_by_aiohttp == 2


async def test_a_connection_that_sent_two_requests_at_once_is_left_to_the_app(
    serve: Serve,
) -> None:
    gateway = await serve()
    client = await gateway.connect()
    await client.write(webhook() + webhook())
    assert [(await client.reply()).status for _ in range(2)] == [202, 202]

    gateway.overload()
    later = await client.send(webhook())

    assert later.status == 503
    assert gateway.seen_by_aiohttp == 3


async def test_an_unknown_source_is_refused_early_and_counted_as_unknown(serve: Serve) -> None:
    gateway = await serve()
    gateway.overload()
    client = await gateway.connect()

    reply = await client.send(webhook(b"/webhooks/v1/no-such-source"))

    assert reply.status == 503
    assert gateway.seen_by_aiohttp == 0
    assert gateway.counted(UNKNOWN_SOURCE, "overloaded") == 1
    assert gateway.state.shed_bodies.keys() <= {"/webhooks/v1/open"}


NOT_PLAIN = {
    "a chunked body": (
        b"POST /webhooks/v1/open HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"9\r\n" + BODY + b"\r\n0\r\n\r\n"
    ),
    "a connection to close": webhook(extra=b"Connection: close\r\n"),
    "HTTP/1.0": webhook(version=b"HTTP/1.0"),
    "a percent-encoded source": webhook(b"/webhooks/v1/op%65n"),
    "two lengths": webhook(extra=b"Content-Length: 9\r\n"),
    "a body longer than its length": webhook() + b"{}",
}


@pytest.mark.parametrize("request_bytes", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
async def test_a_webhook_that_is_not_the_plain_case_is_refused_by_the_app(
    serve: Serve, request_bytes: bytes
) -> None:
    gateway = await serve()
    gateway.overload()
    client = await gateway.connect()

    reply = await client.send(request_bytes)

    assert reply.status in (400, 503)  # aiohttp's own answer to a malformed request, or shed
    assert gateway.seen_by_aiohttp >= 1
    assert await gateway.stored() == 0


async def test_a_body_that_comes_after_its_head_is_refused_by_the_app(serve: Serve) -> None:
    gateway = await serve()
    gateway.overload()
    client = await gateway.connect()
    whole = webhook()
    split = whole.index(b"\r\n\r\n") + 4

    await client.write(whole[:split], whole[split:], pause=0.05)
    reply = await client.reply()

    assert reply.status == 503
    assert gateway.seen_by_aiohttp == 1
    assert gateway.counted("open", "overloaded") == 1


async def test_an_early_refusal_ends_the_deadline_for_the_request_head(serve: Serve) -> None:
    gateway = await serve(header_timeout_seconds=0.3)
    gateway.overload()
    client = await gateway.connect()

    assert (await client.send(webhook())).status == 503
    assert not await client.closed_within(0.6)  # past the new connection's head deadline
    assert (await client.send(webhook())).status == 503


async def test_early_refusals_keep_an_idle_connection_alive_as_answers_do(serve: Serve) -> None:
    gateway = await serve(keepalive_timeout_seconds=1.0)
    gateway.overload()
    client = await gateway.connect()

    for _ in range(4):  # the last at 1.2 s: past the keep-alive deadline from connecting
        assert (await client.send(webhook())).status == 503
        await asyncio.sleep(0.4)

    assert await client.closed_within(2.0)  # then idle for the whole keep-alive time


REFUSED_BY_AIOHTTP = {
    "TE with a space before the colon": webhook(extra=b"Transfer-Encoding : chunked\r\n"),
    "a folded TE line": webhook(extra=b"X-A: 1\r\n Transfer-Encoding: chunked\r\n"),
    "a TE line after a bare LF": webhook(extra=b"X-A: 1\nTransfer-Encoding: chunked\r\n"),
    "a NUL in a field name": webhook(extra=b"X-\x00A: 1\r\n"),
    "a space in a field name": webhook(extra=b"X A: 1\r\n"),
    "no Host": webhook().replace(b"Host: gateway\r\n", b""),
    "a NUL in the query": webhook(b"/webhooks/v1/open?x=\x00"),
}


@pytest.mark.parametrize(
    "request_bytes", REFUSED_BY_AIOHTTP.values(), ids=REFUSED_BY_AIOHTTP.keys()
)
async def test_under_overload_what_aiohttp_refuses_gets_its_400_and_nothing_after_it_is_read(
    serve: Serve, request_bytes: bytes
) -> None:
    gateway = await serve()
    gateway.overload()
    client = await gateway.connect()

    reply = await client.send(request_bytes)
    gateway.overload(False)
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, TimeoutError):
        await client.send(webhook())  # what a smuggled request would be

    assert reply.status == 400
    assert "server" not in reply.headers
    assert await gateway.stored() == 0
