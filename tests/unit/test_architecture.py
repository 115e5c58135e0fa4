"""ARCHITECTURE.md's import rules hold for every module of gateway/: the table in the
document is the rule, read from it, so the two cannot drift apart."""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GATEWAY = REPO / "gateway"
ROW = re.compile(r"^\| `(?P<package>[a-z_]+)` \| (?P<allowed>[^|]*)\|$")
# aiohttp's documented modules; any other is its internals, for http/internals.py alone.
AIOHTTP_PUBLIC = {"aiohttp", "aiohttp.web", "aiohttp.abc", "aiohttp.typedefs", "aiohttp.hdrs"}
INTERNALS = "gateway/http/internals.py"


def rules() -> dict[str, set[str]]:
    text = (REPO / "ARCHITECTURE.md").read_text()
    table = text[text.index("## Import rules") :]
    found = {}
    for line in table.splitlines():
        match = ROW.match(line.strip())
        if match:
            allowed = set(re.findall(r"`([a-z_]+)`", match["allowed"]))
            found[match["package"]] = allowed
    return found


def package_of(module: str) -> str:
    """``gateway.ingress.intake`` → ``ingress``; ``gateway.cli`` → ``cli``."""
    return module.split(".")[1] if module.count(".") else "gateway"


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(GATEWAY.rglob("*.py")):
        dotted = ".".join(path.relative_to(REPO).with_suffix("").parts)
        yield dotted.removesuffix(".__init__"), path


def imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_the_document_has_a_rule_for_every_package_of_gateway() -> None:
    packages = {package_of(m) for m, _ in modules()} - {"gateway", "__main__"}
    assert packages == set(rules())


def test_every_import_between_packages_is_one_the_rules_allow() -> None:
    allowed = rules()
    broken = []
    for module, path in modules():
        source = package_of(module)
        if source in {"gateway", "__main__"}:
            continue
        for name in imports(path):
            if not name.startswith("gateway.") or name == "gateway.__version__":
                continue
            target = package_of(name)
            if target not in (source, "gateway") and target not in allowed[source]:
                broken.append(f"{path.relative_to(REPO)} imports {name} ({source} -> {target})")
    assert broken == []


def test_the_store_never_imports_aiohttp() -> None:
    found = [
        f"{path.relative_to(REPO)}: {name}"
        for module, path in modules()
        if package_of(module) == "store"
        for name in imports(path)
        if name.split(".")[0] == "aiohttp"
    ]
    assert found == []


def test_only_the_internals_module_imports_aiohttp_internals() -> None:
    found = sorted(
        {
            f"{path.relative_to(REPO)}: {name}"
            for _, path in modules()
            if str(path.relative_to(REPO)) != INTERNALS
            for name in imports(path)
            if name.startswith("aiohttp.") and _is_module(name) and name not in AIOHTTP_PUBLIC
        }
    )
    assert found == []


def _is_module(name: str) -> bool:
    """Whether ``name`` is a module (``aiohttp.web_protocol``), not a name imported from
    one (``aiohttp.StreamReader``)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a name inside a module that is not a package
        return False


@pytest.mark.parametrize("package", ["domain", "lifecycle"])
def test_the_leaves_import_nothing_of_the_gateway(package: str) -> None:
    assert rules()[package] == set()


def test_every_module_the_document_names_by_its_path_exists() -> None:
    text = (REPO / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"`((?:[a-z_]+/)+[a-z_]+\.py)`", text))
    assert named
    missing = [p for p in sorted(named) if not (GATEWAY / p).exists() and not (REPO / p).exists()]
    assert missing == []
