"""``[tracing]``: OpenTelemetry traces of each event, exported over OTLP; off by default.

A key set in the file (or by ``GATEWAY_TRACING__<KEY>``) wins; a key left unset takes
OpenTelemetry's standard variable (``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_PROTOCOL``, ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_TRACES_SAMPLER_ARG``, each ``…_TRACES_…`` form first), then the default.
``OTEL_SDK_DISABLED=true`` turns tracing off whatever the file says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from msgspec import Meta

from gateway.config.errors import ConfigError
from gateway.config.types import Positive, Section
from gateway.domain.validation import Invalid

__all__ = ["Inbound", "TraceSettings", "TracingConfig", "trace_settings"]

Exporter = Literal["otlp-http", "otlp-grpc"]
Inbound = Literal["trust", "link", "ignore"]
Ratio = Annotated[float, Meta(ge=0, le=1, description="a number from 0 to 1")]

_DEFAULT_ENDPOINT: dict[Exporter, str] = {
    "otlp-http": "http://localhost:4318",
    "otlp-grpc": "http://localhost:4317",
}
_PROTOCOLS: dict[str, Exporter] = {"http/protobuf": "otlp-http", "grpc": "otlp-grpc"}


class TracingConfig(Section, frozen=True):
    """What ``[tracing]`` says. ``inbound``: what a sender's ``traceparent`` header does:
    ``link`` (the default) starts the event's own trace with a link to the sender's span;
    ``trust`` continues the sender's trace (and its sampling decision); ``ignore`` drops it.
    ``endpoint`` is the collector's base URL, as ``OTEL_EXPORTER_OTLP_ENDPOINT`` is
    (``/v1/traces`` is added for ``otlp-http``)."""

    enabled: bool = False
    exporter: Exporter | None = None  # default: $OTEL_EXPORTER_OTLP_PROTOCOL, else otlp-http
    endpoint: str | None = None
    headers: dict[str, str] | None = None
    sampling_ratio: Ratio | None = None  # default: $OTEL_TRACES_SAMPLER_ARG, else 1.0
    inbound: Inbound = "link"
    service_name: Annotated[str, Meta(min_length=1)] | None = None
    export_timeout_seconds: Positive = 10.0
    max_queue_size: Annotated[int, Meta(ge=1, le=1_000_000)] = 8192

    def __post_init__(self) -> None:
        if self.endpoint is not None:
            _check_endpoint(self.endpoint, "endpoint")


@dataclasses.dataclass(frozen=True, slots=True)
class TraceSettings:
    """Tracing as it runs: the file's keys with OpenTelemetry's variables filled in."""

    exporter: Exporter
    endpoint: str  # for otlp-http the traces URL itself
    headers: dict[str, str]
    sampling_ratio: float
    inbound: Inbound
    service_name: str
    export_timeout_seconds: float
    max_queue_size: int


def trace_settings(
    config: TracingConfig, file: str, env: Mapping[str, str]
) -> TraceSettings | None:
    """The settings tracing runs with, or ``None`` when it is off. A bad ``OTEL_*``
    variable is a :class:`ConfigError` naming it."""
    if not config.enabled or env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporter = config.exporter or _protocol(env, file)
    endpoint = config.endpoint
    if endpoint is None:
        name, endpoint = _first(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        if endpoint is not None:  # the signal's own variable is the whole URL
            _check_variable(name, endpoint, file)
            return _settings(config, file, env, exporter, endpoint)
        name, endpoint = _first(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
        if endpoint is not None:
            _check_variable(name, endpoint, file)
    endpoint = endpoint or _DEFAULT_ENDPOINT[exporter]
    if exporter == "otlp-http":
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return _settings(config, file, env, exporter, endpoint)


def _settings(
    config: TracingConfig, file: str, env: Mapping[str, str], exporter: Exporter, endpoint: str
) -> TraceSettings:
    return TraceSettings(
        exporter=exporter,
        endpoint=endpoint,
        headers=config.headers if config.headers is not None else _headers(env, file),
        sampling_ratio=(
            config.sampling_ratio if config.sampling_ratio is not None else _ratio(env, file)
        ),
        inbound=config.inbound,
        service_name=config.service_name or env.get("OTEL_SERVICE_NAME") or "webhook-gateway",
        export_timeout_seconds=config.export_timeout_seconds,
        max_queue_size=config.max_queue_size,
    )


def _first(env: Mapping[str, str], *names: str) -> tuple[str, str | None]:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return names[-1], None


def _protocol(env: Mapping[str, str], file: str) -> Exporter:
    name, value = _first(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
    if value is None:
        return "otlp-http"
    if value not in _PROTOCOLS:
        raise ConfigError(file, "tracing.exporter", f"${name} must be http/protobuf or grpc")
    return _PROTOCOLS[value]


def _headers(env: Mapping[str, str], file: str) -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_HEADERS``: ``key=value`` pairs, comma-separated, URL-encoded."""
    name, value = _first(env, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
    headers: dict[str, str] = {}
    for pair in (value or "").split(","):
        if not pair.strip():
            continue
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                file, "tracing.headers", f"${name} must be key=value pairs separated by commas"
            )
        headers[unquote(key.strip()).lower()] = unquote(text.strip())
    return headers


def _ratio(env: Mapping[str, str], file: str) -> float:
    sampler = env.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if sampler in {"always_on", "parentbased_always_on"}:
        return 1.0
    if sampler in {"always_off", "parentbased_always_off"}:
        return 0.0
    value = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    if not value:
        return 1.0
    try:
        ratio = float(value)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError(
            file, "tracing.sampling_ratio", "$OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1"
        )
    return ratio


def _check_endpoint(url: str, key: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Invalid(key, "must be an http:// or https:// URL with a host")


def _check_variable(name: str, url: str, file: str) -> None:
    try:
        _check_endpoint(url, name)
    except Invalid as exc:
        raise ConfigError(file, "tracing.endpoint", f"${name} {exc.reason}") from None
