"""What a transform answers, read into the request to send (or none), and that request
built and signed over what is sent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.delivery.request import build_request
from gateway.delivery.signer import sign
from gateway.delivery.transforms import Cancel, Failure, Reshaped, read_output
from testkit.factories import claimed_delivery

INBOUND = {"content-type": "application/json", "x-shopify-topic": "orders/create"}


def read(output: Any) -> Reshaped | Cancel:
    return read_output(output, INBOUND, 1024)


def test_a_json_body_is_sent_as_json_and_a_string_as_it_is() -> None:
    assert read({"body": {"a": 1}}) == Reshaped(body=b'{"a":1}', content_type="application/json")
    assert read({"body": "<a/>", "content_type": "application/xml"}) == Reshaped(
        body=b"<a/>", content_type="application/xml"
    )
    assert read({"body": "plain"}).content_type == "text/plain; charset=utf-8"  # type: ignore[union-attr]


def test_a_request_handed_back_unchanged_sends_the_events_body_and_adds_no_inbound_header() -> None:
    request = {"type": "t", "source": "s", "id": "e", "headers": dict(INBOUND), "body": {}}
    assert read({**request, "headers": {**INBOUND, "X-Wms": "1"}}) == Reshaped(
        body=b"{}", content_type="application/json", headers={"X-Wms": "1"}
    )
    assert read({"headers": {"x-extra": "2"}}) == Reshaped(headers={"x-extra": "2"})


def test_cancel_true_means_do_not_send() -> None:
    assert read({"cancel": True}) == Cancel()
    assert isinstance(read({"cancel": False, "body": 1}), Reshaped)


def test_the_path_and_query_are_added_to_the_subscribers_url() -> None:
    reshaped = read({"path": "/orders/10 01", "query": {"a": 1, "b": True}})
    assert isinstance(reshaped, Reshaped)
    assert reshaped.url("https://wms.example.com/hook/?k=v") == (
        "https://wms.example.com/hook/orders/10%2001?k=v&a=1&b=true"
    )
    assert read({"query": "?x=1&y=2"}).url("https://w.example/h") == "https://w.example/h?x=1&y=2"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (
            None,
            "the handler must return the request (an object), or {cancel: true}; it returned null",
        ),
        (
            [1],
            "the handler must return the request (an object), or {cancel: true}; it returned an array",
        ),
        ({"bdy": 1}, "the handler returned unknown keys: bdy"),
        ({"cancel": "yes"}, "cancel must be true or false, not a string"),
        ({"headers": {"webhook-signature": "v1,x"}}, "header 'webhook-signature' is the gateway's"),
        ({"headers": {"Content-Length": "1"}}, "header 'Content-Length' is the gateway's"),
        ({"headers": {"x-a": "1\r\nx-b: 2"}}, "header 'x-a' must be a string on one line"),
        ({"headers": {"x a": "1"}}, "'x a' is not a header name"),
        ({"headers": {"x-a": 1}}, "header 'x-a' must be a string on one line"),
        ({"path": "orders"}, "path must be a string starting with /"),
        ({"path": "/a/../admin"}, "path must not hold . or .. segments"),
        ({"query": [1]}, "query must be an object"),
        ({"query": {"a": {"b": 1}}}, "query 'a' must be a string, number or boolean"),
        ({"body": "x" * 2000}, "its body is 2000 bytes, over the bound of 1024"),
        ({"content_type": "a\nb"}, "content_type must be a media type"),
    ],
)
def test_an_answer_that_cannot_be_sent_fails_saying_why(output: Any, message: str) -> None:
    with pytest.raises(Failure) as caught:
        read(output)
    assert caught.value.message.startswith(message)


def test_the_transformed_request_is_signed_over_its_own_body_and_keeps_the_gateways_headers() -> (
    None
):
    now = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    claimed = claimed_delivery(now, subscriber_headers={"X-Static": "s", "X-Wms": "static"})
    reshaped = Reshaped(body=b'{"n":1}', content_type="application/vnd.wms+json",
                        headers={"X-Wms": "from-transform"})  # fmt: skip
    request = build_request(claimed, (), None, now, reshaped)
    assert request.body == b'{"n":1}'
    assert request.headers["Content-Type"] == "application/vnd.wms+json"
    assert request.headers["X-Wms"] == "from-transform"
    assert request.headers["X-Static"] == "s"
    timestamp = int(now.timestamp())
    expected = sign(claimed.secret, claimed.event_id, timestamp, b'{"n":1}')
    assert request.headers["webhook-signature"] == expected


def test_a_transform_that_only_adds_headers_sends_the_events_bytes_as_they_came() -> None:
    now = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    claimed = claimed_delivery(now, body=b'{ "spaced" : 1 }', content_type="application/json")
    request = build_request(claimed, (), None, now, Reshaped(headers={"X-A": "1"}))
    assert request.body == b'{ "spaced" : 1 }'
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-A"] == "1"
