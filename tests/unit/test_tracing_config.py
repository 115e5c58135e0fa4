"""[tracing] and OpenTelemetry's variables: which wins, and errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from gateway.config.tracing import trace_settings
from gateway.domain.extras import missing_extra
from gateway.observability.tracing import Tracing, parse_traceparent, shown_headers
from testkit.kept_spans import kept_tracing
from testkit.readme import readme_block


def settings(tmp_path: Path, toml: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "gateway.toml"
    path.write_text(toml)
    config = load_config(path, env={})
    return trace_settings(config.tracing, config.source_file, env or {})


def test_tracing_is_off_unless_the_file_turns_it_on(tmp_path: Path) -> None:
    assert settings(tmp_path, "", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) is None


def test_otel_sdk_disabled_turns_tracing_off_whatever_the_file_says(tmp_path: Path) -> None:
    assert settings(tmp_path, "[tracing]\nenabled = true\n", {"OTEL_SDK_DISABLED": "true"}) is None


def test_the_otel_variables_fill_what_the_file_leaves_unset(tmp_path: Path) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_SERVICE_NAME": "edge-gateway",
        "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc,x-tenant=shop",
    }
    got = settings(tmp_path, "[tracing]\nenabled = true\n", env)
    assert got is not None
    assert (got.exporter, got.endpoint) == ("otlp-grpc", "http://collector:4317")
    assert (got.sampling_ratio, got.service_name) == (0.25, "edge-gateway")
    assert got.headers == {"authorization": "Bearer abc", "x-tenant": "shop"}


def test_the_file_wins_over_the_otel_variables(tmp_path: Path) -> None:
    toml = (
        '[tracing]\nenabled = true\nexporter = "otlp-http"\n'
        'endpoint = "http://tempo:4318/"\nsampling_ratio = 0.1\n'
    )
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:1", "OTEL_TRACES_SAMPLER_ARG": "1"}
    got = settings(tmp_path, toml, env)
    assert got is not None
    assert (got.endpoint, got.sampling_ratio) == ("http://tempo:4318/v1/traces", 0.1)
    assert (got.inbound, got.service_name) == ("link", "webhook-gateway")


@pytest.mark.parametrize(
    ("toml", "env", "key"),
    [
        ('[tracing]\nexporter = "zipkin"\n', {}, "tracing.exporter"),
        ("[tracing]\nsampling_ratio = 1.5\n", {}, "tracing.sampling_ratio"),
        ('[tracing]\ninbound = "always"\n', {}, "tracing.inbound"),
        ('[tracing]\nendpoint = "collector:4318"\n', {}, "tracing.endpoint"),
        (
            "[tracing]\nenabled = true\n",
            {"OTEL_TRACES_SAMPLER_ARG": "half"},
            "tracing.sampling_ratio",
        ),
        (
            "[tracing]\nenabled = true\n",
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
            "tracing.exporter",
        ),
        (
            "[tracing]\nenabled = true\n",
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "nowhere"},
            "tracing.endpoint",
        ),
        (
            "[tracing]\nenabled = true\n",
            {"OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
            "tracing.headers",
        ),
    ],
)
def test_a_bad_tracing_setting_is_a_config_error_naming_file_and_key(
    tmp_path: Path, toml: str, env: dict[str, str], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, toml, env)
    assert caught.value.key == key
    assert caught.value.file == str(tmp_path / "gateway.toml")


def test_a_missing_extra_names_the_pip_line() -> None:
    assert missing_extra("opentelemetry.sdk", "tracing", "tracing") is None
    said = missing_extra("no_such_module_here", "tracing", "tracing")
    assert said == "tracing needs no_such_module_here: pip install 'webhook-gateway[tracing]'"


def test_an_exporter_credential_header_is_hidden_where_it_is_shown() -> None:
    shown = shown_headers({"authorization": "Bearer abc", "x-tenant": "shop"})
    assert shown == {"authorization": "[hidden]", "x-tenant": "shop"}


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
         ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
         ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", False)),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later",
         ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", None),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", None),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", None),
        ("garbage", None),
    ],
)  # fmt: skip
def test_a_traceparent_is_read_as_w3c_trace_context_says(
    value: str, parsed: tuple[str, str, bool] | None
) -> None:
    assert parse_traceparent(value) == parsed


SENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"
SENDER = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


def tracing(inbound: str, ratio: float) -> Tracing:
    return kept_tracing(ratio, inbound)[0]


@pytest.mark.parametrize(
    ("inbound", "ratio", "header", "decided"),
    [
        ("link", 1.0, SENT + "1", (None, (*SENDER, True))),
        ("link", 0.0, SENT + "1", None),
        ("trust", 0.0, SENT + "1", ((*SENDER, True), None)),
        ("trust", 1.0, SENT + "0", None),
        ("trust", 1.0, None, (None, None)),
        ("ignore", 1.0, SENT + "1", (None, None)),
        ("ignore", 0.0, SENT + "1", None),
    ],
)
def test_sampling_follows_the_inbound_policy(
    inbound: str, ratio: float, header: str | None, decided: object
) -> None:
    assert tracing(inbound, ratio).sample(header) == decided


def test_the_readme_tracing_example_is_a_config_the_gateway_reads(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(readme_block("Traces", "toml"))
    config = load_config(path, env={"OTLP_TOKEN": "Bearer abc"})
    got = trace_settings(config.tracing, config.source_file, {})
    assert got is not None
    assert (got.exporter, got.endpoint) == ("otlp-grpc", "http://otel-collector:4317")
    assert (got.sampling_ratio, got.inbound) == (0.1, "link")
    assert got.headers == {"authorization": "Bearer abc"}


def test_finished_spans_are_what_the_sdk_exporter_encodes() -> None:
    """Spans are made as tuples; the SDK's spans made of them (what its encoder writes
    when the lean one does not, and what the lean one is held to) carry every field."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from gateway.observability.otlp_encoding import group, readable

    t, keep = kept_tracing()
    root = t.start(
        "ingest", None, 1_000, {"gateway.source": "shop"}, kind="SERVER", link=(*SENDER, True)
    )
    t.span("checks", root, 1_000, 2_000)
    t.end(root, 3_000, {"gateway.outcome": "accepted"}, error="boom")
    encoded = encode_spans(readable(keep.spans, group("test")))
    (resource_spans,) = encoded.resource_spans
    (scope_spans,) = resource_spans.scope_spans
    checks, ingest = scope_spans.spans
    assert ingest.trace_id.hex() == root.ids[0] and ingest.span_id.hex() == root.ids[1]
    assert checks.parent_span_id.hex() == root.ids[1] and checks.trace_id == ingest.trace_id
    assert (ingest.start_time_unix_nano, ingest.end_time_unix_nano) == (1_000, 3_000)
    assert {a.key for a in ingest.attributes} == {"gateway.source", "gateway.outcome"}
    assert (ingest.status.code, ingest.status.message) == (2, "boom")
    assert ingest.kind == 2  # SERVER
    assert ingest.links[0].trace_id.hex() == SENDER[0]
    assert ingest.links[0].span_id.hex() == SENDER[1]
    assert {a.key: a.value.string_value for a in resource_spans.resource.attributes}[
        "service.name"
    ] == "test"


@pytest.mark.parametrize("span_id", [1, 0xABC, 2**63, 2**64 - 1])
def test_a_span_is_named_by_sixteen_hex_digits_whatever_its_id(span_id: int) -> None:
    """A span id is 8 bytes: a small one keeps its leading zeros, in the context a child
    names and in the ``traceparent`` a subscriber is sent, and reads back as itself."""
    from gateway.observability.tracing import OpenSpan

    trace_id = bytes(range(1, 17))
    span = OpenSpan("attempt", trace_id, span_id, None, 1, {}, "CLIENT", None)
    context = (trace_id.hex(), f"{span_id:016x}", True)
    assert span.ids == context
    assert span.traceparent == f"00-{context[0]}-{context[1]}-01"
    assert parse_traceparent(span.traceparent) == context
