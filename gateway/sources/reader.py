"""What every kind of reader is: one source's queue, read in a task of its own from
:meth:`QueueReader.start` until :meth:`QueueReader.stop`, one connection's life after
another, pausing longer after each failure in a row."""

from __future__ import annotations

import asyncio
import logging
from typing import Generic, TypeVar, cast

from gateway.brokers.config import Broker
from gateway.domain.receive import Receive
from gateway.ingress.messages import MessageIntake
from gateway.ingress.source import Source
from gateway.sources.pause import Pause, describe
from gateway.sources.tally import Tally

__all__ = ["QueueReader"]

log = logging.getLogger("gateway.sources")

B = TypeVar("B", bound=Broker)
R = TypeVar("R", bound=Receive)


class QueueReader(Generic[B, R]):
    """A reader of one source's queue (``receive``) on ``broker``; a kind says what it
    holds besides (:meth:`_prepare`), how a connection lives (:meth:`_session`) and what
    its broker's failures are (:meth:`_failures`)."""

    def __init__(
        self,
        source: Source,
        broker: B,
        intake: MessageIntake,
        tally: Tally,
        grace_seconds: float,
    ) -> None:
        self.source = source
        self.broker = broker
        self.intake = intake
        self.tally = tally
        self.grace_seconds = grace_seconds
        self._pause = Pause()
        self._task: asyncio.Task[None] | None = None
        self._prepare()

    @property
    def receive(self) -> R:
        """Where the source reads from (its kind matches the reader's)."""
        return cast(R, self.source.config.receive)

    def _prepare(self) -> None:
        """Make what the kind of reader holds besides."""

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"source-{self.source.config.name}")

    async def stop(self) -> None:
        """Stop reading; what is in hand has the grace period to be stored and settled."""
        self._pause.stop()
        self._interrupt()
        if self._task is not None:
            await self._task
        self.tally.stopped()

    async def _run(self) -> None:
        failures = self._failures()
        while not self._pause.stopping:
            try:
                await self._session()
            except failures as exc:
                self.tally.unreachable(describe(exc))
                await self._pause.after_failure()
            except Exception as exc:  # the reader outlives any one failure, a defect too
                log.exception("source %s: reading failed", self.source.config.name)
                self.tally.unreachable(describe(exc))
                await self._pause.after_failure()

    def _interrupt(self) -> None:
        """Cut short, on stop, what the reader waits for besides its pauses."""

    async def _session(self) -> None:
        """One connection's life: read until it is lost or the reader stops."""
        raise NotImplementedError

    def _failures(self) -> tuple[type[BaseException], ...]:
        """What the broker's client raises when the broker cannot be reached or refuses."""
        raise NotImplementedError
