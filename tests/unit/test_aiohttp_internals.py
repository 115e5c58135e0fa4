"""What the gateway takes from aiohttp's internals is declared in one module and checked:
a release that lacks any of it fails here, and at start-up, naming what it lacks."""

from __future__ import annotations

import ast
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web_protocol

from gateway.http import internals

GATEWAY = Path(internals.__file__).resolve().parent.parent
# aiohttp's modules that are no public API: only gateway/http/internals.py imports them.
_PRIVATE_MODULES = frozenset(
    {"aiohttp.base_protocol", "aiohttp.helpers", "aiohttp.http_parser", "aiohttp.web_protocol"}
    | {"aiohttp.web_runner", "aiohttp.web_server"}
)


def test_the_installed_aiohttp_has_every_internal_the_gateway_relies_on() -> None:
    absent = internals.missing()

    assert absent == [], f"aiohttp {aiohttp.__version__} lacks: {', '.join(absent)}"


def test_an_internal_a_release_dropped_is_named_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gone = (web_protocol.RequestHandler, "_no_such_state")
    monkeypatch.setattr(internals, "REQUIRED", (*internals.REQUIRED, gone))

    with pytest.raises(internals.AiohttpInternalsMissing) as raised:
        internals.require()

    assert "aiohttp.web_protocol.RequestHandler._no_such_state" in str(raised.value)
    assert aiohttp.__version__ in str(raised.value)


def test_a_server_setting_a_release_dropped_is_named_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(internals, "SERVER_ATTRIBUTES", ("_loop", "_no_such_setting"))

    assert internals.missing() == ["aiohttp.web.Server()._no_such_setting"]


def test_a_module_level_internal_is_named_with_its_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(internals, "REQUIRED", ((aiohttp.helpers, "no_such_helper"),))

    assert internals.missing() == ["aiohttp.helpers.no_such_helper"]


def test_no_module_but_internals_imports_aiohttps_private_modules() -> None:
    reaching = []
    for path in sorted(GATEWAY.rglob("*.py")):
        if path.name == "internals.py" and path.parent.name == "http":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if _PRIVATE_MODULES.intersection(names):
                reaching.append(f"{path.relative_to(GATEWAY.parent)}:{node.lineno}")

    assert reaching == [], "aiohttp's internals are used outside gateway/http/internals.py"
