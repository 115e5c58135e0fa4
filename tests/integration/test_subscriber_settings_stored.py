"""A subscriber's settings go into the store and come back as they were set, whichever way
they are written: created, changed, or declared in the config file."""

from __future__ import annotations

import msgspec

from gateway.domain.subscriber import SubscriberSettings
from gateway.store import subscribers as store
from gateway.store.database import Database
from gateway.store.reconcile import reconcile_subscribers
from gateway.store.records import Subscriber

SECRET = "whsec_" + "A" * 32
FIELDS = [f.name for f in msgspec.structs.fields(SubscriberSettings)]
EVERY_SETTING = SubscriberSettings(
    name="wms",
    url="https://wms.example/hook",
    description="the warehouse",
    sources=["shop"],
    event_types=["orders/*"],
    headers={"X-Tenant": "7"},
    timeout_seconds=12.5,
    max_attempts=4,
    backoff_base_seconds=2.0,
    backoff_cap_seconds=60.0,
    max_in_flight=8,
    rate_limit_per_second=3.5,
    ordered=True,
    https_only=True,
    forward_headers=["X-Shopify-Topic"],
    retry_schedule=[1.0, 5.0],
    max_age_seconds=3600.0,
    rate_limit_burst=7,
    payload_mode="thin",
    thin_above_bytes=1024,
    filter={"body": {"total_price": {"$gte": 100}}, "type": {"$neq": "orders/cancelled"}},
    proxy="corp",
    tls="wms-mtls",
)


def settings_of(sub: Subscriber) -> SubscriberSettings:
    return SubscriberSettings(**{name: getattr(sub, name) for name in FIELDS})


async def test_every_setting_is_stored_as_created_and_as_changed(db: Database) -> None:
    created = await store.create_subscriber(
        db, SubscriberSettings(name="a", url="http://x/y"), secret=SECRET
    )
    changed = await store.update_subscriber(
        db, created.id, EVERY_SETTING, state="paused", state_reason="by hand"
    )
    read = await store.get_subscriber(db, created.id)
    assert settings_of(changed) == settings_of(read) == EVERY_SETTING
    assert (read.state, read.state_reason, read.secret) == ("paused", "by hand", SECRET)


async def test_every_setting_of_a_declared_subscriber_is_stored_and_follows_the_file(
    db: Database,
) -> None:
    await reconcile_subscribers(
        db, [(SubscriberSettings(name="wms", url="http://x/y"), "whsec_old")]
    )
    await reconcile_subscribers(db, [(EVERY_SETTING, SECRET)])
    [declared] = await store.list_subscribers(db, after=None, limit=10)
    assert settings_of(declared) == EVERY_SETTING
    assert (declared.secret, declared.managed_by) == (SECRET, "config")
