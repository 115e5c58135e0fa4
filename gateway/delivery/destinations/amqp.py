"""RabbitMQ destinations: publish with confirms; delivered means confirmed.

One robust connection per broker (it reconnects by itself) and one channel on it, in
confirm mode: every publish waits for the broker's ``basic.ack``. Messages are
persistent and ``mandatory``, so a message no queue takes comes back instead of being
dropped. A nack (a full queue that rejects publishes, say), a returned message, an
exchange that does not exist, a lost connection or no confirm within the timeout is a
failed attempt with its cause, retried by the subscriber's policy. The message's id is
the delivery's id; ``webhook-id`` (the event's id, stable across retries and
subscribers) is what a consumer dedupes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from gateway.brokers.config import AmqpBroker
from gateway.delivery.destinations.base import Stopwatch
from gateway.delivery.destinations.message import split_headers
from gateway.delivery.request import Outbound
from gateway.domain.broker_destination import AmqpDestination, template
from gateway.domain.document import body_json
from gateway.store.records import AttemptResult, ClaimedDelivery

if TYPE_CHECKING:
    import aiormq.abc
    from aio_pika.abc import AbstractChannel, AbstractRobustConnection

__all__ = ["AmqpSender", "routing_key"]

log = logging.getLogger("gateway.delivery")


def routing_key(claimed: ClaimedDelivery, destination: AmqpDestination) -> str:
    """The destination's routing-key template filled in for the claimed event."""
    keys = template(destination.routing_key)
    body = body_json(claimed.body, claimed.body_view) if keys.reads_body else None
    return keys.render(
        {
            "source": claimed.source,
            "type": claimed.event_type,
            "id": claimed.event_id,
            "ordering_key": claimed.ordering_key,
            "body": body,
        }
    )


class AmqpSender:
    """Publishes into one RabbitMQ broker."""

    def __init__(self, broker: AmqpBroker, *, connect_timeout: float) -> None:
        self.broker = broker
        self.connect_timeout = connect_timeout
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._lock = asyncio.Lock()

    async def send(
        self, claimed: ClaimedDelivery, outbound: Outbound, timeout: float
    ) -> AttemptResult:
        from aio_pika import exceptions as amqp_errors

        assert isinstance(claimed.destination, AmqpDestination)
        destination = claimed.destination
        watch = Stopwatch()
        key = routing_key(claimed, destination)
        try:
            async with asyncio.timeout(timeout):
                channel = await self._channel_for_publishing()
                await channel.basic_publish(
                    outbound.body,
                    exchange=destination.exchange,
                    routing_key=key,
                    properties=_properties(claimed, outbound),
                    mandatory=True,
                )
        except TimeoutError:
            return watch.result("timeout", f"no confirm from the broker within {timeout:g}s")
        except amqp_errors.PublishError as exc:
            return watch.result("unroutable", _returned(exc, destination, key))
        except amqp_errors.DeliveryError:
            return watch.result("broker_nack", "the broker refused the message (basic.nack)")
        except amqp_errors.ChannelNotFoundEntity:
            return watch.result(
                "unroutable", f"the broker has no exchange {destination.exchange!r}"
            )
        except amqp_errors.ChannelClosed as exc:
            return watch.result("broker_error", _describe(exc, self.broker))
        except amqp_errors.CONNECTION_EXCEPTIONS as exc:
            return watch.result("connection_error", _describe(exc, self.broker))
        return watch.result("success")

    async def _channel_for_publishing(self) -> aiormq.abc.AbstractChannel:
        """The AMQP channel under the open channel (opened, and connected, if need be).

        Published on directly (aio-pika's exchange objects would add a message object
        and a look-up per publish); exchanges are not declared: the operator's are the
        operator's, and one that does not exist fails the attempt."""
        channel = self._channel
        if channel is None or channel.is_closed:
            channel = await self._open()
        return await channel.get_underlay_channel()

    async def _open(self) -> AbstractChannel:
        async with self._lock:
            if self._channel is not None and not self._channel.is_closed:
                return self._channel
            if self._channel is not None:  # closed by the broker: not to be reopened
                with contextlib.suppress(Exception):
                    await self._channel.close()
            if self._connection is None:
                self._connection = await self._connect()
                log.info("connected to broker %s", self.broker.name)
            self._channel = await self._connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            return self._channel

    async def _connect(self) -> AbstractRobustConnection:
        """A robust connection: one lost later is made again in the background (what was
        being sent meanwhile fails, and is retried by its policy)."""
        import aio_pika

        name = f"webhook-gateway deliveries ({self.broker.name})"
        return await aio_pika.connect_robust(
            self.broker.url,
            timeout=self.connect_timeout,
            client_properties={"connection_name": name},
        )

    async def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            await connection.close()


def _properties(claimed: ClaimedDelivery, outbound: Outbound) -> Any:
    """The message's properties: persistent, its content type, the request's headers."""
    from aiormq import spec

    parts = split_headers(outbound.headers)
    return spec.Basic.Properties(
        content_type=parts.content_type,
        headers={**parts.other, **parts.core},
        delivery_mode=2,  # persistent
        message_id=claimed.id,
        message_type=claimed.event_type,
        timestamp=datetime.now(UTC),
        app_id="webhook-gateway",
    )


def _describe(exc: BaseException, broker: AmqpBroker) -> str:
    """``exc`` in a line for the attempt and the log: its class and text, never the
    broker's URL nor its password."""
    text = str(exc) or type(exc).__name__
    password = urlsplit(broker.url).password
    for secret in (broker.url, password, password and unquote(password)):
        if secret:
            text = text.replace(secret, "[hidden]")
    return f"{type(exc).__name__}: {text}"[:500]


def _returned(exc: Any, destination: AmqpDestination, key: str) -> str:
    reason = getattr(getattr(exc, "frame", None), "reply_text", None) or "returned"
    where = f"exchange {destination.exchange!r}" if destination.exchange else "the default exchange"
    return f"no queue took the message ({reason}): routing key {key!r} on {where}"
