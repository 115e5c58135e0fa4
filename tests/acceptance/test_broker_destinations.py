"""Broker destinations through the real ``webhook-gateway serve``: a webhook reaches a
RabbitMQ queue and an SQS queue, visible in the API, the metrics and the console; and a
broker's password is never in the log (at DEBUG, its client libraries' lines included)
nor in any answer, even when the broker refuses it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import aiohttp
import orjson

from testkit.consumers import declare_queue, read_queue, sqs_messages, sqs_queue
from testkit.polling import until
from testkit.processes import GatewayProcess
from testkit.rabbitmq import RabbitMQ
from testkit.sqs import SqsServer
from testkit.tokens import mint
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import api_get, console_page, send_order

SECRET = "whsec_" + "B" * 32
PASSWORD = "Rb-" + secrets.token_hex(8)
WRONG = "Wr-" + secrets.token_hex(8)


async def test_a_webhook_reaches_rabbitmq_and_sqs_and_no_broker_password_is_ever_shown(
    tmp_path: Path,
    database_url: str,
    http: aiohttp.ClientSession,
    rabbitmq: RabbitMQ,
    sqs_server: SqsServer,
    aws_credentials: dict[str, str],
) -> None:
    rabbitmq.ctl("add_user", "gateway", PASSWORD)
    rabbitmq.ctl("set_permissions", "-p", "/", "gateway", ".*", ".*", ".*")
    queue = f"warehouse-{secrets.token_hex(4)}"
    await declare_queue(rabbitmq.url, queue)
    queue_url = await sqs_queue(sqs_server, f"erp-{secrets.token_hex(4)}.fifo")
    config = base_config(database_url)
    config["log"] = {"level": "DEBUG", "format": "json"}
    config["brokers"] = [
        {"name": "rabbit", "kind": "amqp", "url": "${RABBIT_URL}"},
        {"name": "refusing", "kind": "amqp", "url": "${REFUSING_URL}"},
        {"name": "aws", "kind": "sqs", "endpoint_url": sqs_server.endpoint_url},
    ]
    config["subscribers"] = [
        {"name": "warehouse", "secret": SECRET,
         "destination": {"kind": "amqp", "broker": "rabbit", "routing_key": queue}},
        {"name": "erp", "secret": SECRET,
         "destination": {"kind": "sqs", "broker": "aws", "queue_url": queue_url}},
        {"name": "refused", "secret": SECRET, "max_attempts": 2,
         "destination": {"kind": "amqp", "broker": "refusing", "routing_key": queue}},
    ]  # fmt: skip
    port = rabbitmq.port
    env = {
        **os.environ,
        "RABBIT_URL": f"amqp://gateway:{PASSWORD}@127.0.0.1:{port}/",
        "REFUSING_URL": f"amqp://gateway:{WRONG}@127.0.0.1:{port}/",
    }
    folder = tmp_path / "gw"
    folder.mkdir()
    gateway = GatewayProcess(folder, config, env=env).start()
    try:
        body = orjson.dumps({"id": 1, "total_price": "9.00"})
        status, accepted = await send_order(http, gateway, body, "wh-1")
        assert status == 202, accepted
        token = mint("read")

        async def settled() -> bool:
            page = await api_get(http, gateway, token, "/api/v1/deliveries")
            return all(d["status"] in ("succeeded", "dead") for d in page["data"])

        await until(settled, 30.0, 0.2, what="every delivery to settle")
        page = await api_get(http, gateway, token, "/api/v1/deliveries")
        by_name = {d["subscriber_name"]: d for d in page["data"]}
        assert {n: d["status"] for n, d in by_name.items()} == {
            "warehouse": "succeeded",
            "erp": "succeeded",
            "refused": "dead",
        }
        (message,) = await read_queue(rabbitmq.url, queue)
        assert message.body == body and message.headers["webhook-id"] == accepted["event_id"]
        (queued,) = await sqs_messages(sqs_server, queue_url, 1)
        assert queued.body == body and queued.dedup == accepted["event_id"]

        refused = by_name["refused"]["id"]
        detail = await api_get(http, gateway, token, f"/api/v1/deliveries/{refused}")
        assert [a["outcome"] for a in detail["attempt_log"]] == ["connection_error"] * 2
        answers = [
            orjson.dumps(detail).decode(),
            orjson.dumps(await api_get(http, gateway, token, "/api/v1/subscribers")).decode(),
            await console_page(gateway, token, "/console"),
        ]
        warehouse = next(d for d in page["data"] if d["subscriber_name"] == "warehouse")
        page_of_one = await console_page(
            gateway, token, f"/console/subscribers/{warehouse['subscriber_id']}"
        )
        assert "RabbitMQ" in page_of_one and queue in page_of_one
        async with http.get(f"{gateway.admin}/metrics") as scraped:
            metrics = await scraped.text()
        assert 'kind="amqp",outcome="2xx",subscriber="warehouse"' in metrics
        assert 'kind="sqs",outcome="2xx",subscriber="erp"' in metrics
        assert 'kind="amqp",outcome="connection_error",subscriber="refused"' in metrics
    finally:
        gateway.stop()
    log = gateway.logs()
    assert "connected to broker rabbit" in log  # the log was written, at DEBUG
    for text in [log, *answers, metrics]:
        assert PASSWORD not in text and WRONG not in text
