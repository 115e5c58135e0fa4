"""A broker: a named connection the operator declares in ``[[brokers]]``.

Subscribers deliver into a broker and sources read from one by naming it; what connects
to it (addresses, credentials) is in the config file only, never in the API, so nothing
a token can read holds a broker's credentials. An AMQP broker's URL carries its password:
it is never shown, never logged (the Struct's ``repr`` hides it). An SQS broker holds no
credentials at all: they come from the standard AWS chain (environment, profile, the pod's
IRSA role).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from msgspec import Meta

from gateway.domain.broker_destination import BrokerKind, BrokerName
from gateway.domain.tagged import Tagged
from gateway.domain.validation import Invalid

__all__ = [
    "AmqpBroker",
    "Broker",
    "BrokerKind",
    "SqsBroker",
    "broker_problem",
    "check_brokers",
    "hidden_url",
]


class _Broker(Tagged[BrokerKind], frozen=True):
    name: BrokerName


class AmqpBroker(_Broker, frozen=True, tag="amqp"):
    """A RabbitMQ server (AMQP 0-9-1): ``amqp(s)://user:password@host:port/vhost``."""

    url: Annotated[str, Meta(min_length=8, max_length=2048)]

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in {"amqp", "amqps"} or not parts.hostname:
            raise Invalid("url", "must be an amqp:// or amqps:// URL with a host")

    def __repr__(self) -> str:
        return f"AmqpBroker(name={self.name!r}, url={hidden_url(self.url)!r})"


class SqsBroker(_Broker, frozen=True, tag="sqs"):
    """Amazon SQS in one region; ``endpoint_url`` for a VPC endpoint or an emulator."""

    region: Annotated[str, Meta(pattern=r"^[a-z0-9-]{1,32}$")] | None = None
    endpoint_url: Annotated[str, Meta(max_length=2048)] | None = None

    def __post_init__(self) -> None:
        if self.endpoint_url is not None:
            parts = urlsplit(self.endpoint_url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise Invalid("endpoint_url", "must be an http(s):// URL with a host")
            if parts.username is not None or parts.password is not None:
                raise Invalid("endpoint_url", "must not carry credentials")


Broker = AmqpBroker | SqsBroker


def hidden_url(url: str) -> str:
    """``url`` with its password replaced by ``[hidden]``: what logs and errors may show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:[hidden]@{netloc}").geturl()


def check_brokers(brokers: tuple[Broker, ...]) -> None:
    """Broker names are unique; :class:`Invalid` names the second of two."""
    seen: set[str] = set()
    for i, broker in enumerate(brokers):
        if broker.name in seen:
            raise Invalid(f"brokers[{i}].name", f"duplicate broker name {broker.name!r}")
        seen.add(broker.name)


def broker_problem(brokers: tuple[Broker, ...], name: str, kind: BrokerKind) -> str | None:
    """Why broker ``name`` cannot serve as a broker of ``kind`` (unknown, or of another
    kind), or ``None`` when it can."""
    for broker in brokers:
        if broker.name == name:
            if broker.kind != kind:
                return f"broker {name!r} is of kind {broker.kind!r}, not {kind!r}"
            return None
    known = ", ".join(repr(b.name) for b in brokers if b.kind == kind) or "none"
    return f"no broker named {name!r} in [[brokers]] (brokers of kind {kind!r}: {known})"
