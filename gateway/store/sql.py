"""Load ``queries.sql`` once: every runtime statement, by name."""

from __future__ import annotations

import re
from importlib import resources

__all__ = ["QUERIES", "parse_queries"]

_NAME = re.compile(r"^-- name: (?P<name>\w+)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    """Split ``-- name: x`` blocks into {name: statement}; names must be unique."""
    queries: dict[str, str] = {}
    matches = list(_NAME.finditer(text))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(text)
        body = text[match.end() : end].strip()
        name = match.group("name")
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        if not body:
            raise ValueError(f"query {name!r} is empty")
        queries[name] = body
    return queries


QUERIES = parse_queries(resources.files(__package__).joinpath("queries.sql").read_text())
