"""XML bodies over real HTTP, on both paths: stored with their JSON view and the ids an
XPath or a pointer reads; every hostile document refused 400 before anything is stored."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config import SourceConfig
from gateway.domain.xmlview import XmlRefused, parse_xml
from gateway.http.problems import CONTENT_TYPE, TYPE_BASE
from testkit.senders import shopify
from testkit.xmlbodies import HOSTILE, order
from tests.integration.ingress.conftest import StartIngress

SECRET = "shop-secret"
SHOP = SourceConfig(name="shop", scheme="shopify", secret=SECRET)
ERP = SourceConfig(
    name="erp",
    scheme="none",
    event_id="xpath:/order/@id",
    event_type="xpath:name(/*)",
    ordering_key="/order/customer/@id",  # a JSON pointer: into the view of an XML body
)
MIXED = SourceConfig(
    name="mixed",
    scheme="none",
    event_id="X-Event-Id",
    event_type="xpath:local-name(/*)",
    ordering_key="/invoice/customer",  # one pointer for both: the JSON, or the XML's view
)
XML = {"Content-Type": "application/xml"}


async def stored_rows(gateway: Any) -> list[dict[str, Any]]:
    rows = await gateway.db.pool.fetch(
        "SELECT source, external_id, event_type, ordering_key, content_type, body,"
        " body_view::text AS body_view FROM events ORDER BY seq"
    )
    return [dict(row) for row in rows]


async def test_an_xml_order_is_stored_as_sent_with_its_view_and_the_ids_its_xpaths_read(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(ERP)
    body = order(2, order_id="A-77")

    answer = await gateway.post("erp", body, {"Content-Type": "text/xml; charset=UTF-8"})

    assert answer.status == 202, answer
    [row] = await stored_rows(gateway)
    assert row["external_id"] == "A-77"
    assert row["event_type"] == "order"
    assert row["ordering_key"] == "c-77"
    assert row["body"] == body
    assert orjson.loads(row["body_view"]) == parse_xml(body).view
    assert gateway.counted("erp", "accepted") == 1
    if gateway.state.config.fast_path:
        assert gateway.seen_by_aiohttp == 0


async def test_one_source_takes_json_and_xml_and_only_the_xml_has_a_view(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(MIXED)
    as_json = orjson.dumps({"invoice": {"customer": "c-1", "total": "9.90"}})
    as_xml = b"<invoice><customer>c-2</customer><total>9.90</total></invoice>"

    first = await gateway.post("mixed", as_json, {"X-Event-Id": "j", **_json()})
    second = await gateway.post("mixed", as_xml, {"X-Event-Id": "x", **XML})
    third = await gateway.post("mixed", as_xml, {"X-Event-Id": "s", "Content-Type": "app/x+xml"})

    assert [first.status, second.status, third.status] == [202, 202, 202]
    json_row, xml_row, suffixed = await stored_rows(gateway)
    assert json_row["event_type"] is None  # an XPath reads nothing of a JSON body
    assert json_row["ordering_key"] == "c-1"
    assert json_row["body_view"] is None
    assert xml_row["event_type"] == "invoice"
    assert xml_row["ordering_key"] == "c-2"
    assert orjson.loads(xml_row["body_view"]) == {"invoice": {"customer": "c-2", "total": "9.90"}}
    assert suffixed["body_view"] == xml_row["body_view"]


async def test_xml_sent_as_json_or_as_text_is_stored_as_an_opaque_body(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(MIXED)
    doctype = HOSTILE["doctype without entities"]

    answer = await gateway.post("mixed", doctype, {"X-Event-Id": "t", "Content-Type": "text/plain"})

    assert answer.status == 202
    [row] = await stored_rows(gateway)
    assert row["body_view"] is None
    assert row["event_type"] is None


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_a_hostile_xml_body_is_refused_400_and_nothing_is_stored(
    start_ingress: StartIngress, name: str
) -> None:
    gateway = await start_ingress(SHOP)
    body = HOSTILE[name]
    with pytest.raises(XmlRefused) as expected:
        parse_xml(body)

    answer = await gateway.post("shop", body, {**shopify(SECRET, body, "wh-1"), **XML})

    assert answer.status == 400, answer
    assert answer.headers["Content-Type"] == CONTENT_TYPE
    assert answer.body["type"] == TYPE_BASE + "xml-refused"
    assert answer.body["detail"] == str(expected.value)
    assert await gateway.stored() == 0
    assert gateway.counted("shop", "xml-refused") == 1


async def test_an_xml_body_is_parsed_only_once_its_signature_is_verified(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SHOP)
    body = HOSTILE["billion laughs"]
    forged = {**shopify("not-the-secret", body, "wh-1"), **XML}

    answer = await gateway.post("shop", body, forged)

    assert answer.status == 401
    assert gateway.counted("shop", "xml-refused") == 0


async def test_an_xpath_the_document_cannot_answer_is_a_400_naming_the_field(
    start_ingress: StartIngress,
) -> None:
    prefixed = SourceConfig(name="inv", scheme="none", event_id="xpath:/inv:Invoice/@id")
    gateway = await start_ingress(prefixed)
    declared = b'<inv:Invoice xmlns:inv="urn:inv" id="9"/>'
    undeclared = b'<Invoice xmlns="urn:inv" id="9"/>'

    stored = await gateway.post("inv", declared, XML)
    refused = await gateway.post("inv", undeclared, XML)

    assert stored.status == 202
    assert refused.status == 400
    assert refused.body["type"] == TYPE_BASE + "invalid-event"
    assert refused.body["detail"].startswith("event id: 'xpath:/inv:Invoice/@id' cannot be")
    assert await gateway.stored() == 1


async def test_an_xml_body_without_the_id_the_source_requires_is_a_400(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(ERP)

    answer = await gateway.post("erp", b"<order><number>1</number></order>", XML)

    assert answer.status == 400
    assert answer.body["type"] == TYPE_BASE + "missing-event-id"
    assert answer.body["detail"] == "the event id (xpath:/order/@id) is missing"
    assert await gateway.stored() == 0


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}
