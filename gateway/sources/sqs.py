"""A source reading an Amazon SQS queue.

Long polls (``wait_seconds``), one at a time per ten of ``max_in_flight`` (SQS hands
over at most ten a receive, so a reader allowed more keeps several receives waiting), for
at most ``max_in_flight`` messages in hand at once, counting those a receive may bring;
each message goes through the message intake (gateway/ingress/messages.py) to the
group-commit writer, and the messages of a receive whose events are committed are
deleted together, after the COMMIT. A message not stored (the database, an overloaded
writer) is not deleted: it comes back after its visibility timeout. A poison message is
recorded and not deleted either: the queue's redrive policy moves it to its dead-letter
queue after ``maxReceiveCount`` receives (without one, it comes back for ever; the
reader says so in the log when it starts). A kill between a COMMIT and its delete leaves
the message to come back: it is then found a duplicate (same event id) and deleted.

Stopping: no further receive; the messages in hand have the grace period to be stored
and deleted; those still in hand after it are made visible again at once, for another
replica to take.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from gateway.brokers.config import SqsBroker
from gateway.brokers.sqs import sqs_client, sqs_errors
from gateway.domain.receive import SqsReceive
from gateway.ingress.messages import NotStoredNow, Poisoned, QueuedMessage
from gateway.sources.pause import Backoff, describe
from gateway.sources.reader import QueueReader

__all__ = ["SqsReader", "message_headers"]

log = logging.getLogger("gateway.sources")

MAX_BATCH = 10  # SQS's most messages per receive and per delete


class SqsReader(QueueReader[SqsBroker, SqsReceive]):
    """Reads one source's SQS queue."""

    def _prepare(self) -> None:
        self._room = asyncio.Event()
        self._batches: set[asyncio.Task[None]] = set()
        self._held: set[str] = set()  # receipt handles of messages not yet decided
        self._reserved = 0  # room the receives under way may fill
        self._receiving: set[asyncio.Future[Any]] = set()

    def _interrupt(self) -> None:
        self._room.set()
        for receive in self._receiving:
            receive.cancel()

    def _failures(self) -> tuple[type[BaseException], ...]:
        return sqs_errors()

    async def _session(self) -> None:
        connections = 2 + -(-self.receive.max_in_flight // MAX_BATCH)
        async with sqs_client(self.broker, connections=connections) as client:
            await self._check_redrive(client)
            await self._read(client)

    async def _read(self, client: Any) -> None:
        pollers = -(-self.receive.max_in_flight // MAX_BATCH)
        try:
            await asyncio.gather(*(self._poll(client) for _ in range(pollers)))
        finally:
            await self._drain(client)

    async def _poll(self, client: Any) -> None:
        """One long poll after another, for as many messages as there is room for."""
        backoff = Backoff()
        while not self._pause.stopping:
            count = self.receive.max_in_flight - self.tally.status.in_flight - self._reserved
            if count <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            count = min(count, MAX_BATCH)
            self._reserved += count
            try:
                messages = await self._receive(client, count)
            except sqs_errors() as exc:
                self.tally.unreachable(describe(exc))
                await self._pause.after_failure(backoff)
                continue
            finally:
                self._reserved -= count
            backoff.succeeded()
            self.tally.reading()
            if messages:
                self._hold(client, messages)
            else:
                self._room.set()  # the room it held is free again

    async def _receive(self, client: Any, count: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            "QueueUrl": self.receive.queue_url,
            "MaxNumberOfMessages": count,
            "WaitTimeSeconds": self.receive.wait_seconds,
            "MessageAttributeNames": ["All"],
        }
        if self.receive.visibility_timeout_seconds is not None:
            params["VisibilityTimeout"] = self.receive.visibility_timeout_seconds
        receiving = asyncio.ensure_future(client.receive_message(**params))
        self._receiving.add(receiving)
        try:
            answer = await receiving
        except asyncio.CancelledError:
            if self._pause.stopping and not _cancelling():
                return []  # stop() cancelled the long poll
            raise
        finally:
            self._receiving.discard(receiving)
        return list(answer.get("Messages", ()))

    def _hold(self, client: Any, messages: list[dict[str, Any]]) -> None:
        self.tally.received(len(messages))
        self.tally.holding(len(messages))
        self._held.update(message["ReceiptHandle"] for message in messages)
        batch = asyncio.create_task(self._take_batch(client, messages))
        self._batches.add(batch)
        batch.add_done_callback(self._batches.discard)

    async def _take_batch(self, client: Any, messages: list[dict[str, Any]]) -> None:
        try:
            handles = await asyncio.gather(*(self._take(m) for m in messages))
            await self._delete(client, [h for h in handles if h is not None])
        finally:
            self.tally.holding(-len(messages))
            self._room.set()

    async def _take(self, message: dict[str, Any]) -> str | None:
        """The message's receipt handle once its event is committed; ``None`` when it is
        left on the queue."""
        handle: str = message["ReceiptHandle"]
        message_id = message.get("MessageId")
        queued = QueuedMessage(message_id, message_headers(message), message["Body"].encode())
        stored = None
        try:
            result = await self.intake.take(self.source, queued)
        except Poisoned as exc:
            self.tally.poisoned(message_id, exc.reason)
        except NotStoredNow as exc:
            self.tally.not_stored(message_id, exc.reason)
        except Exception as exc:  # a defect: the message stays on the queue, logged
            log.exception("source %s: message %s failed", self.source.config.name, message_id)
            self.tally.not_stored(message_id, describe(exc))
        else:
            self.tally.stored(result)
            stored = handle
        self._held.discard(handle)  # decided (a cancelled one stays held: it is given back)
        return stored

    async def _delete(self, client: Any, handles: list[str]) -> None:
        if not handles:
            return
        entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)]
        try:
            answer = await client.delete_message_batch(
                QueueUrl=self.receive.queue_url, Entries=entries
            )
            failed = [f"{f.get('Code')}: {f.get('Message')}" for f in answer.get("Failed", ())]
        except sqs_errors() as exc:
            failed = [describe(exc)] * len(handles)
        if failed:  # they come back, and are found duplicates then
            log.warning(
                "source %s: %d stored messages not deleted (they come back and are found "
                "duplicates): %s",
                self.source.config.name,
                len(failed),
                failed[0],
            )

    async def _drain(self, client: Any) -> None:
        """Give the batches in hand the grace period; give back what is left of them."""
        if self._batches:
            _, late = await asyncio.wait(set(self._batches), timeout=self.grace_seconds)
            for batch in late:
                batch.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        held, self._held = list(self._held), set()
        for start in range(0, len(held), MAX_BATCH):
            entries = [
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for i, h in enumerate(held[start : start + MAX_BATCH])
            ]
            with contextlib.suppress(*sqs_errors()):
                await client.change_message_visibility_batch(
                    QueueUrl=self.receive.queue_url, Entries=entries
                )

    async def _check_redrive(self, client: Any) -> None:
        """Say once, at start, when the queue has no dead-letter queue: a poison message
        would come back for ever."""
        try:
            answer = await client.get_queue_attributes(
                QueueUrl=self.receive.queue_url, AttributeNames=["RedrivePolicy"]
            )
        except sqs_errors():
            return  # no permission to read it, or not reachable now: the receive will say
        if "RedrivePolicy" not in answer.get("Attributes", {}):
            log.warning(
                "source %s: queue %s has no redrive policy: a poison message comes back "
                "after every visibility timeout, for ever (give the queue a dead-letter queue)",
                self.source.config.name,
                self.receive.queue_url,
            )


def message_headers(message: Mapping[str, Any]) -> dict[str, str]:
    """A message's String and Number attributes, as headers (Binary ones are left off)."""
    headers: dict[str, str] = {}
    for name, attribute in message.get("MessageAttributes", {}).items():
        value = attribute.get("StringValue")
        if value is not None and str(attribute.get("DataType", "")).startswith(("String", "Num")):
            headers[name] = value
    return headers


def _cancelling() -> bool:
    """Whether the running task itself is being cancelled (not just what it awaited)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
