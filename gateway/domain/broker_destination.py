"""A subscriber that delivers into a message broker instead of over HTTP.

``destination`` on a subscriber's settings is one of two tables, told apart by ``kind``:

- ``{kind = "amqp", broker, exchange = "", routing_key}``: published to RabbitMQ (the
  default exchange ``""`` routes by queue name);
- ``{kind = "sqs", broker, queue_url}``: sent to an Amazon SQS queue (a ``.fifo`` queue
  keeps order per ordering key).

``broker`` names a ``[[brokers]]`` table of the config file, which holds the address and
the credentials; nothing here does. The routing key is a template (:class:`Template`)
over the event, checked when the subscriber is saved.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from msgspec import Meta

from gateway.domain.tagged import Tagged
from gateway.domain.validation import Invalid, Slug

__all__ = [
    "AmqpDestination",
    "BrokerDestination",
    "BrokerKind",
    "BrokerName",
    "DestinationKind",
    "SqsDestination",
    "Template",
    "destination_kind",
    "template",
]

BrokerName = Slug
"""A ``[[brokers]]`` table's name, and what a destination or a source's queue names it by."""
BrokerKind = Literal["amqp", "sqs"]
"""The kinds of broker, and so of a destination into one, or of a source's queue."""
DestinationKind = Literal["http", "amqp", "sqs"]

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FIELDS = ("source", "type", "id", "ordering_key")
_PATH = re.compile(r"^body(?:\.[^.{}]+)+$")
MAX_ROUTING_KEY_BYTES = 255  # AMQP's shortstr


class _Destination(Tagged[BrokerKind], frozen=True):
    broker: BrokerName  # of the destination's kind


class AmqpDestination(_Destination, frozen=True, kw_only=True, tag="amqp"):
    """Publish to ``exchange`` with a routing key made from ``routing_key`` (a template
    over ``{source}``, ``{type}``, ``{id}``, ``{ordering_key}`` and ``{body.a.b}``)."""

    exchange: Annotated[str, Meta(max_length=255)] = ""
    routing_key: Annotated[
        str,
        Meta(
            max_length=1024,
            description="a template: {source}, {type}, {id}, {ordering_key}, {body.a.b}",
        ),
    ]

    def __post_init__(self) -> None:
        template(self.routing_key)


class SqsDestination(_Destination, frozen=True, kw_only=True, tag="sqs"):
    """Send to the queue at ``queue_url`` (``https://sqs.<region>.amazonaws.com/<account>/
    <name>``); a name ending in ``.fifo`` is a FIFO queue."""

    queue_url: Annotated[str, Meta(min_length=8, max_length=2048)]

    def __post_init__(self) -> None:
        parts = urlsplit(self.queue_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise Invalid("queue_url", "must be an http(s):// queue URL with a host")
        if parts.username is not None or parts.password is not None:
            raise Invalid("queue_url", "must not carry credentials (user:password@)")
        if not parts.path.strip("/") or parts.query or parts.fragment:
            raise Invalid("queue_url", "must end in the queue's path (/<account>/<name>)")

    @property
    def fifo(self) -> bool:
        """Whether the queue is a FIFO queue (its name ends in ``.fifo``)."""
        return self.queue_url.rstrip("/").endswith(".fifo")


BrokerDestination = AmqpDestination | SqsDestination


def destination_kind(destination: BrokerDestination | None) -> DestinationKind:
    """``http`` for a subscriber with a URL, else its destination's kind."""
    return "http" if destination is None else destination.kind


class Template:
    """A routing-key template, read once: literal text and ``{placeholders}``."""

    __slots__ = ("_parts", "reads_body")

    def __init__(self, parts: tuple[tuple[str, tuple[str, ...] | None], ...]) -> None:
        self._parts = parts
        self.reads_body = any(path and path[0] == "body" for _, path in parts)

    def render(self, values: Mapping[str, Any]) -> str:
        """The key for an event: ``values`` holds ``source``, ``type``, ``id``,
        ``ordering_key`` and ``body`` (the body as JSON). A missing or null value, an
        object or an array renders as nothing; the key is cut at 255 bytes."""
        out: list[str] = []
        for text, path in self._parts:
            out.append(text if path is None else _text(_walk(values, path)))
        key = "".join(out)
        encoded = key.encode()
        if len(encoded) <= MAX_ROUTING_KEY_BYTES:
            return key
        return encoded[:MAX_ROUTING_KEY_BYTES].decode(errors="ignore")


@functools.lru_cache(maxsize=1024)
def template(text: str) -> Template:
    """``text`` read as a routing-key template, or :class:`Invalid` naming what is wrong."""
    parts: list[tuple[str, tuple[str, ...] | None]] = []
    at = 0
    for match in _PLACEHOLDER.finditer(text):
        _literal(text[at : match.start()], parts)
        name = match.group(1).strip()
        if name in _FIELDS:
            parts.append(("", (name,)))
        elif _PATH.match(name):
            parts.append(("", tuple(name.split("."))))
        else:
            raise Invalid(
                "routing_key",
                f"{{{match.group(1)}}} is not a placeholder: use {{source}}, {{type}}, {{id}},"
                " {ordering_key} or {body.<path>} (a dotted path into the body)",
            )
        at = match.end()
    _literal(text[at:], parts)
    return Template(tuple(parts))


def _literal(text: str, parts: list[tuple[str, tuple[str, ...] | None]]) -> None:
    if "{" in text or "}" in text:
        raise Invalid("routing_key", "has a { or } that opens or closes no placeholder")
    if text:
        parts.append((text, None))


def _walk(values: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = values
    for step in path:
        if isinstance(value, Mapping):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
