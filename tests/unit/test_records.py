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


class Row(tuple):  # type: ignore[type-arg]
    """As asyncpg hands rows over: values by position, with the query's column names."""

    columns: tuple[str, ...] = ()

    def keys(self) -> tuple[str, ...]:
        return self.columns


def rows_of(*dicts: dict[str, object]) -> list[Row]:
    columns = tuple(dicts[0])
    made = []
    for values in dicts:
        row = Row(values[c] for c in columns)
        row.columns = columns
        made.append(row)
    return made


def test_rows_of_one_query_make_the_same_records_as_one_row_at_a_time() -> None:
    dicts = [
        {"subscriber_id": "sub_1", **ROW, "state": "open", "consecutive_failures": 3},
        {"subscriber_id": "sub_2", **ROW, "state": "half_open", "consecutive_failures": 5},
    ]

    circuits = Circuit.from_rows(rows_of(*dicts))

    assert circuits == [Circuit.from_row(d) for d in dicts]
    assert [c.state for c in circuits] == ["open", "half_open"]


def test_rows_lacking_a_field_are_refused_naming_the_field() -> None:
    row = {k: v for k, v in ROW.items() if k != "state"} | {"circuit_state": "open"}
    with pytest.raises(TypeError, match="Circuit: the rows have no state"):
        Circuit.from_rows(rows_of(row))
