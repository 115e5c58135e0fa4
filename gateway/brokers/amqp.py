"""An AMQP 0-9-1 connection for a broker of kind ``amqp``, through aio-pika.

The broker's URL carries its password: nothing here puts the URL in an error or a log
line (:func:`~gateway.brokers.config.hidden_url` is what may be shown). aio-pika is
imported here only, when a connection is opened: it is an optional extra.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from gateway.brokers.config import AmqpBroker

if TYPE_CHECKING:
    from aio_pika.abc import AbstractConnection

__all__ = ["amqp_errors", "open_connection"]

CONNECT_TIMEOUT_SECONDS = 10.0


def amqp_errors() -> tuple[type[BaseException], ...]:
    """What a connection, a channel or a call on them raises when the broker is gone,
    refuses, or does not answer in time."""
    from aio_pika.exceptions import AMQPException, ChannelInvalidStateError

    return (AMQPException, ChannelInvalidStateError, OSError, asyncio.TimeoutError)


async def open_connection(broker: AmqpBroker, purpose: str) -> AbstractConnection:
    """A connection to ``broker``, named for ``purpose`` in the broker's own listings
    (``rabbitmqctl list_connections client_properties``)."""
    import aio_pika

    return await aio_pika.connect(
        broker.url,
        timeout=CONNECT_TIMEOUT_SECONDS,
        client_properties={"connection_name": f"webhook-gateway {purpose}"},
    )
