"""``queries.sql``: the loader, and every query name the code uses exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import gateway
from gateway.store.sql import QUERIES, parse_queries

PACKAGE = Path(gateway.__file__).parent

# QUERIES["name"] and db.fetch("name" / fetchrow / fetchval, even across a line break.
USED_NAME = re.compile(r"""(?:\bQUERIES\[|\.fetch(?:row|val)?\()\s*["'](\w+)["']""")


def used_query_names(root: Path) -> dict[str, list[str]]:
    """Every query name referenced under ``root``, with where it is referenced."""
    used: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for match in USED_NAME.finditer(path.read_text()):
            used.setdefault(match.group(1), []).append(str(path.relative_to(PACKAGE.parent)))
    return used


def test_blocks_are_split_by_name_and_stripped() -> None:
    text = """
-- name: first
SELECT 1;

-- name: second
SELECT *
FROM events
WHERE id = $1;
"""
    assert parse_queries(text) == {
        "first": "SELECT 1;",
        "second": "SELECT *\nFROM events\nWHERE id = $1;",
    }


def test_comments_inside_a_block_stay_with_its_statement() -> None:
    text = "-- name: one\n-- the oldest first\nSELECT 1;\n"
    assert parse_queries(text) == {"one": "-- the oldest first\nSELECT 1;"}


def test_a_duplicate_name_is_refused() -> None:
    with pytest.raises(ValueError, match="'twice' is defined twice"):
        parse_queries("-- name: twice\nSELECT 1;\n-- name: twice\nSELECT 2;\n")


@pytest.mark.parametrize(
    "text",
    [
        "-- name: hollow\n-- name: full\nSELECT 1;\n",
        "-- name: full\nSELECT 1;\n-- name: hollow\n   \n",
    ],
)
def test_an_empty_block_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="'hollow' is empty"):
        parse_queries(text)


def test_the_shipped_queries_are_all_non_empty() -> None:
    assert QUERIES
    assert all(statement.strip() for statement in QUERIES.values())


def test_the_scan_finds_the_query_names_the_store_uses() -> None:
    used = used_query_names(PACKAGE / "store")
    assert {"claim_deliveries", "insert_events", "insert_subscriber"} <= used.keys()


def test_the_scan_would_notice_a_misspelt_name() -> None:
    used = USED_NAME.findall('await db.fetchrow(\n    "get_subscribr", sid)\nQUERIES["clam"]')
    assert set(used) - QUERIES.keys() == {"get_subscribr", "clam"}


def test_every_query_name_used_by_the_code_is_defined() -> None:
    used = used_query_names(PACKAGE)
    missing = {name: where for name, where in used.items() if name not in QUERIES}
    assert missing == {}
