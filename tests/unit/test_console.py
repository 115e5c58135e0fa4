"""The console's pure parts: chart geometry, the p99 estimate, cookies, what is shown."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, Histogram
from standardwebhooks.webhooks import Webhook

from gateway.console.figures import HEIGHT, LEFT, RIGHT, WIDTH, chart, histogram_quantile
from gateway.console.render import mark_masked, pretty_body
from gateway.console.session import Session, SessionKeys
from gateway.delivery.ping import PING_TYPE, ping_delivery
from gateway.delivery.request import build_request
from gateway.delivery.signer import new_secret
from gateway.store.console import Minute
from gateway.store.records import Subscriber


def _minutes(values: list[tuple[int, int]]) -> list[Minute]:
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    return [
        Minute(start + timedelta(minutes=i), received, received, delivered)
        for i, (received, delivered) in enumerate(values)
    ]


def test_the_chart_spans_the_drawing_and_scales_to_a_round_maximum() -> None:
    drawn = chart(_minutes([(0, 0)] * 59 + [(37, 20)]))
    received, delivered = drawn.lines
    points = [tuple(map(float, p.split(","))) for p in received.points.split()]
    assert len(points) == 60
    assert points[0][0] == LEFT
    assert points[-1][0] == WIDTH - RIGHT
    assert [label for _, label in drawn.y_ticks] == ["0", "25", "50"]
    assert (received.total, delivered.total) == (37, 20)
    assert min(y for _, y in points) > 0
    assert max(y for _, y in points) < HEIGHT
    assert [(label, anchor) for _, label, anchor in drawn.x_ticks] == [
        ("12:00", "start"),
        ("12:15", "middle"),
        ("12:30", "middle"),
        ("12:45", "middle"),
        ("12:59", "end"),
    ]


def test_an_idle_hour_still_draws_an_axis() -> None:
    drawn = chart(_minutes([(0, 0)] * 60))
    assert [label for _, label in drawn.y_ticks] == ["0", "1"]


def test_the_p99_interpolates_within_its_bucket_across_every_series() -> None:
    histogram = Histogram(
        "h", "h", ["source"], buckets=(0.01, 0.1, 1.0), registry=CollectorRegistry()
    )
    assert histogram_quantile(0.99, histogram) == (None, 0)
    for _ in range(90):
        histogram.labels("a").observe(0.005)
    for _ in range(10):
        histogram.labels("b").observe(0.05)
    value, count = histogram_quantile(0.99, histogram)
    assert count == 100
    assert value == pytest.approx(0.01 + 0.09 * 0.9)
    histogram.labels("b").observe(30)
    assert histogram_quantile(1.0, histogram)[0] == 1.0  # beyond the last bucket


def test_a_sealed_session_opens_only_untouched_and_unexpired() -> None:
    keys = SessionKeys(b"k" * 32)
    session = Session(nonce="n1", token="t", expires=int(time.time()) + 60)
    sealed = keys.seal(session)
    assert keys.open(sealed) == session
    assert keys.open(sealed[:-1] + ("A" if sealed[-1] != "A" else "B")) is None
    assert SessionKeys(b"x" * 32).open(sealed) is None
    assert keys.open(keys.seal(Session(nonce="n1", expires=int(time.time()) - 1))) is None
    assert keys.open("garbage") is None


def test_the_csrf_token_belongs_to_one_session() -> None:
    keys = SessionKeys(b"k" * 32)
    mine, theirs = Session(nonce="a"), Session(nonce="b")
    assert keys.check_csrf(mine, keys.csrf_token(mine))
    assert not keys.check_csrf(mine, keys.csrf_token(theirs))
    assert not keys.check_csrf(mine, None)


def test_bodies_are_shown_pretty_as_text_or_not_at_all() -> None:
    assert pretty_body(b'{"a":[1]}') == ("json", '{\n  "a": [\n    1\n  ]\n}')
    assert pretty_body(b"a=1&b=<x>") == ("text", "a=1&b=<x>")
    assert pretty_body(b"\xff\xfe") == ("binary", "2 bytes of binary content (not shown)")


def test_masked_values_are_highlighted_and_everything_else_escaped() -> None:
    marked = mark_masked('{"email": "[redacted]", "x": "<b>"}')
    assert marked == (
        '{&#34;email&#34;: <mark class="masked">&#34;[redacted]&#34;</mark>, '
        "&#34;x&#34;: &#34;&lt;b&gt;&#34;}"
    )


def test_a_ping_is_signed_like_a_delivery_with_every_valid_secret() -> None:
    now = datetime.now(UTC)
    current, previous = new_secret(), new_secret()
    sub = Subscriber(
        id="sub_1", name="wms", url="http://127.0.0.1:9/hook", description=None,
        secret=current, previous_secret=previous,
        previous_secret_expires_at=now + timedelta(hours=1), sources=[], event_types=[],
        headers={"X-Tenant": "7"}, timeout_seconds=None, max_attempts=None,
        backoff_base_seconds=None, backoff_cap_seconds=None, max_in_flight=None,
        rate_limit_per_second=None, ordered=False, state="active", state_reason=None,
        managed_by="api", created_at=now, updated_at=now,
    )  # fmt: skip
    outbound = build_request(ping_delivery(sub, now), (), None, now)
    assert outbound.headers["webhook-id"].startswith("ping_")
    assert outbound.headers["x-gateway-event-type"] == PING_TYPE
    assert outbound.headers["X-Tenant"] == "7"
    assert len(outbound.headers["webhook-signature"].split()) == 2
    for secret in (current, previous):
        assert Webhook(secret).verify(outbound.body, outbound.headers)["type"] == PING_TYPE
