"""What the gateway takes from aiohttp's internals is declared in one module and checked:
a release that lacks any of it fails here, and at start-up, naming what it lacks."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web_protocol

from gateway.http import internals


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
