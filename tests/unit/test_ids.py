"""Identifiers: prefixed, fixed length, sortable by creation time, unique."""

from __future__ import annotations

import re
import time

from gateway.domain.ids import new_id

SHAPE = re.compile(r"^evt_[0-9a-f]{28}$")


def test_an_id_carries_its_prefix_and_a_fixed_length_hex_body() -> None:
    event_id = new_id("evt")
    assert SHAPE.match(event_id), event_id
    assert len(event_id) == len("evt_") + 28


def test_the_prefix_is_whatever_the_caller_names() -> None:
    assert new_id("sub").startswith("sub_")
    assert new_id("dlv").startswith("dlv_")


def test_the_time_part_is_the_creation_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    millis = int(new_id("evt")[4:16], 16)
    after = time.time_ns() // 1_000_000
    assert before <= millis <= after


def test_an_id_made_later_sorts_after_one_made_earlier() -> None:
    ids = []
    for _ in range(5):
        ids.append(new_id("evt"))
        time.sleep(0.002)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ten_thousand_ids_are_all_different() -> None:
    ids = [new_id("evt") for _ in range(10_000)]
    assert len(set(ids)) == 10_000
    assert len({i[16:] for i in ids}) == 10_000
