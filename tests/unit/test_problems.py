"""Every HTTP error leaves as RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.http.problems import CONTENT_TYPE, TYPE_BASE, Problem, problem_middleware

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]

SECRET_DETAIL = "connection to 10.1.2.3 failed: password=hunter2"


async def conflict(request: web.Request) -> web.Response:
    raise Problem(409, "a subscriber named wms already exists", name="wms")


async def throttled(request: web.Request) -> web.Response:
    raise Problem(429, "slow down", kind="rate-limited", headers={"Retry-After": "7"})


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError(SECRET_DETAIL)


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def bad_request(request: web.Request) -> web.Response:
    raise web.HTTPBadRequest(text="cursor is not valid")


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ok")


@pytest.fixture
async def client(aiohttp_client: ClientFactory) -> Client:
    app = web.Application(middlewares=[problem_middleware])
    app.router.add_get("/subscribers/conflict", conflict)
    app.router.add_get("/throttled", throttled)
    app.router.add_get("/boom", boom)
    app.router.add_get("/ok", ok)
    app.router.add_get("/bad", bad_request)
    app.router.add_get("/moved", redirect)
    return await aiohttp_client(app)


async def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status
    assert response.content_type == CONTENT_TYPE
    body: dict[str, Any] = await response.json(content_type=CONTENT_TYPE)
    assert body["status"] == status
    return body


async def test_a_raised_problem_becomes_a_problem_document(client: Client) -> None:
    body = await problem(await client.get("/subscribers/conflict"), 409)
    assert body == {
        "type": TYPE_BASE + "conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "a subscriber named wms already exists",
        "instance": "/subscribers/conflict",
        "name": "wms",
    }


async def test_a_problem_keeps_its_kind_and_headers(client: Client) -> None:
    response = await client.get("/throttled")
    body = await problem(response, 429)
    assert body["type"] == TYPE_BASE + "rate-limited"
    assert body["title"] == "Too Many Requests"
    assert response.headers["Retry-After"] == "7"


async def test_an_unknown_route_is_a_404_problem(client: Client) -> None:
    body = await problem(await client.get("/nowhere"), 404)
    assert body["title"] == "Not Found"
    assert body["type"] == TYPE_BASE + "not-found"
    assert body["instance"] == "/nowhere"


async def test_a_wrong_method_is_a_405_problem_carrying_allow(client: Client) -> None:
    response = await client.delete("/ok")
    body = await problem(response, 405)
    assert body["title"] == "Method Not Allowed"
    assert "GET" in response.headers["Allow"]


async def test_an_http_exception_with_its_own_text_keeps_it_as_detail(client: Client) -> None:
    body = await problem(await client.get("/bad"), 400)
    assert body["detail"] == "cursor is not valid"


async def test_a_redirect_passes_through_untouched(client: Client) -> None:
    response = await client.get("/moved", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/ok"


async def test_a_success_passes_through_untouched(client: Client) -> None:
    response = await client.get("/ok")
    assert response.status == 200
    assert await response.json() == {"ok": True}


async def test_an_unexpected_exception_is_a_500_problem_that_reveals_nothing(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="gateway.http"):
        response = await client.get("/boom")
    text = await response.text()
    body = await problem(response, 500)

    assert body["title"] == "Internal Server Error"
    assert body["instance"] == "/boom"
    for leak in ("Traceback", "RuntimeError", "hunter2", "10.1.2.3", "test_problems"):
        assert leak not in text
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)
