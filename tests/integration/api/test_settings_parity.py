"""Parity: every value the admin API refuses for a subscriber or a source, ``check-config``
refuses in the config file too, naming the file and the key.

One table of bad values per concept drives both sides: the API through its HTTP
interface on a real database, ``check-config`` as the command line runs it (in this
process for the whole table, in a subprocess for a few rows).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient

from gateway import cli
from gateway.domain.source import SourceConfig
from gateway.domain.subscriber import SubscriberSettings
from testkit.processes import run_cli
from testkit.tokens import bearer

Row = tuple[str, dict[str, Any]]  # the key that must be named, and what the body changes

SECRET = "whsec_" + "A" * 32
SUBSCRIBER = {"name": "wms", "url": "http://127.0.0.1:9/hook"}
# Destinations into brokers that neither the API's config nor the file declares: a broker
# name is refused where it is set, unless something else is refused first.
AMQP = {"kind": "amqp", "broker": "rabbit", "routing_key": "orders"}
SQS = {"kind": "sqs", "broker": "aws", "queue_url": "https://sqs.eu-central-1.amazonaws.com/1/q"}
DAY = 86400

BAD_SUBSCRIBERS: list[Row] = [
    ("name", {"name": ""}),
    ("name", {"name": "x" * 101}),
    ("name", {"name": "-wms"}),
    ("name", {"name": "wms/eu"}),
    ("name", {"name": 7}),
    ("url", {"url": "http://"}),
    ("url", {"url": "https://wms.example/" + "x" * 2048}),
    ("url", {"url": "ftp://wms.example/hook"}),
    ("url", {"url": "http://127.1:8000/hook"}),
    ("url", {"url": "https://ops:pw@wms.example/hook"}),
    ("url", {"https_only": True}),  # the URL is http://
    ("description", {"description": "x" * 1001}),
    ("sources", {"sources": [""]}),
    ("sources", {"sources": ["x" * 64]}),
    ("sources", {"sources": ["shop"] * 101}),
    ("sources", {"sources": "shop"}),
    ("event_types", {"event_types": [""]}),
    ("event_types", {"event_types": ["x" * 201]}),
    ("event_types", {"event_types": ["orders/*"] * 101}),
    ("headers", {"headers": {"X-Tenant": "v" * 4097}}),
    ("headers", {"headers": {f"X-Tenant-{i}": "v" for i in range(33)}}),
    ("headers", {"headers": {"X-Tenant": 7}}),
    ("timeout_seconds", {"timeout_seconds": -5}),
    ("timeout_seconds", {"timeout_seconds": 0}),
    ("timeout_seconds", {"timeout_seconds": 301}),
    ("max_attempts", {"max_attempts": 0}),
    ("max_attempts", {"max_attempts": 101}),
    ("max_attempts", {"max_attempts": 2.5}),
    ("backoff_base_seconds", {"backoff_base_seconds": 0}),
    ("backoff_base_seconds", {"backoff_base_seconds": 7 * DAY + 1}),
    ("backoff_cap_seconds", {"backoff_cap_seconds": -1}),
    ("backoff_cap_seconds", {"backoff_cap_seconds": 7 * DAY + 1}),
    ("max_in_flight", {"max_in_flight": -3}),
    ("max_in_flight", {"max_in_flight": 0}),
    ("max_in_flight", {"max_in_flight": 10_001}),
    ("rate_limit_per_second", {"rate_limit_per_second": 0}),
    ("rate_limit_per_second", {"rate_limit_per_second": 100_001}),
    ("ordered", {"ordered": "yes"}),
    ("https_only", {"https_only": "yes"}),
    ("send_traceparent", {"send_traceparent": "yes"}),
    ("forward_headers", {"forward_headers": ["X Shopify Topic"]}),
    ("forward_headers", {"forward_headers": [""]}),
    ("forward_headers", {"forward_headers": ["X-Shopify-Topic"] * 51}),
    ("retry_schedule", {"retry_schedule": [-10]}),
    ("retry_schedule", {"retry_schedule": []}),
    ("retry_schedule", {"retry_schedule": [7 * DAY + 1]}),
    ("retry_schedule", {"retry_schedule": [5] * 101}),
    ("max_age_seconds", {"max_age_seconds": 0}),
    ("max_age_seconds", {"max_age_seconds": 30 * DAY + 1}),
    ("rate_limit_burst", {"rate_limit_burst": 0}),
    ("rate_limit_burst", {"rate_limit_burst": 100_001}),
    ("payload_mode", {"payload_mode": "half"}),
    ("thin_above_bytes", {"thin_above_bytes": -1}),
    ("thin_above_bytes", {"thin_above_bytes": (1 << 31) + 1}),
    ("filter", {"filter": "DE"}),
    ("filter", {"filter": {"body": {"sku": {"$in": ["x" * 900] * 20}}}}),  # over 16 KiB
    ("filter.metadata", {"filter": {"metadata": {"source": "api"}}}),  # Outpost's, not here
    ("filter.$gte", {"filter": {"$gte": 5}}),
    ("filter.$or", {"filter": {"$or": []}}),
    ("filter.$or[1].body.tags", {"filter": {"$or": [{"body": {"a": 1}}, {"body": {"tags": []}}]}}),
    ("filter.body.amount.$gte", {"filter": {"body": {"amount": {"$gte": [100]}}}}),
    ("filter.body.amount.$gte", {"filter": {"body": {"amount": {"$gte": 5, "currency": "EUR"}}}}),
    ("filter.body.status.$like", {"filter": {"body": {"status": {"$like": "paid"}}}}),
    ("filter.body.sku.$regex", {"filter": {"body": {"sku": {"$regex": "(TSHIRT"}}}}),
    ("filter.body.sku.$regex", {"filter": {"body": {"sku": {"$regex": "\\bTEE"}}}}),
    ("filter.body.sku.$regex", {"filter": {"body": {"sku": {"$regex": "(a+)+" * 200}}}}),
    ("filter.body.line_items..sku", {"filter": {"body": {"line_items..sku": "TEE"}}}),
    ("filter.body.country.$in[1]", {"filter": {"body": {"country": {"$in": ["DE", {"a": 1}]}}}}),
    ("filter.body.deleted_at.$exist", {"filter": {"body": {"deleted_at": {"$exist": "no"}}}}),
    ("filter.headers.x-tenant.id", {"filter": {"headers": {"x-tenant": {"id": "7"}}}}),
    ("filter.type.$startsWith", {"filter": {"type": {"$startsWith": 5}}}),
    ("transform", {"transform": {"source": "function handler(request) {"}}),
    ("transform", {"transform": {"source": ""}}),
    ("transform", {"transform": {"source": "const x = 1;"}}),
    ("transform", {"transform": {"source": "function handler(r) {}", "language": "lua"}}),
    ("transform", {"transform": {"source": "function handler(r) {}", "version": "0" * 16}}),
    ("transform", {"transform": {"source": "function handler(r) {}"}, "payload_mode": "thin"}),
    ("url", {"url": None}),  # neither a URL nor a destination
    ("destination", {"destination": {"kind": "amqp", "broker": "rabbit", "routing_key": "k"}}),
    ("destination.kind", {"url": None, "destination": {"kind": "kafka", "broker": "rabbit"}}),
    ("destination.broker", {"url": None, "destination": {"kind": "sqs", "broker": "Aws"}}),
    ("destination.broker", {"url": None, "destination": AMQP | {"broker": "nowhere"}}),
    ("destination.routing_key", {"url": None, "destination": AMQP | {"routing_key": "{nope}"}}),
    ("destination.routing_key", {"url": None, "destination": AMQP | {"routing_key": "a}b"}}),
    ("destination.exchange", {"url": None, "destination": AMQP | {"exchange": "x" * 256}}),
    ("destination.queue_url", {"url": None, "destination": SQS | {"queue_url": "ftp://q/1/a"}}),
    ("destination.queue_url", {"url": None, "destination": SQS | {"queue_url": "http://q/"}}),
    ("https_only", {"url": None, "destination": AMQP, "https_only": True}),
    # Neither the API's config nor the file declares a proxy or a TLS profile.
    ("proxy", {"proxy": "corp"}),
    ("proxy", {"proxy": "http://proxy.internal:3128"}),
    ("proxy", {"url": None, "destination": AMQP, "proxy": "direct"}),
    ("tls", {"tls": "wms"}),
    ("tls", {"tls": "/etc/webhook-gateway/tls.key"}),
    ("colour", {"colour": "red"}),
]

SOURCE = {"name": "open", "scheme": "none"}

BAD_SOURCES: list[Row] = [
    ("name", {"name": "My Shop"}),
    ("name", {"name": ""}),
    ("name", {"name": "x" * 64}),
    ("name", {"name": 7}),
    ("scheme", {"scheme": "md5"}),
    ("secret", {"scheme": "shopify"}),
    ("secret", {"scheme": "shopify", "secret": ""}),
    ("secret", {"scheme": "shopify", "secret": "  "}),
    ("secret", {"scheme": "shopify", "secret": "s", "secrets": [" "]}),
    ("secret", {"scheme": "standard-webhooks", "secret": "whsec_not base64!"}),
    ("secret", {"secret": 7}),
    ("secrets", {"secrets": "one"}),
    ("signature_header", {"scheme": "hmac", "secret": "s"}),
    ("signature_header", {"signature_header": 7}),
    ("algorithm", {"algorithm": "md5"}),
    ("encoding", {"encoding": "base32"}),
    ("signature_prefix", {"signature_prefix": 1}),
    ("timestamp_header", {"timestamp_header": 1}),
    ("tolerance_seconds", {"tolerance_seconds": "5m"}),
    ("event_id", {"event_id": 1}),
    ("event_type", {"event_type": 1}),
    ("ordering_key", {"ordering_key": 1}),
    ("allowed_cidrs", {"allowed_cidrs": ["10.0.0.0/33"]}),
    ("max_body_bytes", {"max_body_bytes": 0}),
    ("content_types", {"content_types": [1]}),
    ("rate_limit_per_second", {"rate_limit_per_second": 0}),
    ("rate_limit_burst", {"rate_limit_burst": 0}),
    ("rate_limit_burst", {"rate_limit_burst": 5}),  # without a rate
    ("replay_window_seconds", {"replay_window_seconds": -1}),
    ("replay_window_seconds", {"replay_window_seconds": 1e12}),
    ("replay_window_seconds", {"replay_window_seconds": "week"}),
    ("transform", {"transform": {"source": "function handler(request) {"}}),
    ("transform", {"transform": {"source": ""}}),
    ("transform", {"transform": {"source": "const x = 1;"}}),
    ("transform", {"transform": {"source": "function handler(r) {}", "language": "lua"}}),
    ("transform", {"transform": {"source": "function handler(r) {}", "version": "0" * 16}}),
    ("transform", {"transform": {"source": "function handler(r) {}"}, "payload_mode": "thin"}),
    ("receive", {"receive": {"kind": "kafka", "broker": "b", "queue": "q"}}),
    ("receive", {"receive": {"kind": "sqs", "broker": "aws", "queue_url": "https://sqs.x/1/q"}}),
    ("receive", {"receive": {"kind": "amqp", "broker": "rabbit", "queue": "q", "prefetch": 0}}),
    ("receive", {"scheme": "amazon-sp-api"}),
    ("colour", {"colour": "red"}),
]


def toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"


def config_file(tmp_path: Path, table: str, values: dict[str, Any]) -> Path:
    lines = ["[delivery]", 'allowed_private_cidrs = ["127.0.0.0/8"]', f"[[{table}]]"]
    lines += [f"{key} = {toml(value)}" for key, value in values.items() if value is not None]
    path = tmp_path / "gateway.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def declared_subscriber(changes: dict[str, Any]) -> dict[str, Any]:
    return {**SUBSCRIBER, "secret": SECRET, **changes}


def refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, values: dict[str, Any]
) -> tuple[int, str, Path]:
    """``check-config`` run as the command line runs it: exit code, stderr, the file."""
    path = config_file(tmp_path, table, values)
    code = cli.main(["check-config", "--config", str(path)])
    return code, capsys.readouterr().err, path


def fields_of(struct: type[msgspec.Struct]) -> set[str]:
    return {f.name for f in msgspec.structs.fields(struct)}


def test_the_tables_hold_a_bad_value_for_every_setting() -> None:
    assert fields_of(SubscriberSettings) <= {key for key, _ in BAD_SUBSCRIBERS}
    assert fields_of(SourceConfig) <= {key for key, _ in BAD_SOURCES}


async def test_every_subscriber_value_the_api_refuses_check_config_refuses_naming_the_key(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    headers = bearer(token("write"))
    accepted = await api.post("/api/v1/subscribers", json=SUBSCRIBER, headers=headers)
    assert accepted.status == 201, await accepted.text()
    assert refusals(tmp_path, capsys, "subscribers", declared_subscriber({}))[0] == 0
    missed = []
    for key, changes in BAD_SUBSCRIBERS:
        body = {**SUBSCRIBER, "name": "other", **changes}
        response = await api.post("/api/v1/subscribers", json=body, headers=headers)
        problem = await response.json()
        assert response.status == 422, (changes, problem)
        assert key in problem["detail"], (changes, problem)
        code, err, path = refusals(tmp_path, capsys, "subscribers", declared_subscriber(changes))
        if code != 2 or f": {path}: subscribers[0].{key}" not in err:
            missed.append((changes, code, err))
    assert missed == []


async def test_every_source_value_the_api_refuses_check_config_refuses_naming_the_key(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    headers = bearer(token("write"))
    accepted = await api.post("/api/v1/sources", json=SOURCE, headers=headers)
    assert accepted.status == 201, await accepted.text()
    assert refusals(tmp_path, capsys, "sources", SOURCE)[0] == 0
    missed = []
    for key, changes in BAD_SOURCES:
        body = {**SOURCE, "name": "other", **changes}
        response = await api.post("/api/v1/sources", json=body, headers=headers)
        problem = await response.json()
        assert response.status == 422, (changes, problem)
        assert key in problem["detail"], (changes, problem)
        code, err, path = refusals(tmp_path, capsys, "sources", {**SOURCE, **changes})
        if code != 2 or f": {path}: sources[0].{key}" not in err:
            missed.append((changes, code, err))
    assert missed == []


@pytest.mark.parametrize(
    ("table", "key", "values"),
    [
        ("subscribers", "timeout_seconds", declared_subscriber({"timeout_seconds": -5})),
        ("subscribers", "max_attempts", declared_subscriber({"max_attempts": 0})),
        ("subscribers", "max_in_flight", declared_subscriber({"max_in_flight": -3})),
        ("subscribers", "retry_schedule", declared_subscriber({"retry_schedule": [-10]})),
        ("subscribers", "forward_headers", declared_subscriber({"forward_headers": ["X Bad"]})),
        ("sources", "max_body_bytes", {**SOURCE, "max_body_bytes": 0}),
    ],
)
def test_the_command_line_refuses_what_the_api_refuses_naming_file_and_key(
    tmp_path: Path, table: str, key: str, values: dict[str, Any]
) -> None:
    path = config_file(tmp_path, table, values)
    result = run_cli("check-config", "--config", str(path))
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith(
        f"webhook-gateway: invalid configuration: {path}: {table}[0].{key}"
    ), result.stderr
    assert "Traceback" not in result.stderr
