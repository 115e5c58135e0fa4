"""Searching events and reading one, with privacy rules applied to what is shown."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
import orjson
from aiohttp.test_utils import TestClient

from gateway.config import ApiConfig, Config, PrivacyConfig
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.sources import create_source
from testkit.factories import event
from testkit.tokens import JWT_SECRET, bearer, mint
from tests.integration.api.conftest import admin_client, authenticator_for


async def test_events_are_found_by_sender_event_id_source_and_type(
    api: TestClient,
    db: Database,
    token: Callable[..., str],  # type: ignore[type-arg]
) -> None:
    await insert_batch(
        db,
        [
            event("wh-1", event_type="orders/create"),
            event("wh-2", event_type="refunds/create"),
            event("wh-1", source="github", event_type="push"),
        ],
    )
    headers = bearer(token("read"))

    async def ids(query: str) -> list[str]:
        response = await api.get(f"/api/v1/events?{query}", headers=headers)
        assert response.status == 200, await response.text()
        return [e["external_id"] + "@" + e["source"] for e in (await response.json())["data"]]

    assert sorted(await ids("external_id=wh-1")) == ["wh-1@github", "wh-1@shop"]
    assert await ids("source=shop&event_type=refunds/*") == ["wh-2@shop"]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await ids(f"received_from={tomorrow.replace('+', '%2B')}") == []


async def test_event_pages_walk_every_event_once_newest_first(
    api: TestClient,
    db: Database,
    token: Callable[..., str],  # type: ignore[type-arg]
) -> None:
    await insert_batch(db, [event(f"e-{i}") for i in range(1000)])
    seen: list[str] = []
    cursor = ""
    for _ in range(20):
        response = await api.get(f"/api/v1/events?limit=137{cursor}", headers=bearer(token("read")))
        page = await response.json()
        seen += [e["id"] for e in page["data"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert len(seen) == 1000
    assert len(set(seen)) == 1000
    assert seen == sorted(seen, reverse=True)


async def test_an_event_shows_its_deliveries_and_masks_redacted_fields(db: Database) -> None:
    config = Config(
        api=ApiConfig(jwt_secret=JWT_SECRET),
        privacy=PrivacyConfig(redact=("/customer/email",), sources={"shop": ("/billing_address",)}),
    )
    client = await admin_client(db, config, authenticator_for(db, config))
    try:
        body = orjson.dumps(
            {
                "id": 7,
                "customer": {"email": "jon@example.com", "name": "Jon"},
                "billing_address": {"zip": "1"},
            }
        )
        stored = msgspec.structs.replace(event("pii"), body=body)
        [result], _ = await insert_batch(db, [stored])
        headers = bearer(mint("read"))
        detail = await (
            await client.get(f"/api/v1/events/{result.event_id}", headers=headers)
        ).json()
        raw = await client.get(f"/api/v1/events/{result.event_id}/body", headers=headers)
        raw_body = await raw.read()
    finally:
        await client.close()
    assert detail["body_json"]["customer"] == {"email": "[redacted]", "name": "Jon"}
    assert detail["body_json"]["billing_address"] == "[redacted]"
    assert detail["deliveries"] == []
    assert b"jon@example.com" not in raw_body
    assert raw.headers["Content-Type"] == "application/json"


async def test_an_unknown_event_is_a_404_problem(
    api: TestClient, token: Callable[..., str]
) -> None:  # type: ignore[type-arg]
    response = await api.get("/api/v1/events/evt_nope", headers=bearer(token("read")))
    assert response.status == 404
    assert (await response.json())["status"] == 404


async def test_a_bad_query_parameter_is_a_400_problem_naming_it(
    api: TestClient, token: Callable[..., str]
) -> None:  # type: ignore[type-arg]
    for query, name in [
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("received_from=yesterday", "received_from"),
        ("colour=red", "colour"),
    ]:
        response = await api.get(f"/api/v1/events?{query}", headers=bearer(token("read")))
        assert response.status == 400
        assert name in (await response.json())["detail"]


async def test_an_event_stored_with_its_signature_shows_it_hidden_by_its_sources_own_header(
    api: TestClient,  # type: ignore[type-arg]
    db: Database,
    token: Callable[..., str],  # type: ignore[type-arg]
) -> None:
    await create_source(db, "partner", {"scheme": "hmac", "signature_header": "X-Partner-Mac"})
    headers = {"x-partner-mac": "c2lnbmF0dXJl", "x-hub-signature-256": "sha256=ab", "x-n": "1"}
    stored = msgspec.structs.replace(
        event("legacy", source="partner"), headers_json=orjson.dumps(headers).decode()
    )
    [result], _ = await insert_batch(db, [stored])
    response = await api.get(f"/api/v1/events/{result.event_id}", headers=bearer(token("read")))
    assert response.status == 200
    shown = (await response.json())["headers"]
    assert shown == {"x-partner-mac": "[hidden]", "x-hub-signature-256": "[hidden]", "x-n": "1"}


async def test_an_xml_event_shows_its_view_as_json_and_its_text_unless_a_rule_masks_it(
    db: Database,
) -> None:
    config = Config(
        api=ApiConfig(jwt_secret=JWT_SECRET),
        privacy=PrivacyConfig(sources={"erp": ("/order/customer/email",)}),
    )
    xml = b'<order id="7"><customer><email>jon@example.com</email></customer></order>'
    view = '{"order": {"@id": "7", "customer": {"email": "jon@example.com"}}}'
    client = await admin_client(db, config, authenticator_for(db, config))
    try:
        shown = {}
        for source in ("shop", "erp"):
            stored = msgspec.structs.replace(
                event(f"x-{source}", source=source),
                content_type="application/xml",
                body=xml,
                body_view=view,
            )
            [result], _ = await insert_batch(db, [stored])
            answer = await client.get(
                f"/api/v1/events/{result.event_id}", headers=bearer(mint("read"))
            )
            shown[source] = await answer.json()
    finally:
        await client.close()
    assert shown["shop"]["body_json"] == orjson.loads(view)
    assert shown["shop"]["body_text"] == xml.decode()
    assert shown["shop"]["content_type"] == "application/xml"
    assert shown["erp"]["body_json"]["order"]["customer"] == {"email": "[redacted]"}
    assert shown["erp"]["body_text"] is None
