"""Sources made through the API take webhooks like those of the config file."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import orjson

from testkit.processes import GatewayProcess
from testkit.senders import github_signature
from tests.acceptance.conftest import base_config


async def test_a_source_created_through_the_api_accepts_its_first_webhook(
    start_gateway: Callable[..., GatewayProcess], database_url: str, http: aiohttp.ClientSession
) -> None:
    gateway = start_gateway(base_config(database_url))
    auth = {"Authorization": f"Bearer {gateway.token('admin')}"}
    spec = {"name": "gh", "scheme": "github", "secret": "github-secret-for-tests"}
    async with http.post(f"{gateway.admin}/api/v1/sources", json=spec, headers=auth) as response:
        created = await response.json()
    assert response.status == 201
    assert created["secret_count"] == 1
    assert "secret" not in created
    assert created["event_id"] == "X-GitHub-Delivery"

    body = orjson.dumps({"action": "opened"})
    signature = github_signature("github-secret-for-tests", body)
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature,
        "X-GitHub-Delivery": "d-1",
        "X-GitHub-Event": "pull_request",
    }
    async with http.post(
        f"{gateway.ingress}/webhooks/v1/gh", data=body, headers=headers
    ) as response:
        assert response.status == 202
    wrong = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64, "X-GitHub-Delivery": "d-2"}
    async with http.post(f"{gateway.ingress}/webhooks/v1/gh", data=body, headers=wrong) as response:
        assert response.status == 401


async def test_config_sources_are_listed_without_secrets_and_read_only(
    start_gateway: Callable[..., GatewayProcess], database_url: str, http: aiohttp.ClientSession
) -> None:
    gateway = start_gateway(base_config(database_url))
    auth = {"Authorization": f"Bearer {gateway.token('admin')}"}
    async with http.get(f"{gateway.admin}/api/v1/sources", headers=auth) as response:
        listed = await response.json()
    [shop] = listed["data"]
    assert (shop["name"], shop["managed_by"], shop["secret_count"]) == ("shop", "config", 1)
    assert "shop-secret-for-tests" not in orjson.dumps(listed).decode()
    async with http.patch(
        f"{gateway.admin}/api/v1/sources/shop", json={"max_body_bytes": 10}, headers=auth
    ) as r:
        assert r.status == 409
        assert (await r.json())["type"].endswith("managed-by-config")
    async with http.delete(f"{gateway.admin}/api/v1/sources/shop", headers=auth) as r:
        assert r.status == 409


async def test_an_unusable_source_is_refused_with_the_reason(
    start_gateway: Callable[..., GatewayProcess], database_url: str, http: aiohttp.ClientSession
) -> None:
    gateway = start_gateway(base_config(database_url))
    auth = {"Authorization": f"Bearer {gateway.token('admin')}"}
    for spec, needle in [
        ({"name": "x", "scheme": "shopify", "secret": ""}, "secret"),
        ({"name": "x", "scheme": "standard-webhooks", "secret": "not-whsec"}, "whsec_"),
        ({"name": "Bad Name", "scheme": "none"}, "slug"),
        ({"name": "x", "scheme": "shopify", "secret": "s", "colour": "red"}, "colour"),
    ]:
        async with http.post(
            f"{gateway.admin}/api/v1/sources", json=spec, headers=auth
        ) as response:
            problem = await response.json()
        assert response.status == 422, problem
        assert needle in problem["detail"]
        assert "not-whsec" not in problem["detail"]
