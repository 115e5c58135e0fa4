"""The worked examples under examples/transforms/: Shopify, WooCommerce and an XML order,
each through the real engine, all three to the same neutral WMS order."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.delivery.transforms import Reshaped, TransformEngine
from gateway.domain.document import event_document
from gateway.domain.transform import Transform
from gateway.domain.xmlview import parse_xml

EXAMPLES = Path(__file__).parents[2] / "examples" / "transforms"
SAMPLES = EXAMPLES / "samples"
WMS_ORDER = orjson.loads((SAMPLES / "wms-order.json").read_bytes())
CONTEXT = {"subscriber": "wms-berlin", "received_at": "2026-05-01T10:00:01+00:00"}


@dataclasses.dataclass(frozen=True)
class Stored:
    """An event as stored: the body as it came, an XML body's view beside it."""

    body: bytes
    source: str
    event_type: str | None
    id: str = "evt_1"
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    body_view: Any = None


def stored(sample: str, source: str, event_type: str) -> Stored:
    body = (SAMPLES / sample).read_bytes()
    view = parse_xml(body).view if sample.endswith(".xml") else None
    return Stored(body, source, event_type, body_view=view)


async def reshaped(example: str, event: Stored) -> Reshaped:
    engine = TransformEngine(workers=1)
    try:
        source = (EXAMPLES / example).read_text()
        answer = await engine.apply(Transform(source=source), event_document(event), CONTEXT)
    finally:
        await engine.close()
    assert isinstance(answer, Reshaped)
    return answer


@pytest.mark.parametrize(
    ("example", "event", "channel"),
    [
        (
            "shopify-orders-create.js",
            stored("shopify-orders-create.json", "shopify", "orders/create"),
            "shopify",
        ),
        (
            "woocommerce-order-created.js",
            stored("woocommerce-order-created.json", "woocommerce", "order.created"),
            "woocommerce",
        ),
        ("xml-order.js", stored("order.xml", "marketplace", "order"), "marketplace"),
    ],
)
async def test_each_shops_order_becomes_the_same_neutral_wms_order(
    example: str, event: Stored, channel: str
) -> None:
    answer = await reshaped(example, event)
    assert answer.body is not None
    assert orjson.loads(answer.body) == WMS_ORDER
    assert answer.content_type == "application/json"
    assert answer.headers == {"X-Order-Channel": channel}


async def test_an_xml_order_of_one_line_is_read_as_a_list_of_one() -> None:
    body = (SAMPLES / "order.xml").read_bytes()
    one = body.replace(
        b'    <line sku="TOTE-NAT"><qty>1</qty><price currency="EUR">14.50</price></line>\n', b""
    )
    event = Stored(one, "marketplace", "order", body_view=parse_xml(one).view)
    answer = await reshaped("xml-order.js", event)
    assert answer.body is not None
    assert orjson.loads(answer.body)["lines"] == WMS_ORDER["lines"][:1]
