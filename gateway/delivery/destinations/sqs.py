"""Amazon SQS destinations: standard and FIFO queues, in batches of up to 10.

Deliveries for the same queue that the dispatcher starts together (one claim's worth, in
one turn of the event loop) go in one ``SendMessageBatch`` of up to 10 messages (and
256 KiB); each entry succeeds or fails on its own. A lone delivery goes by
``SendMessage``.

A FIFO queue (its name ends in ``.fifo``) keeps order per message group: the group is
the event's ordering key (a key SQS would refuse, too long or with other characters, is
replaced by its SHA-256), and an event without one is a group of its own, as HTTP
subscribers are promised no order for such events either. The deduplication id is the
event's id, so a retry after a lost answer is not queued twice (within SQS's 5 minutes).

The body is the request's body as text; a body SQS cannot carry (not UTF-8, or with
characters SQS refuses) is sent base64-encoded, with the attribute
``content-transfer-encoding = base64``. Headers become message attributes
(destinations/message.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import logging
import re
from typing import Any

import orjson

from gateway.brokers.config import SqsBroker
from gateway.brokers.sqs import sqs_client
from gateway.delivery.destinations.base import Stopwatch
from gateway.delivery.destinations.message import split_headers
from gateway.delivery.request import Outbound
from gateway.domain.broker_destination import SqsDestination
from gateway.store.records import AttemptResult, ClaimedDelivery

__all__ = ["BATCH_BYTES", "BATCH_SIZE", "SqsSender", "message_group", "sqs_message"]

log = logging.getLogger("gateway.delivery")

BATCH_SIZE = 10
BATCH_BYTES = 256 * 1024
_GROUP = re.compile(r"[0-9A-Za-z!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")
_NOT_SQS_TEXT = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NO_QUEUE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


def message_group(claimed: ClaimedDelivery) -> str:
    """A FIFO queue's ``MessageGroupId``: the ordering key, else the event's id."""
    key = claimed.ordering_key
    if key is None:
        return claimed.event_id
    if _GROUP.fullmatch(key):
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def sqs_message(claimed: ClaimedDelivery, outbound: Outbound) -> dict[str, Any]:
    """``SendMessage``'s parameters (less the queue URL) for one delivery."""
    assert isinstance(claimed.destination, SqsDestination)
    parts = split_headers(outbound.headers)
    attributes = {**parts.core, "content-type": parts.content_type}
    try:
        body = outbound.body.decode()
        encoded = _NOT_SQS_TEXT.search(body) is not None
    except UnicodeDecodeError:
        encoded = True
    if encoded:
        body = base64.b64encode(outbound.body).decode()
        attributes["content-transfer-encoding"] = "base64"
    if parts.other:
        attributes["x-gateway-headers"] = orjson.dumps(parts.other).decode()
    message: dict[str, Any] = {
        "MessageBody": body,
        "MessageAttributes": {
            name: {"DataType": "String", "StringValue": value}
            for name, value in attributes.items()
            if value
        },
    }
    if claimed.destination.fifo:
        message["MessageGroupId"] = message_group(claimed)
        message["MessageDeduplicationId"] = claimed.event_id
    return message


def _size(message: dict[str, Any]) -> int:
    attributes = message["MessageAttributes"].items()
    return len(message["MessageBody"].encode()) + sum(
        len(name) + len(value["StringValue"].encode()) + 6 for name, value in attributes
    )


@dataclasses.dataclass(slots=True)
class _Entry:
    message: dict[str, Any]
    timeout: float
    size: int
    done: asyncio.Future[AttemptResult]


