"""Every source that reads a queue, read: one reader each, kept in step with the sources.

A service of the processes that store events (roles ``all`` and ``ingress``): every
replica reads every such source, and the queue shares its messages among them. Sources
of the config file and of the API alike (the ingress's registry holds both): a source
added, changed or removed through the API is read, read anew or no longer read within
``ingress.sources_refresh_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from gateway.brokers.config import AmqpBroker, Broker, SqsBroker, broker_problem
from gateway.domain.receive import ReaderStatus, Receive
from gateway.ingress.messages import MessageIntake
from gateway.ingress.source import Source
from gateway.lifecycle.tasks import cancel_and_wait
from gateway.observability import Metrics
from gateway.sources.amqp import AmqpReader
from gateway.sources.reader import QueueReader
from gateway.sources.sqs import SqsReader
from gateway.sources.tally import Tally

__all__ = ["SourceReaders"]

log = logging.getLogger("gateway.sources")


class SourceReaders:
    """Starts, follows and stops the readers of ``sources`` that have ``receive``."""

    def __init__(
        self,
        sources: Mapping[str, Source],
        brokers: tuple[Broker, ...],
        intake: MessageIntake,
        metrics: Metrics,
        *,
        grace_seconds: float,
        refresh_seconds: float,
    ) -> None:
        self.sources = sources
        self.brokers = brokers
        self.intake = intake
        self.metrics = metrics
        self.grace_seconds = grace_seconds
        self.refresh_seconds = refresh_seconds
        self._readers: dict[str, QueueReader[Any, Any]] = {}
        self._refused: dict[str, Tally] = {}  # sources whose broker cannot serve them
        self._task: asyncio.Task[None] | None = None

    def statuses(self) -> dict[str, ReaderStatus]:
        """Each read source's status in this process, by name."""
        found = {name: tally.status for name, tally in self._refused.items()}
        found.update((name, reader.tally.status) for name, reader in self._readers.items())
        return dict(sorted(found.items()))

    async def start(self) -> None:
        await self.follow()
        self._task = asyncio.create_task(self._run(), name="source-readers")

    async def stop(self) -> None:
        """Stop every reader at once, each within its grace period."""
        await cancel_and_wait(self._task)
        readers, self._readers = list(self._readers.values()), {}
        await asyncio.gather(*(reader.stop() for reader in readers))

    async def follow(self) -> None:
        """Read what reads a queue now; stop reading what no longer does."""
        wanted = {n: s for n, s in self.sources.items() if s.config.receive is not None}
        for name in [n for n in self._readers if n not in wanted]:
            await self._unread(name)
        for name in [n for n in self._refused if n not in wanted]:
            self._refused.pop(name).forget()
        for name, source in wanted.items():
            reader = self._readers.get(name)
            if reader is not None and reader.source.config.receive == source.config.receive:
                reader.source = source  # its other settings take effect from its next message
                continue
            if reader is not None:
                await self._unread(name)
            await self._read(name, source)

    async def _unread(self, name: str) -> None:
        reader = self._readers.pop(name)
        await reader.stop()
        reader.tally.forget()
        log.info("source %s: no longer reading %s", name, reader.tally.status.queue)

    async def _read(self, name: str, source: Source) -> None:
        receive = source.config.receive
        assert receive is not None
        tally = Tally(name, receive, self.metrics)
        broker = self._broker(receive)
        refused = self._refused.pop(name, None)
        if isinstance(broker, str):  # an API source naming a broker the file lost
            self._refused[name] = refused or tally
            self._refused[name].unreachable(broker)
            return
        if refused is not None:
            refused.forget()
        reader: QueueReader[Any, Any]
        if isinstance(broker, SqsBroker):
            reader = SqsReader(source, broker, self.intake, tally, self.grace_seconds)
        else:
            reader = AmqpReader(source, broker, self.intake, tally, self.grace_seconds)
        await reader.start()
        self._readers[name] = reader
        log.info("source %s: reading %s %s", name, receive.kind, receive.queue_name)

    def _broker(self, receive: Receive) -> SqsBroker | AmqpBroker | str:
        """The broker ``receive`` names, or why it cannot serve."""
        problem = broker_problem(self.brokers, receive.broker, receive.kind)
        if problem is not None:
            return problem
        return next(b for b in self.brokers if b.name == receive.broker)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await self.follow()
            except Exception:  # the sources are followed again next time
                log.exception("could not follow the sources that read a queue")
