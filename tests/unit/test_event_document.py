"""The one JSON document of a stored event that filters, explanations and transforms read:
the same shape whatever the body came as."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from gateway.domain.document import event_document
from gateway.domain.xmlview import parse_xml
from gateway.store.records import Event

XML = b'<order id="7"><line sku="A"/><line sku="B"/></order>'


def stored(body: bytes, body_view: object = None, **changes: object) -> Event:
    fields: dict[str, object] = {
        "id": "evt_1",
        "source": "shop",
        "external_id": "wh-1",
        "event_type": "orders/create",
        "ordering_key": None,
        "received_at": datetime(2026, 12, 6, tzinfo=UTC),
        "content_type": "application/json",
        "headers": {"content-type": "application/json", "x-shopify-topic": "orders/create"},
        "body": body,
        "body_view": body_view,
        **changes,
    }
    return Event(**fields)  # type: ignore[arg-type]


def test_a_json_body_is_its_parsed_json() -> None:
    document = event_document(stored(orjson.dumps({"id": 7, "total": "9.90"})))

    assert document == {
        "type": "orders/create",
        "source": "shop",
        "id": "evt_1",
        "headers": {"content-type": "application/json", "x-shopify-topic": "orders/create"},
        "body": {"id": 7, "total": "9.90"},
    }


def test_an_xml_body_is_its_stored_view() -> None:
    view = parse_xml(XML).view
    event = stored(XML, view, content_type="application/xml")

    assert event_document(event)["body"] == {
        "order": {"@id": "7", "line": [{"@sku": "A"}, {"@sku": "B"}]}
    }


def test_a_body_that_is_neither_is_null() -> None:
    assert event_document(stored(b"plain text, not json"))["body"] is None
    assert event_document(stored(b""))["body"] is None
    assert event_document(stored(XML, content_type="application/xml"))["body"] is None


def test_an_event_without_a_type_has_a_null_type() -> None:
    assert event_document(stored(b"{}", event_type=None))["type"] is None


def test_secret_headers_are_hidden_by_the_common_rule_and_the_sources_own() -> None:
    headers = {"x-shopify-hmac-sha256": "c2lnbmF0dXJl", "x-sig": "abc", "x-topic": "t"}
    event = stored(b"{}", headers=headers)

    assert event_document(event, hidden_headers=("X-Sig",))["headers"] == {
        "x-shopify-hmac-sha256": "[hidden]",
        "x-sig": "[hidden]",
        "x-topic": "t",
    }
