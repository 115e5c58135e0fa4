"""A source reading a RabbitMQ (AMQP 0-9-1) queue.

Consumes with manual acknowledgements and a prefetch of ``prefetch``: the broker hands
over at most that many messages not yet acknowledged. Each goes through the message
intake (gateway/ingress/messages.py) to the group-commit writer and is acknowledged only
after the COMMIT. A message not stored now is given back (``nack``, requeued) after a
pause, so a database outage does not spin; a poison message is recorded and rejected
without requeue, so the queue's dead-letter exchange takes it, if it has one. A lost
connection (the broker restarted) is opened again, with pauses growing up to half a
minute; the broker puts back every message it had handed over unacknowledged.

The queue is the operator's: it is declared passively (it must exist), never created.
The connection is this source's own: RabbitMQ advises consumers and publishers not to
share one (a publisher held back by flow control would hold the consumer too).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import decimal
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from gateway.brokers.amqp import amqp_errors, open_connection
from gateway.brokers.config import AmqpBroker
from gateway.domain.receive import AmqpReceive
from gateway.ingress.messages import NotStoredNow, Poisoned, QueuedMessage
from gateway.sources.pause import describe
from gateway.sources.reader import QueueReader

if TYPE_CHECKING:
    from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

__all__ = ["AmqpReader", "message_headers"]

log = logging.getLogger("gateway.sources")

NOT_STORED_PAUSE_SECONDS = 1.0
"""How long a message not stored is held before it is given back to the queue."""


class ConnectionLost(Exception):
    """The broker closed the connection (it stopped or restarted)."""


class AmqpReader(QueueReader[AmqpBroker, AmqpReceive]):
    """Consumes one source's queue; what is still unacknowledged after the grace period
    goes back to the queue with the connection."""

    def _prepare(self) -> None:
        self._idle = asyncio.Event()
        self._idle.set()

    def _failures(self) -> tuple[type[BaseException], ...]:
        return (*amqp_errors(), ConnectionLost)

    async def _session(self) -> None:
        """One connection's life: consume until it is lost or the reader stops."""
        connection = await open_connection(self.broker, f"source {self.source.config.name}")
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self.receive.prefetch)
            queue = await channel.get_queue(self.receive.queue, ensure=True)
            tag = await queue.consume(self._on_message, no_ack=False)
            self._pause.succeeded()
            self.tally.reading()
            await self._until_lost_or_stopped(connection)
            with contextlib.suppress(*amqp_errors()):
                await queue.cancel(tag)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self.grace_seconds)
        finally:
            with contextlib.suppress(*amqp_errors()):
                await connection.close()

    async def _until_lost_or_stopped(self, connection: AbstractConnection) -> None:
        lost = asyncio.Event()
        why: list[str] = []

        def closed(_: object, exc: BaseException | None = None) -> None:
            why.append(describe(exc) if exc is not None else "closed")
            lost.set()

        connection.close_callbacks.add(closed)
        ended = asyncio.ensure_future(lost.wait())
        stopped = asyncio.ensure_future(self._pause.until_stopped())
        try:
            await asyncio.wait({ended, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            stopped.cancel()
        if not self._pause.stopping:
            raise ConnectionLost(f"the connection was lost ({why[0] if why else 'closed'})")

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self.tally.received(1)
        self.tally.holding(1)
        self._idle.clear()
        try:
            await self._take(message)
        finally:
            self.tally.holding(-1)
            if self.tally.status.in_flight <= 0:
                self._idle.set()

    async def _take(self, message: AbstractIncomingMessage) -> None:
        message_id = message.message_id
        queued = QueuedMessage(message_id, message_headers(message), message.body)
        try:
            result = await self.intake.take(self.source, queued)
        except Poisoned as exc:
            self.tally.poisoned(message_id, exc.reason)
            await self._settle(message.reject(requeue=False))
            return
        except Exception as exc:
            if isinstance(exc, NotStoredNow):
                self.tally.not_stored(message_id, exc.reason)
            else:  # a defect: logged, and the message goes back all the same
                log.exception("source %s: message %s failed", self.source.config.name, message_id)
                self.tally.not_stored(message_id, describe(exc))
            await self._pause.wait(NOT_STORED_PAUSE_SECONDS)
            await self._settle(message.nack(requeue=True))
            return
        self.tally.stored(result)
        await self._settle(message.ack())

    async def _settle(self, answer: Awaitable[None]) -> None:
        """Acknowledge, reject or give back; on a channel already gone the broker puts
        the message back itself (a stored one then comes back as a duplicate)."""
        try:
            await answer
        except amqp_errors() as exc:
            log.info(
                "source %s: a message's settlement did not reach the broker (%s); it comes back",
                self.source.config.name,
                describe(exc),
            )


def message_headers(message: AbstractIncomingMessage) -> dict[str, str]:
    """A message's headers (those with a scalar value) and properties, as headers: its
    content type and coding, its type (``amqp-type``), its routing key
    (``amqp-routing-key``)."""
    headers: dict[str, str] = {}
    for name, value in (message.headers or {}).items():
        text = _text(value)
        if text is not None:
            headers[name] = text
    properties = {
        "Content-Type": message.content_type,
        "Content-Encoding": message.content_encoding,
        "amqp-type": message.type,
        "amqp-routing-key": message.routing_key,
    }
    headers.update((name, value) for name, value in properties.items() if value)
    return headers


def _text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return None
