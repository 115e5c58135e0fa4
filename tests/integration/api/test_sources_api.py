"""Sources through the API: the replay window goes in, is kept, shows and comes out as set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.brokers.config import AmqpBroker, SqsBroker
from gateway.domain.receive import Poison, ReaderStatus
from gateway.ingress.registry import source_from_spec
from gateway.store import sources as store
from gateway.store.database import Database
from testkit.tokens import bearer
from tests.integration.api.conftest import admin_client, api_config, authenticator_for, with_brokers

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


QUEUE_URL = "https://sqs.eu-central-1.amazonaws.com/123456789012/sp-api"
AMAZON = {
    "name": "amazon",
    "scheme": "amazon-sp-api",
    "receive": {"kind": "sqs", "broker": "aws", "queue_url": QUEUE_URL},
}


async def test_a_source_reading_a_queue_names_a_broker_of_the_file_and_of_its_kind(
    db: Database, token: Callable[..., str]
) -> None:
    config = with_brokers(
        api_config(),
        SqsBroker(name="aws", region="eu-central-1"),
        AmqpBroker(name="rabbit", url="amqp://app:s3cret-pass@rabbit.internal/"),
    )
    client = await admin_client(db, config, authenticator_for(db, config))
    headers = bearer(token("write", "read"))
    try:
        for broker, reason in (("nope", "no broker named 'nope'"), ("rabbit", "of kind 'amqp'")):
            spec = {**AMAZON, "receive": {**AMAZON["receive"], "broker": broker}}
            refused = await client.post("/api/v1/sources", json=spec, headers=headers)
            problem = await refused.json()
            assert refused.status == 422, problem
            assert problem["detail"].startswith("<api>: source.receive.broker: "), problem
            assert reason in problem["detail"]
        created = await client.post("/api/v1/sources", json=AMAZON, headers=headers)
        assert created.status == 201, await created.text()
        shown = await created.json()
        assert shown["receive"] == {
            "kind": "sqs",
            "broker": "aws",
            "queue_url": QUEUE_URL,
            "max_in_flight": 10,
            "wait_seconds": 20,
            "visibility_timeout_seconds": None,
        }
        assert (shown["reader"], shown["secret_count"]) == (None, 0)
        moved = {"receive": {"kind": "amqp", "broker": "aws", "queue": "q"}}
        patched = await client.patch("/api/v1/sources/amazon", json=moved, headers=headers)
        assert patched.status == 422
        assert "source.receive.broker" in (await patched.json())["detail"]
        listed = await (await client.get("/api/v1/sources", headers=headers)).text()
        assert "s3cret-pass" not in listed and "rabbit.internal" not in listed
    finally:
        await client.close()


async def test_a_source_read_by_this_process_shows_its_reader(
    db: Database, token: Callable[..., str]
) -> None:
    config = with_brokers(api_config(), SqsBroker(name="aws"))
    status = ReaderStatus(
        kind="sqs",
        broker="aws",
        queue=QUEUE_URL,
        state="unreachable",
        error="ClientError: AccessDenied",
        poison=1,
        recent_poison=[Poison(message_id="m-1", reason="the body is not JSON", at=1.0)],
    )
    client = await admin_client(
        db, config, authenticator_for(db, config), readers=lambda: {"amazon": status}
    )
    headers = bearer(token("write", "read"))
    try:
        await client.post("/api/v1/sources", json=AMAZON, headers=headers)
        shown = await (await client.get("/api/v1/sources/amazon", headers=headers)).json()
        assert shown["reader"]["state"] == "unreachable"
        assert shown["reader"]["recent_poison"] == [
            {"message_id": "m-1", "reason": "the body is not JSON", "at": 1.0}
        ]
        ready = await (await client.get("/readyz")).json()
        assert ready["status"] == "ready"
        assert ready["degraded"] == ["amazon: ClientError: AccessDenied"]
        assert ready["sources"]["amazon"]["queue"] == QUEUE_URL
    finally:
        await client.close()


async def test_the_api_document_describes_a_sources_queue_of_either_kind(
    api: TestClient,  # type: ignore[type-arg]
) -> None:
    document = await (await api.get("/api/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for model in ("SourceConfig", "SourceOut", "SourcePatch"):
        assert "receive" in schemas[model]["properties"], model
    assert {"SqsReceive", "AmqpReceive", "ReaderStatus"} <= set(schemas)
    assert schemas["SqsReceive"]["properties"]["kind"] == {"enum": ["sqs"]}
    assert "amazon-sp-api" in schemas["SourceConfig"]["properties"]["scheme"]["enum"]


async def test_a_source_named_gateway_is_refused_the_name_is_the_gateways_own(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
) -> None:
    headers = bearer(token("write"))
    response = await api.post(
        "/api/v1/sources", json={**GITHUB, "name": "gateway"}, headers=headers
    )
    problem = await response.json()
    assert response.status == 422, problem
    assert problem["detail"].startswith("<api>: source.name: "), problem
    missing = await api.get("/api/v1/sources/gateway", headers=bearer(token("read")))
    assert missing.status == 404
