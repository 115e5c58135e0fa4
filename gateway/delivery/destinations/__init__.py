"""Where deliveries go: one sender per destination kind, behind one interface.

:class:`Sender` takes a claimed delivery and its request (``build_request``'s body and
headers, so the signature, filters, transform and thin payloads are the same for every
kind) and returns the attempt's result; retries, the circuit breaker, order, flow limits
and dead letters are the dispatcher's, whatever the kind. ``http.py`` posts to a URL;
``amqp.py`` publishes into RabbitMQ; ``sqs.py`` sends to Amazon SQS. A broker's sender is
made the first time a delivery names it, and connects then.
"""

from __future__ import annotations

from gateway.brokers.config import AmqpBroker, Broker, broker_problem
from gateway.config import DeliveryConfig
from gateway.delivery.client import OutboundClient
from gateway.delivery.destinations.amqp import AmqpSender
from gateway.delivery.destinations.base import Sender, Stopwatch
from gateway.delivery.destinations.http import HttpSender
from gateway.delivery.destinations.sqs import SqsSender
from gateway.delivery.request import Outbound
from gateway.store.records import AttemptResult, ClaimedDelivery

__all__ = ["Destinations", "Sender", "Stopwatch", "broker_sender"]


def broker_sender(broker: Broker, config: DeliveryConfig) -> Sender:
    """A sender into ``broker``, connecting when it first sends."""
    if isinstance(broker, AmqpBroker):
        return AmqpSender(broker, connect_timeout=config.connect_timeout_seconds)
    return SqsSender(broker, max_connections=max(10, config.concurrency))


class Destinations:
    """The senders of one dispatcher: HTTP, and one per broker deliveries name."""

    def __init__(
        self, client: OutboundClient | None, brokers: tuple[Broker, ...], config: DeliveryConfig
    ) -> None:
        self.http = HttpSender(client) if client is not None else None
        self.config = config
        self._brokers = brokers
        self._senders: dict[str, Sender] = {}

    def sender(self, claimed: ClaimedDelivery) -> Sender:
        """The sender of the claimed delivery's destination. A broker the config file no
        longer declares (or declares of another kind) fails each attempt, saying so."""
        destination = claimed.destination
        if destination is None:
            assert self.http is not None, "made for brokers only"
            return self.http
        sender = self._senders.get(destination.broker)
        if sender is None:
            problem = broker_problem(self._brokers, destination.broker, destination.kind)
            if problem:
                return _Undeclared(problem)
            broker = next(b for b in self._brokers if b.name == destination.broker)
            sender = self._senders[destination.broker] = broker_sender(broker, self.config)
        return sender

    async def close(self) -> None:
        """Close every broker's connections (the HTTP client is closed by its owner)."""
        senders, self._senders = list(self._senders.values()), {}
        for sender in senders:
            await sender.close()


class _Undeclared:
    """The destination names a broker this process's config file does not declare."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def send(
        self, claimed: ClaimedDelivery, outbound: Outbound, timeout: float
    ) -> AttemptResult:
        return Stopwatch().result("broker_error", self.reason)

    async def close(self) -> None:
        """Nothing to close."""
