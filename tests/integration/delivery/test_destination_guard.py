"""Delivery reads a subscriber's URL as registration does: whatever reached the database
without registration (an older version, a restore, a hand edit) is judged again, and a
destination registration would refuse never gets a connection."""

from __future__ import annotations

import secrets

import pytest

from gateway.delivery.ssrf import AddressPolicy
from gateway.store.database import Database
from testkit.factories import event, store_events, subscriber
from testkit.polling import until
from tests.integration.delivery.api import admin_client, auth
from tests.integration.delivery.conftest import (
    FAST,
    StartDispatcher,
    StartSubscriber,
    delivery_config,
)

CLOSED = delivery_config(allowed_private_cidrs=(), max_attempts=1)
LOOPBACK_OPEN = delivery_config(max_attempts=1)
assert LOOPBACK_OPEN.allowed_private_cidrs == ("127.0.0.0/8",)

CARRYING_LOOPBACK = {
    "IPv4-compatible": "[::127.0.0.1]",
    "SIIT IPv4-translated": "[::ffff:0:7f00:1]",
    "IPv4-mapped": "[::ffff:127.0.0.1]",
    "NAT64": "[64:ff9b::7f00:1]",
    "local NAT64": "[64:ff9b:1::7f00:1]",
    "6to4": "[2002:7f00:1::]",
}
NOT_CANONICAL = ["127.1", "0177.0.0.1", "2130706433", "0x7f.0.0.1", "127.0.0.1."]


async def _attempt(db: Database) -> dict[str, object]:
    async def recorded() -> bool:
        return bool(await db.pool.fetchval("SELECT count(*) FROM delivery_attempts"))

    await until(recorded)
    row = await db.pool.fetchrow("SELECT outcome, error FROM delivery_attempts")
    assert row is not None
    return dict(row)


@pytest.mark.parametrize("host", CARRYING_LOOPBACK.values(), ids=CARRYING_LOOPBACK)
async def test_a_stored_subscriber_on_a_form_carrying_loopback_is_never_connected(
    db: Database,
    start_dispatcher: StartDispatcher,
    start_subscriber: StartSubscriber,
    host: str,
) -> None:
    sink = await start_subscriber()
    await subscriber(db, url=f"http://{host}:{sink.port}/hook")
    await store_events(db, [event("o-1")])
    await start_dispatcher(CLOSED)

    attempt = await _attempt(db)
    assert attempt["outcome"] == "blocked", attempt
    assert "delivery.allowed_private_cidrs" in str(attempt["error"])
    assert sink.arrivals == []


@pytest.mark.parametrize("host", NOT_CANONICAL)
async def test_a_stored_subscriber_on_a_non_canonical_address_is_never_connected(
    db: Database,
    start_dispatcher: StartDispatcher,
    start_subscriber: StartSubscriber,
    host: str,
) -> None:
    sink = await start_subscriber()
    await subscriber(db, url=f"http://{host}:{sink.port}/hook")
    await store_events(db, [event("o-1")])
    await start_dispatcher(LOOPBACK_OPEN)  # the range is open: only the spelling is wrong

    attempt = await _attempt(db)
    assert attempt == {
        "outcome": "blocked",
        "error": f"host {host} is not a canonical IPv4 address; write 127.0.0.1",
    }
    assert sink.arrivals == []


async def test_a_subscriber_registered_on_ipv4_mapped_loopback_gets_its_delivery(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    """Opening 127.0.0.0/8 opens its IPv4-mapped form too, and the connection goes there."""
    sink = await start_subscriber()
    api = await admin_client(db, AddressPolicy(FAST.allowed_private_cidrs))
    try:
        body = {
            "name": f"wms-{secrets.token_hex(4)}",
            "url": f"http://[::ffff:127.0.0.1]:{sink.port}/hook",
        }
        async with api.post("/api/v1/subscribers", json=body, headers=auth()) as r:
            assert r.status == 201, await r.text()
    finally:
        await api.close()
    await store_events(db, [event("o-1")])
    await start_dispatcher(LOOPBACK_OPEN)

    [arrival] = await sink.wait_for(1)
    assert arrival.headers["Host"] == f"[::ffff:7f00:1]:{sink.port}"
