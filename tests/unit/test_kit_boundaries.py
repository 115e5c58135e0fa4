"""The test kit (testkit/) is what tests, bench and chaos share; the test suite is not.

bench/ and chaos/ run on their own (``make bench``, ``make chaos``), so they may import the
gateway and the kit but never ``tests``; the kit sits below the suite; the gateway knows
neither; and what ships (the wheel) holds the gateway alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder

REPO = Path(__file__).resolve().parents[2]


def imported_packages(folder: str) -> dict[str, set[str]]:
    """Each module under ``folder`` (relative path) and the top-level packages it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(REPO))] = names
    return found


def importing(folder: str, forbidden: set[str]) -> dict[str, set[str]]:
    """The modules under ``folder`` that import one of ``forbidden``, and which."""
    return {
        module: names & forbidden
        for module, names in imported_packages(folder).items()
        if names & forbidden
    }


@pytest.mark.parametrize("folder", ["bench", "chaos"])
def test_bench_and_chaos_never_import_the_test_suite(folder: str) -> None:
    assert imported_packages(folder), f"no modules found under {folder}/"
    assert importing(folder, {"tests"}) == {}


def test_the_test_kit_never_imports_the_test_suite() -> None:
    assert imported_packages("testkit")
    assert importing("testkit", {"tests"}) == {}


def test_the_gateway_never_imports_the_test_kit_or_the_test_suite() -> None:
    assert importing("gateway", {"testkit", "tests", "bench", "chaos"}) == {}


def test_the_wheel_holds_the_gateway_and_not_the_test_kit() -> None:
    shipped = {f.distribution_path for f in WheelBuilder(str(REPO)).recurse_included_files()}
    assert "gateway/cli.py" in shipped
    assert "gateway/delivery/transforms/prelude.js" in shipped  # the sandbox's own code
    assert {path.split("/")[0] for path in shipped} == {"gateway"}
