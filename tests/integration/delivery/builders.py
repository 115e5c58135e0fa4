"""Subscribers and events as the delivery tests need them."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from gateway.delivery.filters import glob_to_like
from gateway.delivery.signer import new_secret
from gateway.domain.ids import new_id
from gateway.store import subscribers
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.records import IngestEvent, IngestResult, Subscriber, SubscriberSpec


async def subscriber(db: Database, url: str, name: str = "wms", **spec: Any) -> Subscriber:
    made = SubscriberSpec(name=name, url=url, **spec)
    likes = [glob_to_like(p) for p in made.event_types]
    return await subscribers.create_subscriber(db, made, secret=new_secret(), likes=likes)


def event(
    external_id: str,
    *,
    key: str | None = None,
    source: str = "shop",
    event_type: str = "orders/create",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> IngestEvent:
    return IngestEvent(
        id=new_id("evt"),
        source=source,
        external_id=external_id,
        event_type=event_type,
        ordering_key=key,
        content_type="application/json",
        headers_json=orjson.dumps(headers or {}).decode(),
        body=body if body is not None else orjson.dumps({"order": external_id, "key": key}),
    )


async def store_events(db: Database, events: list[IngestEvent]) -> list[IngestResult]:
    results, _ = await insert_batch(db, events)
    return results


def replace(spec: SubscriberSpec, **changes: Any) -> SubscriberSpec:
    return dataclasses.replace(spec, **changes)
