"""``POST /api/v1/transforms/test``: a transform tried on a stored event or an inline body
answers what it would send, or its error; bad input is a problem; nothing is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import orjson
from aiohttp.test_utils import TestClient

from gateway.config import ApiConfig, Config, PrivacyConfig
from gateway.store.database import Database
from gateway.store.events import insert_batch
from testkit.factories import event
from testkit.tokens import JWT_SECRET, bearer, mint
from tests.integration.api.conftest import admin_client, authenticator_for

EXAMPLES = Path(__file__).parents[3] / "examples" / "transforms"
PATH = "/api/v1/transforms/test"
RESHAPE = """function handler(request, context) {
  return {body: {order: request.body.order, type: request.type, by: context.subscriber},
          headers: {"X-Wms": "1"}, path: "/orders", query: {n: 1}};
}"""


async def post(api: TestClient, body: Any, *scopes: str) -> tuple[int, Any]:  # type: ignore[type-arg]
    response = await api.post(PATH, json=body, headers=bearer(mint(*(scopes or ("read",)))))
    return response.status, await response.json()


async def test_a_transform_tried_on_a_stored_event_answers_the_request_it_would_send(
    api: TestClient,  # type: ignore[type-arg]
    db: Database,
) -> None:
    [stored], _ = await insert_batch(db, [event("1001")])
    status, answer = await post(
        api, {"transform": {"source": RESHAPE}, "event_id": stored.event_id, "subscriber": "wms"}
    )
    assert status == 200, answer
    assert answer["ok"] is True
    assert answer["body"] == {"order": "1001", "type": "orders/create", "by": "wms"}
    assert answer["content_type"] == "application/json"
    assert answer["headers"] == {"X-Wms": "1"}
    assert (answer["path"], answer["query"]) == ("/orders", "n=1")
    assert len(answer["version"]) == 16
    assert answer["error"] is None


async def test_a_transform_that_throws_answers_its_error_with_line_and_column(
    api: TestClient,  # type: ignore[type-arg]
) -> None:
    source = (
        "function handler(request) {\n  throw new Error('no warehouse for ' + request.body.c)\n}"
    )
    status, answer = await post(api, {"transform": {"source": source}, "body": {"c": "FR"}})
    assert status == 200, answer
    assert answer["ok"] is False
    assert answer["error"] == {"message": "Error: no warehouse for FR", "line": 2, "column": 41}


async def test_a_spinning_transform_answers_its_bound(api: TestClient) -> None:  # type: ignore[type-arg]
    status, answer = await post(
        api, {"transform": {"source": "function handler(r) { for (;;) {} }"}, "body": {}}
    )
    assert status == 200
    assert answer["error"]["message"] == "ran longer than its bound of 50 ms"


async def test_cancel_is_answered_as_such(api: TestClient) -> None:  # type: ignore[type-arg]
    source = "function handler(r) { return {cancel: r.body.country !== 'DE'} }"
    status, answer = await post(api, {"transform": {"source": source}, "body": {"country": "FR"}})
    assert (status, answer["ok"], answer["cancel"]) == (200, True, True)


async def test_an_inline_xml_body_is_seen_through_its_json_view(
    api: TestClient,  # type: ignore[type-arg]
) -> None:
    source = (EXAMPLES / "xml-order.js").read_text()
    body = {
        "transform": {"source": source},
        "body": (EXAMPLES / "samples" / "order.xml").read_text(),
        "content_type": "application/xml",
    }
    status, answer = await post(api, body)
    assert status == 200, answer
    expected = orjson.loads((EXAMPLES / "samples" / "wms-order.json").read_bytes())
    assert answer["body"] == expected


async def test_a_stored_event_is_shown_to_the_transform_with_the_privacy_rules_applied(
    db: Database,
) -> None:
    config = Config(
        api=ApiConfig(jwt_secret=JWT_SECRET), privacy=PrivacyConfig(redact=("/customer/email",))
    )
    client = await admin_client(db, config, authenticator_for(db, config))
    try:
        pii = orjson.dumps({"customer": {"email": "jon@example.com"}})
        [stored], _ = await insert_batch(db, [msgspec.structs.replace(event("pii"), body=pii)])
        source = "function handler(r) { return {body: r.body.customer.email} }"
        status, answer = await post(
            client, {"transform": {"source": source}, "event_id": stored.event_id}
        )
    finally:
        await client.close()
    assert status == 200, answer
    assert answer["body"] == "[redacted]"


async def test_bad_input_is_a_problem(
    api: TestClient,  # type: ignore[type-arg]
) -> None:
    good = {"source": "function handler(r) { return r }"}
    cases = [
        ({"transform": {"source": "function handler(r) {"}, "body": {}}, 422, "transform.source"),
        ({"transform": good}, 422, "give either event_id or body"),
        ({"transform": good, "body": {}, "event_id": "evt_x"}, 422, "give either"),
        ({"transform": good, "event_id": "evt_unknown"}, 404, "no event evt_unknown"),
        ({"transform": good, "body": "<a>", "content_type": "text/xml"}, 422, "body:"),
        ({"transform": good, "body": {}, "colour": 1}, 422, "colour"),
    ]
    for body, status, detail in cases:
        response = await api.post(PATH, json=body, headers=bearer(mint("read")))
        assert response.status == status, (body, await response.text())
        assert response.content_type == "application/problem+json"
        assert detail in (await response.json())["detail"], body
    response = await api.post(PATH, data=b"{", headers=bearer(mint("read")))
    assert response.status == 400


async def test_trying_a_transform_needs_a_token(api: TestClient) -> None:  # type: ignore[type-arg]
    response = await api.post(PATH, json={"transform": {"source": "x"}, "body": {}})
    assert response.status == 401
    assert response.content_type == "application/problem+json"
