"""What each console page shows, and what its buttons do, against a real database."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from gateway.config import ApiConfig, Config, DeliveryConfig, PrivacyConfig
from gateway.delivery.ping import PING_TYPE
from gateway.domain.transform import Transform
from gateway.store import deliveries, jobs, subscribers
from gateway.store.database import Database
from gateway.store.events import insert_batch
from testkit.factories import event, subscriber
from testkit.sinks import Sink
from testkit.tokens import JWT_SECRET, mint
from tests.integration.api.conftest import admin_client, authenticator_for
from tests.integration.console.conftest import Client, log_in, settle_due

PLANTED = (
    '<script>window.__pwned = 1; document.title = "pwned"</script><img src=x onerror=alert(1)>'
)


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    s = await Sink().start()
    yield s
    await s.stop()


async def _text(console: Client, path: str) -> str:
    answer = await console.get(path)
    assert answer.status == 200, await answer.text()
    return await answer.text()


async def test_the_event_page_escapes_the_body_masks_private_fields_and_hides_signatures(
    db: Database,
) -> None:
    config = Config(
        api=ApiConfig(jwt_secret=JWT_SECRET),
        privacy=PrivacyConfig(redact=("/customer/email",)),
    )
    client: Client = await admin_client(db, config, authenticator_for(db, config))
    try:
        await subscriber(db)
        body = orjson.dumps({"id": 1042, "note": PLANTED, "customer": {"email": "jon@example.com"}})
        headers = {"x-shopify-hmac-sha256": "c2lnbmF0dXJl", "x-shopify-topic": "<b>orders</b>"}
        stored = msgspec.structs.replace(
            event("wh-1042"), body=body, headers_json=orjson.dumps(headers).decode()
        )
        [result], _ = await insert_batch(db, [stored])
        await settle_due(db, snippet="<script>evil()</script> upstream said no")
        await log_in(client, mint("read"))
        page = await _text(client, f"/console/events/{result.event_id}")
    finally:
        await client.close()
    assert "<script>window" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;window.__pwned" in page
    assert "&lt;script&gt;evil()" in page  # the response snippet is escaped too
    assert "jon@example.com" not in page
    assert '<mark class="masked">&#34;[redacted]&#34;</mark>' in page
    assert "c2lnbmF0dXJl" not in page
    assert "&lt;b&gt;orders&lt;/b&gt;" in page
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/console/static/console.js" defer>']


async def test_the_timeline_shows_every_attempt_of_every_subscriber(
    console: Client, db: Database, logged_in: Callable[..., Any]
) -> None:
    await subscriber(db, name="wms")
    await subscriber(db, name="erp")
    [result], _ = await insert_batch(db, [event("wh-7")])
    await settle_due(db, status="pending", code=503, snippet="busy")
    await db.pool.execute("UPDATE deliveries SET next_attempt_at = now()")
    await settle_due(db, status="succeeded", code=200, snippet="thanks")
    await logged_in("read")
    page = await _text(console, f"/console/events/{result.event_id}")
    assert page.count('class="delivery"') == 2
    assert page.count("HTTP 503") == 2
    assert page.count("HTTP 200") == 2
    assert "busy" in page and "thanks" in page
    assert "12 ms" in page
    assert "wms" in page and "erp" in page


async def test_search_finds_an_event_by_sender_event_id_and_an_order_id_in_its_body(
    console: Client, db: Database, logged_in: Callable[..., Any]
) -> None:
    order = msgspec.structs.replace(event("wh-abc"), body=orjson.dumps({"order_number": 881042}))
    other = msgspec.structs.replace(event("wh-def"), body=orjson.dumps({"order_number": 5}))
    [found, _], _ = await insert_batch(db, [order, other])
    await logged_in("read")
    by_id = await _text(console, "/console/events?q=wh-abc")
    assert found.event_id in by_id
    by_body = await _text(console, "/console/events?q=881042&hours=1")
    assert "Found in the body" in by_body
    assert found.event_id in by_body
    assert "wh-def" not in by_body
    elsewhere = await _text(console, "/console/events?q=881042&source=github")
    assert found.event_id not in elsewhere
    direct = await console.get(f"/console/events?q={found.event_id}", allow_redirects=False)
    assert direct.headers["Location"] == f"/console/events/{found.event_id}"
    latest = await _text(console, "/console/events")
    assert "wh-abc" in latest and "wh-def" in latest


async def test_the_overview_charts_the_last_hour_and_flags_subscribers_needing_attention(
    console: Client, db: Database, logged_in: Callable[..., Any]
) -> None:
    healthy = await subscriber(db, name="healthy")
    stalled = await subscriber(db, name="stalled", event_types=("refunds/*",))
    await subscribers.pause(db, stalled.id, "maintenance")
    await insert_batch(db, [event(f"wh-{i}") for i in range(3)])
    await settle_due(db, status="succeeded", code=200)
    await logged_in("read")
    page = await _text(console, "/console/")
    assert page.count('<polyline class="series') == 2
    assert re.search(r'id="received-total">3<', page)
    assert re.search(r'id="delivered-total">3<', page)
    assert re.search(r'id="success-ratio">100.0%<', page)
    attention = page.split("Needs attention", 1)[1].split("</ul>", 1)[0]
    assert f"/console/subscribers/{stalled.id}" in attention
    assert healthy.id not in attention


async def test_the_subscriber_page_groups_recent_failures_by_cause(
    console: Client, db: Database, logged_in: Callable[..., Any]
) -> None:
    sub = await subscriber(db)
    await insert_batch(db, [event(f"wh-{i}") for i in range(3)])
    await settle_due(db, status="pending", code=500)
    await db.pool.execute("UPDATE deliveries SET next_attempt_at = now()")
    await settle_due(db, status="dead", code=None)
    await logged_in("read")
    page = await _text(console, f"/console/subscribers/{sub.id}")
    causes = page.split("Failures by cause", 1)[1]
    assert re.search(r"HTTP 500</td>\s*<td class=\"num\">3</td>", causes)
    assert re.search(r"ClientConnectorError: refused</div></td>\s*<td class=\"num\">3</td>", causes)
    assert sub.secret not in page


async def test_pause_and_resume_from_the_subscriber_page(
    console: Client, db: Database, logged_in: Callable[..., Any]
) -> None:
    sub = await subscriber(db)
    csrf = await logged_in("read", "write")
    await console.post(f"/console/subscribers/{sub.id}/pause", data={"csrf": csrf})
    assert (await subscribers.get_subscriber(db, sub.id)).state == "paused"
    assert "Resume" in await _text(console, f"/console/subscribers/{sub.id}")
    answer = await console.post(f"/console/subscribers/{sub.id}/resume", data={"csrf": csrf})
    assert "Resumed" in await answer.text()
    assert (await subscribers.get_subscriber(db, sub.id)).state == "active"


async def test_rotating_the_secret_shows_the_new_one_once(
    console: Client, db: Database, logged_in: Callable[..., Any]
) -> None:
    sub = await subscriber(db)
    csrf = await logged_in("write", "read")
    answer = await console.post(f"/console/subscribers/{sub.id}/rotate-secret", data={"csrf": csrf})
    rotated = await subscribers.get_subscriber(db, sub.id)
    assert rotated.secret != sub.secret
    assert answer.headers["Cache-Control"] == "no-store"
    assert rotated.secret in await answer.text()
    assert rotated.secret not in await _text(console, f"/console/subscribers/{sub.id}")


async def test_a_test_event_is_a_signed_ping_the_subscriber_can_verify(
    db: Database, sink: Sink
) -> None:
    config = Config(
        api=ApiConfig(jwt_secret=JWT_SECRET),
        delivery=DeliveryConfig(allowed_private_cidrs=("127.0.0.0/8",)),
    )
    client: Client = await admin_client(db, config, authenticator_for(db, config))
    try:
        sub = await subscriber(db, url=sink.url)
        csrf = await log_in(client, mint("admin"))
        answer = await client.post(f"/console/subscribers/{sub.id}/test", data={"csrf": csrf})
        page = await answer.text()
    finally:
        await client.close()
    [received] = await sink.wait_for(1)
    ping = Webhook(sub.secret).verify(received.body, received.headers)
    assert ping["type"] == PING_TYPE
    assert received.headers["webhook-id"].startswith("ping_")
    assert "Test event: HTTP 200" in html.unescape(page)
    assert await deliveries.list_deliveries(db) == []  # nothing stored


async def test_retrying_and_discarding_selected_dead_letters(
    console: Client, db: Database, logged_in: Callable[..., Any]
) -> None:
    await subscriber(db)
    await insert_batch(db, [event(f"wh-{i}") for i in range(3)])
    await settle_due(db)
    first, second, third = await deliveries.list_deliveries(db, status="dead")
    csrf = await logged_in("read", "replay")
    page = await _text(console, "/console/dead-letters")
    assert "3 matching" in page and "Retry selected" in page
    answer = await console.post(
        "/console/dead-letters/act",
        data=[("csrf", csrf), ("action", "retry"), ("id", first.id), ("id", second.id)],
    )
    assert "2 sent again." in await answer.text()
    answer = await console.post(
        "/console/dead-letters/act", data={"csrf": csrf, "action": "discard", "id": third.id}
    )
    assert "1 discarded." in await answer.text()
    answer = await console.post(
        "/console/dead-letters/act", data={"csrf": csrf, "action": "retry", "id": first.id}
    )
    assert "0 sent again. 1 skipped (no longer dead)." in " ".join((await answer.text()).split())
    statuses = {d.id: d.status for d in await deliveries.list_deliveries(db)}
    assert statuses == {first.id: "pending", second.id: "pending", third.id: "cancelled"}


async def test_retrying_every_match_starts_a_job_whose_page_shows_its_progress(
    console: Client, db: Database, logged_in: Callable[..., Any]
) -> None:
    wms = await subscriber(db, name="wms")
    await subscriber(db, name="erp")
    await insert_batch(db, [event(f"wh-{i}") for i in range(4)])
    await settle_due(db)
    csrf = await logged_in("read", "replay")
    answer = await console.post(
        "/console/dead-letters/retry-all",
        data={"csrf": csrf, "subscriber_id": wms.id},
        allow_redirects=False,
    )
    assert answer.status == 303
    job_id = answer.headers["Location"].rsplit("/", 1)[1]
    job = await jobs.get(db, job_id)
    assert (job.kind, job.total, job.params["subscriber_id"]) == ("retry_dead", 4, wms.id)
    page = await _text(console, f"/console/jobs/{job_id}")
    assert '<meta http-equiv="refresh" content="2">' in page
    assert '<progress max="4" value="0">' in page


async def test_a_subscriber_declared_in_the_config_keeps_its_secret(
    console: Client, db: Database, logged_in: Callable[..., Any]
) -> None:
    sub = await subscriber(db)
    await db.pool.execute("UPDATE subscribers SET managed_by = 'config' WHERE id = $1", sub.id)
    csrf = await logged_in("admin")
    assert "Rotate secret" not in await _text(console, f"/console/subscribers/{sub.id}")
    answer = await console.post(f"/console/subscribers/{sub.id}/rotate-secret", data={"csrf": csrf})
    assert answer.status == 409
    assert "declared in the config file" in await answer.text()
    assert (await subscribers.get_subscriber(db, sub.id)).secret == sub.secret


async def test_the_body_search_does_not_reveal_masked_values(db: Database) -> None:
    config = Config(
        api=ApiConfig(jwt_secret=JWT_SECRET),
        privacy=PrivacyConfig(redact=("/customer/email",)),
    )
    client: Client = await admin_client(db, config, authenticator_for(db, config))
    try:
        body = orjson.dumps({"order_number": 5501, "customer": {"email": "jon@example.com"}})
        [stored], _ = await insert_batch(db, [msgspec.structs.replace(event("wh-pii"), body=body)])
        await log_in(client, mint("read"))
        by_order = await _text(client, "/console/events?q=5501")
        by_email = await _text(client, "/console/events?q=jon@example.com")
    finally:
        await client.close()
    assert stored.event_id in by_order
    assert stored.event_id not in by_email


async def test_the_subscriber_page_tries_its_transform_on_an_event_and_shows_what_it_would_send(
    console: Client, db: Database, logged_in: Callable[..., Any]
) -> None:
    source = "function handler(r) {\n  return {body: {order: r.body.order}, path: '/wms'}\n}"
    sub = await subscriber(db, transform=Transform(source=source))
    [stored], _ = await insert_batch(db, [event("1001")])
    csrf = await logged_in("read")
    page = await _text(console, f"/console/subscribers/{sub.id}")
    assert sub.transform is not None and sub.transform.version in page
    assert source in html.unescape(page)  # the form holds the subscriber's transform
    form = {"csrf": csrf, "source": source, "event_id": stored.event_id}
    answer = await console.post(f"/console/subscribers/{sub.id}/try-transform", data=form)
    shown = _words(await answer.text())
    assert answer.status == 200
    assert "Would send to http://127.0.0.1:9/hook/wms as application/json" in shown
    assert '"order": "1001"' in shown.split("application/json", 1)[1]
    form["source"] = "function handler(r) {\n  return r.body.missing.x\n}"
    answer = await console.post(f"/console/subscribers/{sub.id}/try-transform", data=form)
    shown = _words(await answer.text())
    assert "Transform error at line 2, column 10: TypeError: cannot read property 'x'" in shown
    form["source"] = "function handler(r) {"
    answer = await console.post(f"/console/subscribers/{sub.id}/try-transform", data=form)
    assert "Transform error: SyntaxError" in _words(await answer.text())
    form["source"], form["event_id"] = source, "evt_unknown"
    answer = await console.post(f"/console/subscribers/{sub.id}/try-transform", data=form)
    assert "Transform error: no event evt_unknown" in _words(await answer.text())


def _words(page: str) -> str:
    """The page's text as a reader sees it: tags left out, entities read."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))
