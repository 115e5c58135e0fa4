"""Sources through the API: the replay window goes in, is kept, shows and comes out as set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.ingress.registry import source_from_spec
from gateway.store import sources as store
from gateway.store.database import Database
from testkit.tokens import bearer

WEEK = 7 * 86400.0
GITHUB = {"name": "gh", "scheme": "github", "secret": "github-secret-for-tests"}


async def test_an_api_source_shows_its_replay_window_and_the_ingress_serves_it_as_changed(
    api: TestClient,  # type: ignore[type-arg]
    db: Database,
    token: Callable[..., str],
) -> None:
    headers = bearer(token("write", "read"))

    async def window(response: Any, status: int = 200) -> float:
        assert response.status == status, await response.text()
        shown = (await response.json())["replay_window_seconds"]
        served = source_from_spec((await store.get_source(db, "gh")).spec).config
        assert served.replay_window_seconds == shown
        return float(shown)

    assert (
        await window(await api.post("/api/v1/sources", json=GITHUB, headers=headers), 201) == WEEK
    )
    assert await window(await api.get("/api/v1/sources/gh", headers=headers)) == WEEK
    off = {"replay_window_seconds": 0}
    assert await window(await api.patch("/api/v1/sources/gh", json=off, headers=headers)) == 0
    assert await window(await api.get("/api/v1/sources/gh", headers=headers)) == 0
    hour = {"replay_window_seconds": 3600}
    assert await window(await api.patch("/api/v1/sources/gh", json=hour, headers=headers)) == 3600
    unset = {"replay_window_seconds": None}
    assert await window(await api.patch("/api/v1/sources/gh", json=unset, headers=headers)) == WEEK

    listed = await api.get("/api/v1/sources", headers=headers)
    assert [s["replay_window_seconds"] for s in (await listed.json())["data"]] == [WEEK]


async def test_a_replay_window_that_is_no_number_of_seconds_is_refused_naming_it(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
) -> None:
    headers = bearer(token("write"))
    for window in (-1, 1e12, "week"):
        spec = {**GITHUB, "replay_window_seconds": window}
        response = await api.post("/api/v1/sources", json=spec, headers=headers)
        problem = await response.json()
        assert response.status == 422, problem
        assert "replay_window_seconds" in problem["detail"]
    await api.post("/api/v1/sources", json=GITHUB, headers=headers)
    patched = await api.patch(
        "/api/v1/sources/gh", json={"replay_window_seconds": -5}, headers=headers
    )
    assert patched.status == 422
    assert "replay_window_seconds" in (await patched.json())["detail"]


async def test_the_api_document_describes_the_replay_window_of_a_source(
    api: TestClient,  # type: ignore[type-arg]
) -> None:
    document = await (await api.get("/api/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for model in ("SourceConfig", "SourceOut", "SourcePatch"):
        assert "replay_window_seconds" in schemas[model]["properties"], model


async def test_a_source_with_an_xpath_that_cannot_be_evaluated_is_refused_naming_the_field(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
) -> None:
    headers = bearer(token("write"))
    erp = {"name": "erp", "scheme": "none", "event_id": "xpath:/order/@id"}

    for field, location in (("event_id", "xpath:/order["), ("event_type", "xpath:upper(/o)")):
        response = await api.post("/api/v1/sources", json={**erp, field: location}, headers=headers)
        problem = await response.json()
        assert response.status == 422, problem
        assert problem["detail"].startswith(f"<api>: source.{field}: "), problem
    created = await api.post("/api/v1/sources", json=erp, headers=headers)
    assert created.status == 201, await created.text()
    patched = await api.patch(
        "/api/v1/sources/erp", json={"ordering_key": "xpath:$key"}, headers=headers
    )
    assert patched.status == 422
    assert "ordering_key" in (await patched.json())["detail"]
