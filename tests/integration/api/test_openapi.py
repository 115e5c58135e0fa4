"""The OpenAPI document describes exactly the routes the admin listener serves."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient


def _served(app: web.Application) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if (
            path.startswith("/api/v1/")
            and route.method not in {"HEAD", "*"}
            and not path.endswith("openapi.json")
        ):
            routes.add((route.method.lower(), path))
    return routes


async def test_every_api_route_is_in_the_document_and_nothing_else(api: TestClient) -> None:  # type: ignore[type-arg]
    response = await api.get("/api/v1/openapi.json")
    document = await response.json()
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert documented == _served(api.server.app)
    assert len(documented) >= 20


async def test_every_operation_names_its_scope_and_its_problem_answers(api: TestClient) -> None:  # type: ignore[type-arg]
    document = await (await api.get("/api/v1/openapi.json")).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "scope" in operation["description"], (method, path)
            for code in ("401", "403"):
                content = operation["responses"][code]["content"]
                assert "application/problem+json" in content, (method, path, code)
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_the_document_shows_a_subscribers_filter_and_why_an_event_was_not_routed(
    api: TestClient,  # type: ignore[type-arg]
) -> None:
    schemas = (await (await api.get("/api/v1/openapi.json")).json())["components"]["schemas"]
    for name in ("SubscriberIn", "SubscriberOut", "SubscriberPatch"):
        [written, _] = schemas[name]["properties"]["filter"]["anyOf"]
        assert written["type"] == "object", name
        assert "$in" in written["description"], name
    not_routed = schemas["EventDetail"]["properties"]["not_routed"]
    assert not_routed["items"] == {"$ref": "#/components/schemas/NotRouted"}
    assert set(schemas["NotRouted"]["required"]) == {"subscriber_id", "subscriber_name", "reason"}
