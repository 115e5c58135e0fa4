"""Operational events as values: their keys, bodies and conditions; the source ``gateway``
kept for them; the Slack and Teams examples through the real transform engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.config import ConfigError, SourceConfig, load_config, validate_source
from gateway.delivery.transforms import Reshaped, TransformEngine
from gateway.domain.document import event_document
from gateway.domain.operational import (
    GATEWAY_SOURCE,
    OperationalEvent,
    body_of,
    crossings,
    takes_source,
)
from gateway.domain.transform import Transform
from testkit.readme import readme_block
from tests.unit.test_transform_examples import CONTEXT, EXAMPLES, SAMPLES, Stored

AT = datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
DISABLED = OperationalEvent(
    "subscriber.disabled",
    "sub_1",
    AT,
    {"subscriber": {"id": "sub_1", "name": "wms-berlin"}, "reason": "410 Gone"},
)


def test_one_change_has_one_key_whichever_replica_and_clock_zone_tells_it() -> None:
    elsewhere = AT.astimezone(timezone(timedelta(hours=2)))
    again = OperationalEvent("subscriber.disabled", "sub_1", elsewhere, {"other": "data"})
    assert again.key == DISABLED.key == "subscriber.disabled:sub_1:2026-05-01T10:00:00.123456Z"
    later = OperationalEvent("subscriber.disabled", "sub_1", AT + timedelta(microseconds=1), {})
    assert later.key != DISABLED.key


def test_the_body_is_type_timestamp_and_data_with_console_links_only_when_configured() -> None:
    plain = orjson.loads(body_of(DISABLED))
    assert plain == {
        "type": "subscriber.disabled",
        "timestamp": "2026-05-01T10:00:00.123456Z",
        "data": {"subscriber": {"id": "sub_1", "name": "wms-berlin"}, "reason": "410 Gone"},
    }
    linked = orjson.loads(body_of(DISABLED, "https://gw.internal:8081/"))
    assert linked["data"]["links"] == {
        "subscriber": "https://gw.internal:8081/console/subscribers/sub_1"
    }


def test_a_subscriber_of_every_source_does_not_take_the_gateways_own_events() -> None:
    assert takes_source((), "shopify")
    assert not takes_source((), GATEWAY_SOURCE)
    assert takes_source(("gateway",), GATEWAY_SOURCE)
    assert not takes_source(("shopify",), GATEWAY_SOURCE)


def test_a_condition_starts_at_the_threshold_and_ends_only_below_half_of_it() -> None:
    assert crossings({"a": 10, "b": 9}, set(), 10) == ({"a"}, set())
    assert crossings({"a": 10}, {"a"}, 10) == (set(), set())  # still on: nothing new
    assert crossings({"a": 5}, {"a"}, 10) == (set(), set())  # hovering: no flapping
    assert crossings({"a": 4}, {"a"}, 10) == (set(), {"a"})
    assert crossings({}, {"gone"}, 10) == (set(), {"gone"})  # nothing counted: it ends


def test_a_config_source_named_gateway_is_refused_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[[sources]]\nname = "shopify"\nsecret = "s"\nscheme = "shopify"\n'
                    '[[sources]]\nname = "gateway"\nsecret = "s"\nscheme = "github"\n')  # fmt: skip
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert (info.value.file, info.value.key) == (str(path), "sources[1].name")
    assert "gateway's own" in info.value.reason


def test_a_source_named_gateway_is_refused_through_the_api_too() -> None:
    with pytest.raises(ConfigError) as info:
        validate_source(SourceConfig(name="gateway", scheme="none"))
    assert info.value.key == "source.name"


def test_the_console_url_must_be_an_absolute_http_url(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[operational_events]\nconsole_url = "gw.internal:8081"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.key == "operational_events.console_url"


async def _reshaped(example: str, event: dict[str, Any]) -> dict[str, Any]:
    engine = TransformEngine(workers=1)
    try:
        stored = Stored(orjson.dumps(event), GATEWAY_SOURCE, event["type"])
        source = (EXAMPLES / example).read_text()
        answer = await engine.apply(Transform(source=source), event_document(stored), CONTEXT)
    finally:
        await engine.close()
    assert isinstance(answer, Reshaped) and answer.body is not None
    assert answer.content_type == "application/json"
    body: dict[str, Any] = orjson.loads(answer.body)
    return body


SAMPLE = orjson.loads((SAMPLES / "subscriber-disabled.json").read_bytes())
CONSOLE = SAMPLE["data"]["links"]["subscriber"]


async def test_the_slack_example_makes_a_message_with_text_blocks_and_a_console_button() -> None:
    message = await _reshaped("slack.js", SAMPLE)
    assert message["text"] == "Subscriber wms-berlin was disabled"
    header, section, actions = message["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": message["text"]}}
    assert {"type": "mrkdwn", "text": "*Reason*\nthe endpoint answered 410 Gone"} in section[
        "fields"
    ]
    since = {"type": "mrkdwn", "text": "*Failing since*\n2026-05-01T09:58:12.402113Z"}
    assert since in section["fields"]
    assert actions["elements"][0]["url"] == CONSOLE


async def test_the_teams_example_makes_a_message_with_one_adaptive_card() -> None:
    message = await _reshaped("teams.js", SAMPLE)
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, facts = card["body"]
    assert title["text"] == "Subscriber wms-berlin was disabled"
    assert {"title": "Reason", "value": "the endpoint answered 410 Gone"} in facts["facts"]
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open in the console", "url": CONSOLE}
    ]


@pytest.mark.parametrize("example", ["slack.js", "teams.js"])
@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("subscriber.circuit_opened", {"subscriber": {"id": "sub_1", "name": "erp"}}),
        ("delivery.dead", {"subscriber": {"id": "sub_1", "name": "erp"}, "source": "shopify",
                           "event_type": "orders/create", "event_id": "evt_1", "attempts": 10,
                           "last_attempt": {"outcome": "http_error", "status_code": 500}}),
        ("source.signature_failures_spiking", {"source": "shopify", "failures": 40,
                                               "window_seconds": 300, "threshold": 20}),
        ("backlog.growing", {"subscriber": {"id": "sub_1", "name": "erp"}, "backlog": 12000,
                             "threshold": 10000}),
    ],
)  # fmt: skip
async def test_each_kind_becomes_a_message_naming_what_it_is_about(
    example: str, kind: str, data: dict[str, Any]
) -> None:
    event = {"type": kind, "timestamp": "2026-05-01T10:00:00.000000Z", "data": data}
    message = orjson.dumps(await _reshaped(example, event)).decode()
    who = data["subscriber"]["name"] if "subscriber" in data else data["source"]
    assert who in message and "undefined" not in message


def test_the_readmes_operational_events_example_is_a_config_the_gateway_reads(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(readme_block("Operational events", "toml"))
    config = load_config(path, env={"OPS_ALERTS_SECRET": "whsec_" + "A" * 32})
    (alerts,) = config.subscribers
    assert list(alerts.sources) == [GATEWAY_SOURCE]
    assert config.operational_events.console_url == "https://gateway.internal.example:8081"


@pytest.mark.parametrize("example", ["slack.js", "teams.js"])
def test_each_example_written_into_the_toml_file_is_read_as_it_is(
    tmp_path: Path, example: str
) -> None:
    source = (EXAMPLES / example).read_text()
    path = tmp_path / "gateway.toml"
    path.write_text(
        "[[subscribers]]\nname = 'slack'\nurl = 'https://hooks.slack.com/services/T/B/X'\n"
        f"secret = 'whsec_{'A' * 32}'\nsources = ['gateway']\n"
        f"transform = {{ source = '''\n{source}''' }}\n"
    )
    (slack,) = load_config(path, env={}).subscribers
    assert slack.transform is not None and slack.transform.source == source
