"""Small builders for records the integration tests store."""

from __future__ import annotations

import orjson

from gateway.delivery.filters import glob_to_like
from gateway.delivery.signer import new_secret
from gateway.domain.ids import new_id
from gateway.store import subscribers
from gateway.store.database import Database
from gateway.store.records import IngestEvent, Subscriber, SubscriberSpec


def event(external_id: str, source: str = "shop", event_type: str = "orders/create") -> IngestEvent:
    return IngestEvent(
        id=new_id("evt"),
        source=source,
        external_id=external_id,
        event_type=event_type,
        ordering_key=None,
        content_type="application/json",
        headers_json=orjson.dumps({"x-test": "1"}).decode(),
        body=orjson.dumps({"order": external_id}),
    )


async def subscriber(
    db: Database,
    name: str = "wms",
    url: str = "http://127.0.0.1:9/hook",
    sources: tuple[str, ...] = (),
    event_types: tuple[str, ...] = (),
) -> Subscriber:
    spec = SubscriberSpec(name=name, url=url, sources=sources, event_types=event_types)
    likes = [glob_to_like(p) for p in event_types]
    return await subscribers.create_subscriber(db, spec, secret=new_secret(), likes=likes)
