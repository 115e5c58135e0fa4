"""The sources page: how each source takes its events, and how this process reads a
queue (its state, its counts, its recent poison messages, escaped)."""

from __future__ import annotations

import html

from gateway.api.sources import public_spec
from gateway.brokers.config import SqsBroker
from gateway.config import SourceConfig
from gateway.domain.receive import AmqpReceive, Poison, ReaderStatus, SqsReceive
from gateway.store import sources as store
from gateway.store.database import Database
from testkit.tokens import mint
from tests.integration.api.conftest import admin_client, api_config, authenticator_for, with_brokers
from tests.integration.console.conftest import log_in

QUEUE_URL = "https://sqs.eu-central-1.amazonaws.com/123456789012/sp-api"
PLANTED = "<script>alert(1)</script>"


async def test_the_sources_page_shows_each_sources_kind_queue_and_reading(db: Database) -> None:
    amazon = SourceConfig(
        name="amazon",
        scheme="amazon-sp-api",
        receive=SqsReceive(broker="aws", queue_url=QUEUE_URL),
    )
    orders = SourceConfig(
        name="orders", scheme="none", receive=AmqpReceive(broker="rabbit", queue="orders")
    )
    shop = SourceConfig(name="shop", scheme="shopify", secret="s")
    await store.create_source(db, "shop", public_spec(shop))
    await store.create_source(db, "amazon", public_spec(amazon))
    await store.create_source(db, "orders", public_spec(orders))
    reading = ReaderStatus(
        kind="sqs",
        broker="aws",
        queue=QUEUE_URL,
        state="reading",
        stored=7,
        duplicates=2,
        poison=1,
        recent_poison=[Poison(message_id="m-1", reason=f"the body is not JSON {PLANTED}", at=1)],
    )
    config = with_brokers(api_config(), SqsBroker(name="aws"))
    console = await admin_client(
        db, config, authenticator_for(db, config), readers=lambda: {"amazon": reading}
    )
    try:
        await log_in(console, mint("read"))
        page = await (await console.get("/console/sources")).text()
    finally:
        await console.close()

    rows = {name: page.split(f'id="source-{name}"', 1)[1].split("</tr>", 1)[0] for name in
            ("amazon", "orders", "shop", "gateway")}  # fmt: skip
    assert "webhooks at <code>/webhooks/v1/shop</code>" in rows["shop"]
    assert "sqs queue" in rows["amazon"] and f"<code>{QUEUE_URL}</code>" in rows["amazon"]
    assert ">reading<" in rows["amazon"] and '<td class="num">7</td>' in rows["amazon"]
    assert "amqp queue" in rows["orders"] and "<code>orders</code>" in rows["orders"]
    assert PLANTED not in page and html.escape(PLANTED) in page
    assert "the gateway's own events" in rows["gateway"]  # built in, no webhooks
    assert '<a href="/console/events?source=gateway">' in rows["gateway"]
