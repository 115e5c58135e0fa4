"""Records as the tests make them: subscribers and events stored straight through the
store, events as the ingress hands them over, deliveries as the claim hands them out."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import orjson

from gateway.delivery.signer import new_secret
from gateway.domain.ids import new_id
from gateway.domain.subscriber import SubscriberSettings
from gateway.store import subscribers
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.records import ClaimedDelivery, IngestEvent, IngestResult, Subscriber


async def subscriber(
    db: Database,
    name: str = "wms",
    url: str | None = "http://127.0.0.1:9/hook",
    **spec: Any,
) -> Subscriber:
    """A stored subscriber with a new secret; ``spec`` holds any other setting
    (``sources``, ``event_types``, ``max_attempts``, a ``destination`` with ``url=None``
    …)."""
    made = SubscriberSettings(name=name, url=url, **spec)
    return await subscribers.create_subscriber(db, made, secret=new_secret())


def event(
    external_id: str,
    source: str = "shop",
    event_type: str | None = "orders/create",
    *,
    key: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    id: str | None = None,
) -> IngestEvent:
    """An event as the ingress hands it to the writer; ``key`` is its ordering key.

    The body is ``{"order": external_id}`` (with ``"key"`` when there is one) unless given;
    the id a new one unless given.
    """
    document: dict[str, str] = {"order": external_id}
    if key is not None:
        document["key"] = key
    return IngestEvent(
        id=id or new_id("evt"),
        source=source,
        external_id=external_id,
        event_type=event_type,
        ordering_key=key,
        content_type="application/json",
        headers_json=orjson.dumps({"x-test": "1"} if headers is None else headers).decode(),
        body=orjson.dumps(document) if body is None else body,
    )


async def store_events(db: Database, events: list[IngestEvent]) -> list[IngestResult]:
    """Store ``events`` as the writer does (one batch); their results in order."""
    results, _ = await insert_batch(db, events)
    return results


def claimed_delivery(now: datetime, **changes: Any) -> ClaimedDelivery:
    """A delivery as the claim hands it to a worker: its first attempt, of an event of
    ``shop`` received a minute before ``now``, to https://wms.example.com/hook."""
    base = ClaimedDelivery(
        id="dlv_1",
        event_id="evt_1",
        subscriber_id="sub_1",
        subscriber_name="wms",
        attempts=1,
        total_attempts=1,
        source="shop",
        event_type="orders/create",
        received_at=now - timedelta(minutes=1),
        content_type="application/json",
        body=b"{}",
        url="https://wms.example.com/hook",
        secret=new_secret(),
        previous_secret=None,
        previous_secret_expires_at=None,
        subscriber_headers={},
        timeout_seconds=None,
        max_attempts=None,
        backoff_base_seconds=None,
        backoff_cap_seconds=None,
    )
    return dataclasses.replace(base, **changes)
