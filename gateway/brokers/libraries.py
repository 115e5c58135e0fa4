"""The client library each kind of broker needs: optional extras, so that an install
that speaks only HTTP carries neither."""

from __future__ import annotations

from gateway.brokers.config import BrokerKind
from gateway.domain.extras import missing_extra

__all__ = ["missing_library"]

_LIBRARIES: dict[BrokerKind, tuple[str, str]] = {
    "amqp": ("aio_pika", "rabbitmq"),
    "sqs": ("aiobotocore", "sqs"),
}


def missing_library(kind: BrokerKind) -> str | None:
    """What to install for brokers of ``kind``, when its library is not installed."""
    module, extra = _LIBRARIES[kind]
    return missing_extra(module, extra, f"a broker of kind {kind!r}")