class SqsSender:
    """Sends into one SQS broker (an account and region), batching per queue."""

    def __init__(self, broker: SqsBroker, *, max_connections: int) -> None:
        self.broker = broker
        self.max_connections = max_connections
        self.calls = 0
        """``SendMessage`` and ``SendMessageBatch`` calls made (the batches' effect)."""
        self._client: Any = None
        self._stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()
        self._waiting: dict[str, list[_Entry]] = {}
        self._batches: set[asyncio.Task[None]] = set()

    async def send(
        self, claimed: ClaimedDelivery, outbound: Outbound, timeout: float
    ) -> AttemptResult:
        assert isinstance(claimed.destination, SqsDestination)
        queue_url = claimed.destination.queue_url
        message = sqs_message(claimed, outbound)
        loop = asyncio.get_running_loop()
        entry = _Entry(message, timeout, _size(message), loop.create_future())
        waiting = self._waiting.setdefault(queue_url, [])
        waiting.append(entry)
        if len(waiting) == 1:  # the first of this turn: send once the turn's are in hand
            loop.call_soon(self._flush, queue_url)
        return await asyncio.shield(entry.done)

    def _flush(self, queue_url: str) -> None:
        entries = self._waiting.pop(queue_url, [])
        batch: list[_Entry] = []
        size = 0
        for entry in entries:
            if batch and (len(batch) == BATCH_SIZE or size + entry.size > BATCH_BYTES):
                self._start(queue_url, batch)
                batch, size = [], 0
            batch.append(entry)
            size += entry.size
        if batch:
            self._start(queue_url, batch)

    def _start(self, queue_url: str, batch: list[_Entry]) -> None:
        task = asyncio.create_task(self._send_batch(queue_url, batch), name="sqs batch")
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _send_batch(self, queue_url: str, batch: list[_Entry]) -> None:
        watch = Stopwatch()
        timeout = min(entry.timeout for entry in batch)
        try:
            async with asyncio.timeout(timeout):
                results = await self._call(queue_url, batch, watch)
        except TimeoutError:
            results = [watch.result("timeout", f"no answer from SQS within {timeout:g}s")] * len(
                batch
            )
        except Exception as exc:
            results = [_failure(watch, exc)] * len(batch)
        for entry, result in zip(batch, results, strict=True):
            if not entry.done.done():
                entry.done.set_result(result)

    async def _call(
        self, queue_url: str, batch: list[_Entry], watch: Stopwatch
    ) -> list[AttemptResult]:
        sqs = await self._open()
        self.calls += 1
        if len(batch) == 1:
            await sqs.send_message(QueueUrl=queue_url, **batch[0].message)
            return [watch.result("success")]
        entries = [{"Id": f"m{i}", **entry.message} for i, entry in enumerate(batch)]
        answer = await sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        failed = {f["Id"]: f for f in answer.get("Failed", [])}
        return [
            watch.result("success")
            if f"m{i}" not in failed
            else watch.result("broker_error", _entry_error(failed[f"m{i}"]))
            for i in range(len(batch))
        ]

    async def _open(self) -> Any:
        async with self._lock:
            if self._client is None:
                self._client = await self._stack.enter_async_context(
                    sqs_client(self.broker, connections=self.max_connections)
                )
            return self._client

    async def close(self) -> None:
        if self._batches:
            await asyncio.gather(*self._batches, return_exceptions=True)
        self._client = None
        await self._stack.aclose()


def _entry_error(failed: dict[str, Any]) -> str:
    return f"SQS refused the message: {failed.get('Code')}: {failed.get('Message', '')}"[:500]


def _failure(watch: Stopwatch, exc: Exception) -> AttemptResult:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        if code in _NO_QUEUE:
            return watch.result("unroutable", f"SQS has no such queue: {code}: {message}"[:500])
        return watch.result("broker_error", f"SQS refused the call: {code}: {message}"[:500])
    if isinstance(exc, BotoCoreError | OSError):
        outcome = "connection_error" if _is_connection(exc) else "broker_error"
        return watch.result(outcome, f"{type(exc).__name__}: {exc}"[:500])
    log.exception("unexpected failure sending to SQS")
    return watch.result("broker_error", f"{type(exc).__name__}: {exc}"[:500])


def _is_connection(exc: BaseException) -> bool:
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    return isinstance(exc, BotoConnectionError | HTTPClientError | OSError)
