"""A claimed delivery through its transform: what the handler is given. The real engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson

from gateway.delivery.transformed import transform_claimed
from gateway.delivery.transforms import Reshaped, TransformEngine
from gateway.domain.transform import Transform
from testkit.factories import claimed_delivery

SHOW = Transform(source="function handler(request, context) { return {body: [request, context]} }")


async def test_the_handler_is_given_the_events_document_and_its_time_in_utc() -> None:
    berlin = timezone(timedelta(hours=1))
    received = datetime(2026, 12, 6, 11, 0, 0, 123456, tzinfo=berlin)
    claimed = claimed_delivery(
        datetime.now(UTC),
        event_id="evt_7",
        subscriber_name="wms-berlin",
        body=b'{"order": 7, "total": 12.5}',
        event_headers={"content-type": "application/json", "x-shopify-hmac-sha256": "c2ln"},
        received_at=received,
        transform=SHOW,
    )
    engine = TransformEngine(workers=1)
    try:
        answer = await transform_claimed(engine, claimed)
    finally:
        await engine.close()
    assert isinstance(answer, Reshaped) and answer.body is not None
    request, context = orjson.loads(answer.body)
    assert request == {
        "type": "orders/create",
        "source": "shop",
        "id": "evt_7",
        "headers": {"content-type": "application/json", "x-shopify-hmac-sha256": "[hidden]"},
        "body": {"order": 7, "total": 12.5},
    }
    assert context == {
        "subscriber": "wms-berlin",
        "received_at": "2026-12-06T10:00:00.123456+00:00",
    }
