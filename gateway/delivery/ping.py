"""A test event for a subscriber: a signed ``ping`` sent once, now, and nothing stored.

It goes out exactly like a delivery (same signature set, static headers, SSRF guard and
timeout, proxy and TLS profile), so an answer of 2xx means real deliveries would be
accepted too. Its
``webhook-id`` starts with ``ping_``, so a subscriber can tell it from a real event. A
subscriber that delivers into a broker gets the ping published there, on a connection
of its own, so a confirm means the broker takes its messages.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from gateway import __version__
from gateway.brokers.config import Broker
from gateway.config import ConfigError, DeliveryConfig
from gateway.config.egress import EgressConfig
from gateway.delivery.client import OutboundClient
from gateway.delivery.destinations import Destinations, Stopwatch
from gateway.delivery.egress import Egress
from gateway.delivery.request import build_request
from gateway.delivery.ssrf import AddressPolicy
from gateway.domain.ids import new_id
from gateway.store.records import AttemptResult, ClaimedDelivery, Subscriber

__all__ = ["PING_TYPE", "ping_delivery", "send_ping"]

PING_TYPE = "webhook-gateway.ping"


def ping_delivery(sub: Subscriber, now: datetime) -> ClaimedDelivery:
    """A one-off delivery of a ping event to ``sub``, as if it had been claimed."""
    ping_id = new_id("ping")
    body = orjson.dumps(
        {"type": PING_TYPE, "id": ping_id, "subscriber_id": sub.id, "sent_at": now.isoformat()}
    )
    return ClaimedDelivery(
        id=ping_id,
        event_id=ping_id,
        subscriber_id=sub.id,
        subscriber_name=sub.name,
        attempts=1,
        total_attempts=1,
        source="gateway",
        event_type=PING_TYPE,
        received_at=now,
        content_type="application/json",
        body=body,
        url=sub.url,
        destination=sub.destination,
        secret=sub.secret,
        previous_secret=sub.previous_secret,
        previous_secret_expires_at=sub.previous_secret_expires_at,
        subscriber_headers=sub.headers,
        timeout_seconds=sub.timeout_seconds,
        max_attempts=1,
        backoff_base_seconds=None,
        backoff_cap_seconds=None,
        https_only=sub.https_only,
        forward_headers=[],
    )


async def send_ping(
    sub: Subscriber,
    policy: AddressPolicy,
    config: DeliveryConfig,
    client: OutboundClient | None = None,
    brokers: tuple[Broker, ...] = (),
    egress: EgressConfig | None = None,
) -> AttemptResult:
    """Send one signed ping to ``sub`` and return how the attempt went (never raises for
    network, HTTP or broker failures). Without ``client`` a short-lived one is used; a
    broker is connected to for the ping alone."""
    now = datetime.now(UTC)
    claimed = ping_delivery(sub, now)
    outbound = build_request(claimed, (), None, now)
    timeout = sub.timeout_seconds or config.timeout_seconds
    if sub.destination is not None:
        destinations = Destinations(None, brokers, config)
        try:
            return await destinations.sender(claimed).send(claimed, outbound, timeout)
        finally:
            await destinations.close()
    assert sub.url is not None
    own = client is None
    try:
        routes = Egress(egress) if own else None  # the TLS profiles' files as they are now
    except ConfigError as exc:
        return Stopwatch().result("tls_error", f"TLS: {exc.key}: {exc.reason}")
    http = client or OutboundClient(
        policy,
        egress=routes,
        max_connections=1,
        connect_timeout=config.connect_timeout_seconds,
        snippet_bytes=config.response_snippet_bytes,
        user_agent=f"{config.user_agent}/{__version__}",
    )
    try:
        return await http.post(
            sub.url,
            outbound.body,
            outbound.headers,
            timeout,
            https_only=sub.https_only,
            proxy=sub.proxy,
            tls=sub.tls,
        )
    finally:
        if own:
            await http.close()
