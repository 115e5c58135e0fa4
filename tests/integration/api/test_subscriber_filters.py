"""A subscriber's content filter is checked wherever it is set (the admin API's POST and
PATCH, the config file), refused with the path of its first error, and stored with the
SQL/JSON path the fan-out routes by."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient

from gateway.config import Config, SubscriberConfig
from gateway.delivery.signer import new_secret
from gateway.domain.filters import compile_filter
from gateway.runtime.reconcile import reconcile_declared_subscribers
from gateway.store.database import Database
from testkit.processes import run_cli
from testkit.tokens import bearer

GERMAN = {"body": {"shipping_address.country_code": {"$in": ["DE", "AT"]}}}
TWO_ERRORS = {
    "body": {
        "total_price": {"$gte": [100]},
        "shipping_address": {"country_code": {"$like": "D%"}},
    }
}
FIRST_ERROR = "filter.body.total_price.$gte"


async def stored_path(db: Database, name: str) -> Any:
    return await db.pool.fetchval("SELECT filter_path::text FROM subscribers WHERE name = $1", name)


async def compiled(db: Database, spec: Any) -> Any:
    """``spec``'s path as PostgreSQL writes it back."""
    return await db.pool.fetchval("SELECT $1::jsonpath::text", compile_filter(spec))


async def test_a_filter_with_errors_is_refused_with_the_path_of_the_first(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
    db: Database,
) -> None:
    body = {"name": "wms", "url": "http://127.0.0.1:9/hook", "filter": TWO_ERRORS}
    response = await api.post("/api/v1/subscribers", json=body, headers=bearer(token("write")))
    problem = await response.json()
    assert response.status == 422, problem
    assert response.content_type == "application/problem+json"
    assert problem["errors"] == [{"field": FIRST_ERROR, "message": "expected a number or a string"}]
    assert problem["detail"].startswith(f"{FIRST_ERROR}: ")
    assert await db.pool.fetchval("SELECT count(*) FROM subscribers") == 0


async def test_a_patch_with_a_bad_filter_is_refused_and_changes_nothing(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
    db: Database,
) -> None:
    headers = bearer(token("read", "write"))
    body = {"name": "wms", "url": "http://127.0.0.1:9/hook", "filter": GERMAN}
    created = await (await api.post("/api/v1/subscribers", json=body, headers=headers)).json()
    response = await api.patch(
        f"/api/v1/subscribers/{created['id']}", json={"filter": TWO_ERRORS}, headers=headers
    )
    problem = await response.json()
    assert response.status == 422, problem
    assert response.content_type == "application/problem+json"
    assert [e["field"] for e in problem["errors"]] == [FIRST_ERROR]
    shown = await (await api.get(f"/api/v1/subscribers/{created['id']}", headers=headers)).json()
    assert shown["filter"] == GERMAN
    assert await stored_path(db, "wms") == await compiled(db, GERMAN)


async def test_a_filter_is_stored_as_written_with_its_path_and_a_patch_changes_or_drops_both(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
    db: Database,
) -> None:
    headers = bearer(token("write"))
    body = {"name": "wms", "url": "http://127.0.0.1:9/hook", "filter": GERMAN}
    response = await api.post("/api/v1/subscribers", json=body, headers=headers)
    created = await response.json()
    assert response.status == 201, created
    assert created["filter"] == GERMAN
    assert await stored_path(db, "wms") == await compiled(db, GERMAN)
    others = {"$not": GERMAN}
    at = f"/api/v1/subscribers/{created['id']}"
    changed = await (await api.patch(at, json={"filter": others}, headers=headers)).json()
    assert changed["filter"] == others
    assert await stored_path(db, "wms") == await compiled(db, others)
    dropped = await (await api.patch(at, json={"filter": None}, headers=headers)).json()
    assert dropped["filter"] is None
    assert await stored_path(db, "wms") is None


def test_check_config_refuses_a_bad_filter_naming_the_file_and_the_path(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        "[delivery]\n"
        'allowed_private_cidrs = ["127.0.0.0/8"]\n'
        "[[subscribers]]\n"
        'name = "wms"\n'
        'url = "http://127.0.0.1:9/hook"\n'
        f'secret = "{new_secret()}"\n'
        "[subscribers.filter.body]\n"
        'total_price = { "$gte" = [100] }\n'
        'shipping_address.country_code = { "$like" = "D%" }\n'
    )
    result = run_cli("check-config", "--config", str(path))
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith(
        f"webhook-gateway: invalid configuration: {path}: subscribers[0].{FIRST_ERROR}: "
    ), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("spec", [GERMAN, {"$not": GERMAN}])
async def test_a_declared_filter_is_stored_with_its_path(db: Database, spec: Any) -> None:
    wms = SubscriberConfig(
        name="wms", url="http://127.0.0.1:9/hook", secret=new_secret(), filter=spec
    )
    await reconcile_declared_subscribers(msgspec.structs.replace(Config(), subscribers=(wms,)), db)
    assert await stored_path(db, "wms") == await compiled(db, spec)
    assert await db.pool.fetchval("SELECT filter FROM subscribers WHERE name = 'wms'") == spec
