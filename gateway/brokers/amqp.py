"""A RabbitMQ connection (aio-pika): robust, so it reconnects by itself after a loss.

aio-pika is imported here only, and only when a connection is opened (an optional
extra: gateway/brokers/extras.py). Errors are described without the broker's URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from gateway.brokers.config import AmqpBroker

if TYPE_CHECKING:
    from aio_pika.abc import AbstractRobustConnection

__all__ = ["connect", "describe_error"]


async def connect(broker: AmqpBroker, *, timeout: float) -> AbstractRobustConnection:
    """A robust connection to ``broker``; raises when the first connection fails (later
    losses are repaired in the background, and what was sent meanwhile fails)."""
    import aio_pika

    return await aio_pika.connect_robust(
        broker.url,
        timeout=timeout,
        client_properties={"connection_name": f"webhook-gateway ({broker.name})"},
    )


def describe_error(exc: BaseException, broker: AmqpBroker) -> str:
    """``exc`` in a line for logs and attempts: its class and text, never the URL's
    password (aiormq names the URL in some of its errors)."""
    text = str(exc) or type(exc).__name__
    password = urlsplit(broker.url).password
    for secret in (broker.url, password, password and unquote(password)):
        if secret:
            text = text.replace(secret, "[hidden]")
    return f"{type(exc).__name__}: {text}"[:500]
