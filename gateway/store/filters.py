"""The content filters in force, as the ingress judges events by them."""

from __future__ import annotations

import json
from decimal import Decimal

from gateway.domain.filters import parse_filter, to_jsonpath
from gateway.domain.filters.judge import FilterInForce
from gateway.store.database import Database

__all__ = ["filters_in_force"]


async def filters_in_force(db: Database) -> list[FilterInForce]:
    """Every filter of a subscriber that is not disabled, with its version, compiled.

    The filter is read as stored, numbers exactly. One that this code does not compile
    to the very path stored beside it (stored by another version of the gateway, say) is
    listed without its tree: the ingress gives no verdicts by it, and PostgreSQL
    evaluates the stored path.
    """
    rows = await db.fetch("filters_in_force")
    nodes = []
    for row in rows:
        try:
            nodes.append(parse_filter(json.loads(row["filter"], parse_float=Decimal)))
        except ValueError:  # Invalid too
            nodes.append(None)
    compiled = [None if node is None else to_jsonpath(node) for node in nodes]
    printed = await db.fetchval("printed_jsonpaths", [c or "$" for c in compiled])
    return [
        FilterInForce(
            row["id"],
            row["filter_version"],
            tuple(row["sources"]),
            node if node is not None and text == row["filter_path"] else None,
        )
        for row, node, text in zip(rows, nodes, printed, strict=True)
    ]
