"""``queries.sql`` stores a subscriber's settings in the columns its one Struct names.

The column lists of the subscriber statements are read from the SQL and held to
``SubscriberSettings``' fields: a setting added to the Struct but not to a statement (or
in another order than the store passes its values) fails here, not in production.
"""

from __future__ import annotations

import re
import typing

import msgspec

from gateway.domain.subscriber import SubscriberSettings
from gateway.store.records import ClaimedDelivery
from gateway.store.sql import QUERIES
from gateway.store.subscribers import STORED

SETTINGS = [f.name for f in msgspec.structs.fields(SubscriberSettings)]
INSERT = re.compile(
    r"INSERT INTO subscribers \((?P<columns>[^)]*)\)\s*VALUES \((?P<values>[^)]*)\)"
)
SECRETS = {"secret", "previous_secret", "previous_secret_expires_at"}
# Claimed deliveries name two settings after the subscriber, beside the event's own.
RENAMED = {"name": "subscriber_name", "headers": "subscriber_headers"}


def words(text: str) -> list[str]:
    return [word.strip() for word in text.split(",")]


def placeholders(first: int, count: int) -> list[str]:
    return [f"${n}" for n in range(first, first + count)]


def insert(query: str) -> tuple[list[str], list[str]]:
    match = INSERT.search(QUERIES[query])
    assert match is not None, query
    return words(match.group("columns")), words(match.group("values"))


def test_the_stored_columns_are_the_settings_in_order_then_what_the_store_derives() -> None:
    assert list(STORED) == [*SETTINGS, "event_type_likes", "filter_path"]


def test_insert_subscriber_takes_the_settings_in_the_structs_order() -> None:
    columns, values = insert("insert_subscriber")
    assert columns == ["id", "secret", "managed_by", *STORED]
    assert values == placeholders(1, len(columns))


def test_update_subscriber_sets_every_setting_in_the_structs_order() -> None:
    query = QUERIES["update_subscriber"]
    assignments = query[query.index("SET") : query.index("WHERE")]
    assigned = re.findall(r"(\w+) = \$(\d+)", assignments)
    expected = ["state", "state_reason", *STORED]
    assert [column for column, _ in assigned] == expected
    assert [int(n) for _, n in assigned] == list(range(2, 2 + len(expected)))
    assert re.search(r"WHERE id = \$1\b", query)


def test_upsert_config_subscriber_stores_and_updates_every_setting() -> None:
    columns, values = insert("upsert_config_subscriber")
    assert columns == ["id", "secret", "managed_by", *STORED]
    assert values == ["$1", "$2", "'config'", *placeholders(3, len(STORED))]
    updated = re.findall(r"(\w+) = EXCLUDED\.(\w+)", QUERIES["upsert_config_subscriber"])
    assert all(column == value for column, value in updated)
    # The name is what a declared subscriber is found by; everything else follows the file.
    assert sorted(column for column, _ in updated) == sorted({"secret", *STORED} - {"name"})


def claimed_subscriber_columns() -> dict[str, str]:
    """The subscriber's columns the claim selects: column -> the record field it fills."""
    query = QUERIES["claim_deliveries"]
    select = query[query.rindex("SELECT c.id") : query.rindex("FROM claimed")]
    return {
        column: alias or column for column, alias in re.findall(r"\bs\.(\w+)(?: AS (\w+))?", select)
    }


def test_the_claim_selects_subscriber_settings_into_the_fields_named_after_them() -> None:
    selected = claimed_subscriber_columns()
    record = typing.get_type_hints(ClaimedDelivery)
    settings = typing.get_type_hints(SubscriberSettings)  # constraints left out
    for column, field in selected.items():
        assert column in settings or column in SECRETS, column
        assert field == RENAMED.get(column, column)
        assert field in record, field
        if column in settings:
            assert record[field] == settings[column], field


def test_every_setting_a_claimed_delivery_holds_comes_from_the_subscribers_row() -> None:
    selected = set(claimed_subscriber_columns())
    held = [
        name
        for name in SETTINGS
        if RENAMED.get(name, name) in typing.get_type_hints(ClaimedDelivery)
    ]
    assert len(held) >= 10
    assert set(held) <= selected
