"""A sampled webhook's ingest span, as the ingress ends it: stored and answered, or not
stored and refused. Served as ``serve`` serves the ingress (its fast path included),
against the real database; the spans kept in memory instead of exported."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest

from gateway.config import SourceConfig
from gateway.observability.tracing import Finished
from gateway.store.database import Database
from testkit.kept_spans import Keep, kept_tracing
from testkit.senders import shopify
from tests.integration.ingress.harness import Client, Ingress

SECRET = "shpss_traced-ingest-secret"
SHOP = SourceConfig(name="shop", scheme="shopify", secret=SECRET)


def order(delivery: str) -> bytes:
    body = b'{"id": 7, "total_price": "12.00"}'
    fields = "".join(f"{k}: {v}\r\n" for k, v in shopify(SECRET, body, delivery).items())
    head = f"POST /webhooks/v1/shop HTTP/1.1\r\nHost: gateway\r\n{fields}"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.fixture
async def traced(db: Database) -> AsyncIterator[tuple[Ingress, Keep]]:
    tracing, keep = kept_tracing()
    ingress = Ingress(db, (SHOP,), "127.0.0.1", tracing=tracing, ack_timeout_seconds=0.2)
    gateway = await ingress.start()
    yield gateway, keep
    await gateway.stop()


async def send(gateway: Ingress, data: bytes) -> tuple[int, dict[str, str]]:
    client = Client(*await asyncio.open_connection("127.0.0.1", gateway.port))
    try:
        reply = await client.send(data)
    finally:
        client.close()
    return reply.status, orjson.loads(reply.body)


def the_ingest(keep: Keep) -> Finished:
    (span,) = [s for s in keep.spans if s[3] == "ingest"]  # by its name
    return span


async def test_a_stored_webhooks_ingest_span_ends_with_its_answer_and_names_its_event(
    traced: tuple[Ingress, Keep], db: Database
) -> None:
    gateway, keep = traced
    status, answer = await send(gateway, order("traced-stored"))

    assert status == 202
    trace_id, *_, attributes, _, error, children = the_ingest(keep)
    assert error is None  # no error status
    assert attributes["http.response.status_code"] == 202
    assert attributes["gateway.outcome"] == "accepted"
    assert attributes["gateway.event.id"] == answer["event_id"]
    assert [child[0] for child in children or []] == ["checks", "group commit"]
    stored = await db.pool.fetchval("SELECT trace_id FROM events WHERE id = $1", answer["event_id"])
    assert stored == trace_id.hex()


async def test_a_webhook_not_stored_in_time_ends_its_ingest_span_as_the_503_it_got(
    traced: tuple[Ingress, Keep], db: Database
) -> None:
    gateway, keep = traced
    async with db.pool.acquire() as blocker, blocker.transaction():
        await blocker.execute("LOCK TABLE events IN EXCLUSIVE MODE")  # the insert waits
        status, answer = await send(gateway, order("traced-refused"))

    assert status == 503
    *_, attributes, _, error, children = the_ingest(keep)
    assert error == answer["detail"]  # an error status, saying why
    assert attributes["http.response.status_code"] == 503
    assert attributes["gateway.outcome"] == "storage-timeout"
    assert [child[0] for child in children or []] == ["checks"]  # no commit to show
