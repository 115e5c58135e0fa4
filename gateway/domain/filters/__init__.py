"""Filters on content: which events a subscriber takes, by their body, headers and type.

A filter is written in the JSON operator syntax of Convoy and Outpost (see the README's
"Filters"). :func:`parse_filter` reads and checks it (:class:`Invalid` names where the
first error is); :func:`to_jsonpath` compiles it for PostgreSQL, which routes each event
by it as the event is stored; :func:`holds` and :func:`explain` are the same rules in
Python, which say on an event's page why a subscriber did not get it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.domain.filters.document import filter_document, read_jsonb
from gateway.domain.filters.evaluate import holds
from gateway.domain.filters.explain import describe, explain
from gateway.domain.filters.jsonpath import VARIABLES, to_jsonpath
from gateway.domain.filters.syntax import Filter, parse_filter

__all__ = [
    "VARIABLES",
    "Filter",
    "as_stored",
    "compile_filter",
    "describe",
    "explain",
    "filter_document",
    "holds",
    "parse_filter",
    "read_jsonb",
    "to_jsonpath",
]


def compile_filter(raw: Mapping[str, Any] | None) -> str | None:
    """The stored form of a filter as written: its path predicate, ``None`` for none.

    The predicate is compiled from the filter as PostgreSQL stores it (``jsonb`` orders
    an object's keys: :func:`as_stored`), so that the filter read back from the
    database compiles to the same path (the ingress checks it before judging by it).
    """
    if raw is None:
        return None
    node = parse_filter(as_stored(raw))
    return None if node is None else to_jsonpath(node)


def as_stored(raw: Any) -> Any:
    """``raw`` with every object's keys in the order ``jsonb`` keeps them: the shorter
    first, then by their UTF-8 bytes. The tests of an ``$and`` hold in any order."""
    if isinstance(raw, Mapping):
        return {key: as_stored(raw[key]) for key in sorted(raw, key=_stored_order)}
    if isinstance(raw, list):
        return [as_stored(item) for item in raw]
    return raw


def _stored_order(key: str) -> tuple[int, bytes]:
    encoded = key.encode("utf-8", "surrogatepass")
    return len(encoded), encoded
