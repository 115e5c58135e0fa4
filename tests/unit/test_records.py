"""Records built from rows: every field the record names must come from the row."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.store.records import Circuit

ROW = {f.name: f.default for f in dataclasses.fields(Circuit)}


def test_a_row_with_every_field_makes_the_record_and_extra_columns_are_left_out() -> None:
    row = {**ROW, "state": "half_open", "consecutive_failures": 4, "subscriber_id": "sub_1"}
    circuit = Circuit.from_row(row)
    assert (circuit.state, circuit.consecutive_failures) == ("half_open", 4)


def test_a_row_lacking_a_field_with_a_default_is_refused_naming_the_field() -> None:
    row = {k: v for k, v in ROW.items() if k != "state"} | {"circuit_state": "open"}
    with pytest.raises(TypeError, match="Circuit: the row has no state"):
        Circuit.from_row(row)
