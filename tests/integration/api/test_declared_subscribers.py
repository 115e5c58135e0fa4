"""Subscribers from the config file are reconciled into the database at start."""

from __future__ import annotations

import msgspec
import pytest

from gateway.config import Config, ConfigError, SubscriberConfig
from gateway.delivery.signer import new_secret
from gateway.domain.transform import Transform
from gateway.runtime.reconcile import reconcile_config, reconcile_declared_subscribers
from gateway.store import subscribers as store
from gateway.store.database import Database
from testkit.factories import subscriber

SECRET = new_secret()


def _config(*subs: SubscriberConfig) -> Config:
    return msgspec.structs.replace(Config(), subscribers=subs)


async def test_declared_subscribers_are_created_then_updated_in_place(db: Database) -> None:
    wms = SubscriberConfig(
        name="wms", url="http://127.0.0.1:9/a", secret=SECRET, event_types=("orders/*",)
    )
    await reconcile_declared_subscribers(_config(wms), db)
    [created] = await store.list_subscribers(db, after=None, limit=10)
    await reconcile_declared_subscribers(
        _config(msgspec.structs.replace(wms, url="http://127.0.0.1:9/b")), db
    )
    [updated] = await store.list_subscribers(db, after=None, limit=10)
    assert created.managed_by == "config"
    assert updated.id == created.id
    assert updated.url == "http://127.0.0.1:9/b"
    assert updated.event_types == ["orders/*"]


async def test_a_declared_transform_is_stored_and_a_changed_one_replaces_it(db: Database) -> None:
    first = Transform(source="function handler(r) { return {body: 1} }")
    wms = SubscriberConfig(name="wms", url="http://127.0.0.1:9/a", secret=SECRET, transform=first)
    await reconcile_declared_subscribers(_config(wms), db)
    [created] = await store.list_subscribers(db, after=None, limit=10)
    second = Transform(source="function handler(r) { return {body: 2} }")
    await reconcile_declared_subscribers(
        _config(msgspec.structs.replace(wms, transform=second)), db
    )
    [updated] = await store.list_subscribers(db, after=None, limit=10)
    assert created.transform == first
    assert updated.transform == second
    assert updated.transform is not None and updated.transform.version != first.version


async def test_a_subscriber_removed_from_the_file_is_disabled_and_comes_back(db: Database) -> None:
    wms = SubscriberConfig(name="wms", url="http://127.0.0.1:9/a", secret=SECRET)
    await reconcile_declared_subscribers(_config(wms), db)
    await reconcile_declared_subscribers(_config(), db)
    [gone] = await store.list_subscribers(db, after=None, limit=10)
    await reconcile_declared_subscribers(_config(wms), db)
    [back] = await store.list_subscribers(db, after=None, limit=10)
    assert (gone.state, gone.state_reason) == ("disabled", "removed from the config file")
    assert (back.state, back.state_reason) == ("active", None)


async def test_a_declared_name_taken_through_the_api_is_a_config_error(db: Database) -> None:
    await subscriber(db, "wms")
    with pytest.raises(ConfigError, match="managed through the API"):
        await reconcile_config(
            _config(SubscriberConfig(name="wms", url="http://127.0.0.1:9/a", secret=SECRET)), db
        )


async def test_a_declared_subscriber_is_read_only_through_the_api(db: Database, api, token) -> None:  # type: ignore[no-untyped-def]
    from testkit.tokens import bearer

    await reconcile_declared_subscribers(
        _config(SubscriberConfig(name="wms", url="http://127.0.0.1:9/a", secret=SECRET)), db
    )
    [declared] = await store.list_subscribers(db, after=None, limit=10)
    headers = bearer(token("admin"))
    patch = await api.patch(
        f"/api/v1/subscribers/{declared.id}", json={"url": "http://127.0.0.1:9/b"}, headers=headers
    )
    delete = await api.delete(f"/api/v1/subscribers/{declared.id}", headers=headers)
    rotate = await api.post(f"/api/v1/subscribers/{declared.id}/secret/rotate", headers=headers)
    pause = await api.post(f"/api/v1/subscribers/{declared.id}/pause", headers=headers)
    assert (patch.status, delete.status, rotate.status) == (409, 409, 409)
    assert (await patch.json())["type"].endswith("managed-by-config")
    assert pause.status == 200  # operating it is fine; its definition lives in the file
