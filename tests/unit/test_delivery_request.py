"""The outbound request: forwarded and static headers, signatures, thin payloads."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from standardwebhooks.webhooks import Webhook

from gateway.delivery.links import PayloadLinks
from gateway.delivery.request import build_request
from gateway.delivery.signer import new_secret
from gateway.store.records import ClaimedDelivery
from testkit.factories import claimed_delivery

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LINKS = PayloadLinks(b"k" * 40, "https://hooks.example.com", 600)
BODY = b'{"id": 1042, "total_price": "254.98"}'


def claimed(**changes: Any) -> ClaimedDelivery:
    headers = {
        "x-shopify-topic": "orders/create",
        "x-shopify-shop-domain": "demo.myshopify.com",
        "x-shopify-hmac-sha256": "c2lnbmF0dXJl",
        "cookie": "session=1",
    }
    return dataclasses.replace(claimed_delivery(NOW, body=BODY, event_headers=headers), **changes)


def test_only_allowlisted_inbound_headers_are_forwarded() -> None:
    out = build_request(claimed(), ("X-Shopify-Topic", "X-Shopify-Shop-Domain"), LINKS, NOW)
    assert out.headers["x-shopify-topic"] == "orders/create"
    assert out.headers["x-shopify-shop-domain"] == "demo.myshopify.com"
    assert "x-shopify-hmac-sha256" not in out.headers


def test_a_subscribers_own_allowlist_replaces_the_default() -> None:
    out = build_request(claimed(forward_headers=["x-shopify-topic"]), ("X-Other",), LINKS, NOW)
    assert "x-shopify-topic" in out.headers
    nothing = build_request(claimed(forward_headers=[]), ("X-Shopify-Topic",), LINKS, NOW)
    assert "x-shopify-topic" not in nothing.headers


def test_credentials_and_gateway_headers_are_never_forwarded() -> None:
    headers = {"cookie": "a=1", "webhook-id": "forged", "x-gateway-source": "forged"}
    out = build_request(
        claimed(event_headers=headers), ("cookie", "webhook-id", "x-gateway-source"), LINKS, NOW
    )
    assert "cookie" not in out.headers
    assert out.headers["webhook-id"] == "evt_1"
    assert out.headers["x-gateway-source"] == "shop"


def test_static_headers_win_over_forwarded_ones_but_not_over_the_gateways() -> None:
    static = {"X-Shopify-Topic": "fixed", "Authorization": "Bearer wms-token", "webhook-id": "x"}
    out = build_request(claimed(subscriber_headers=static), ("x-shopify-topic",), LINKS, NOW)
    assert out.headers["X-Shopify-Topic"] == "fixed"
    assert "x-shopify-topic" not in out.headers
    assert out.headers["Authorization"] == "Bearer wms-token"
    assert out.headers["webhook-id"] == "evt_1"


def test_the_event_type_and_source_travel_in_gateway_headers() -> None:
    out = build_request(claimed(), (), LINKS, NOW)
    assert out.headers["x-gateway-event-type"] == "orders/create"
    assert out.headers["x-gateway-source"] == "shop"
    assert out.headers["x-gateway-delivery-id"] == "dlv_1"


def _verify(secret: str, body: bytes, headers: dict[str, str]) -> Any:
    return Webhook(secret).verify(body, headers)


def test_during_a_rotation_both_secrets_verify() -> None:
    old, new = new_secret(), new_secret()
    now = datetime.now(UTC)  # the receiver checks the timestamp against its own clock
    c = claimed(
        secret=new, previous_secret=old, previous_secret_expires_at=now + timedelta(hours=1)
    )
    out = build_request(c, (), LINKS, now)
    assert len(out.headers["webhook-signature"].split()) == 2
    assert _verify(new, out.body, out.headers)["id"] == 1042
    assert _verify(old, out.body, out.headers)["id"] == 1042


def test_an_expired_previous_secret_no_longer_signs() -> None:
    old, new = new_secret(), new_secret()
    now = datetime.now(UTC)
    c = claimed(secret=new, previous_secret=old, previous_secret_expires_at=now - timedelta(1))
    out = build_request(c, (), LINKS, now)
    assert len(out.headers["webhook-signature"].split()) == 1


def test_a_thin_payload_is_an_envelope_with_a_signed_link() -> None:
    c = claimed(payload_mode="thin")
    out = build_request(c, (), LINKS, datetime.now(UTC))
    envelope = orjson.loads(out.body)
    assert set(envelope) == {"id", "type", "source", "received_at", "size", "url"}
    assert (envelope["id"], envelope["type"], envelope["size"]) == ("evt_1", "orders/create", 37)
    assert envelope["url"].startswith("https://hooks.example.com/payloads/v1/evt_1?expires=")
    assert out.headers["Content-Type"] == "application/json"
    assert out.headers["x-gateway-payload"] == "thin"
    assert _verify(c.secret, out.body, out.headers)["id"] == "evt_1"


def test_a_body_above_the_threshold_goes_thin_and_one_below_goes_whole() -> None:
    assert build_request(claimed(thin_above_bytes=10), (), LINKS, NOW).body != BODY
    assert build_request(claimed(thin_above_bytes=len(BODY)), (), LINKS, NOW).body == BODY
