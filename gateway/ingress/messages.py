"""A message read from a queue, taken as a webhook is taken: the checks that apply to it,
the same event (gateway/ingress/event.py), the same group-commit writer.

In order: size → content coding and type → the scheme's unwrapping (an SP-API message:
gateway/ingress/schemes/amazon_sp_api.py) → the scheme's verifier → event id, type and
ordering key → the writer → the COMMIT. What a message can never pass is
:class:`Poisoned` (the queue keeps it, for its own dead-letter policy); what fails now
and may pass later (the database, an overloaded writer, a certificate not fetched) is
:class:`NotStoredNow` (the message is left to come back).

A message's attributes (SQS) or headers and properties (AMQP) are its headers. Without
a ``Content-Type`` it is JSON. Without an ``event_id`` location in its source, the
broker's own id of the message (:data:`MESSAGE_ID`) is the event id when the broker
gives one: a message the queue delivers again is then stored once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Mapping

import msgspec
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.config import SourceConfig
from gateway.http.problems import Problem
from gateway.ingress.content import check_content
from gateway.ingress.event import event_from
from gateway.ingress.schemes import amazon_sp_api
from gateway.ingress.sns import CertificateUnavailable, SnsCertificates, SnsRefused
from gateway.ingress.source import Source
from gateway.ingress.traced import begin_ingest, ingest_failed, ingest_stored
from gateway.ingress.verify import VerificationFailed
from gateway.ingress.writer import GroupCommitWriter, WriterClosed, WriterOverloaded, WriterTimedOut
from gateway.observability.tracing import TRACEPARENT, OpenSpan, Parent, Tracing
from gateway.store import StoreError
from gateway.store.records import IngestEvent, IngestResult

__all__ = ["MESSAGE_ID", "MessageIntake", "NotStoredNow", "Poisoned", "QueuedMessage"]

MESSAGE_ID = "queue-message-id"
"""The header a message's broker id is stored under."""
DEFAULT_CONTENT_TYPE = "application/json"
OVERLOAD_WAIT_SECONDS = 5.0  # how long a message waits for room in an overloaded writer
_IDENTITY = frozenset({"", "identity"})


@dataclasses.dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One message as a reader got it: the broker's id for it (``None`` when it has
    none), its headers, its body."""

    id: str | None
    headers: Mapping[str, str]
    body: bytes


class Poisoned(Exception):
    """The message can never be stored as it is; ``reason`` says why (no secret in it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotStoredNow(Exception):
    """The message could not be stored now; it may be later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(slots=True, eq=False)
class MessageIntake:
    """Every reader's way from a message to a committed event."""

    writer: GroupCommitWriter
    certificates: SnsCertificates
    max_body_bytes: int

    async def take(self, source: Source, message: QueuedMessage) -> IngestResult:
        """Store ``message`` as an event of ``source``; return once it is committed.

        Raises :class:`Poisoned` or :class:`NotStoredNow`.
        """
        started = time.perf_counter()
        cfg = source.config
        limit = cfg.max_body_bytes or self.max_body_bytes
        if len(message.body) > limit:
            raise Poisoned(f"the body exceeds {limit} bytes")
        headers = _headers(message)
        body = message.body
        try:
            check_content(CIMultiDictProxy(headers), cfg)
            if cfg.scheme == "amazon-sp-api":
                unwrapped, body = await amazon_sp_api.unwrap(headers, body, self.certificates)
                headers = CIMultiDict(unwrapped)
            source.verifier.verify(headers, body, time.time())
            event = event_from(headers, _with_message_id(cfg) if message.id else cfg, body)
        except Problem as problem:
            raise Poisoned(problem.detail) from None
        except (SnsRefused, amazon_sp_api.NotANotification, VerificationFailed) as exc:
            raise Poisoned(str(exc)) from None
        except CertificateUnavailable as exc:
            raise NotStoredNow(str(exc)) from None
        tracing = self.writer.tracing
        if tracing is not None:
            sampled = tracing.sample(headers.get(TRACEPARENT))
            if sampled is not None:
                return await self._traced(tracing, event, started, *sampled)
        return await self._store(event)

    async def _traced(
        self,
        tracing: Tracing,
        event: IngestEvent,
        started: float,
        parent: Parent | None,
        link: Parent | None,
    ) -> IngestResult:
        """A sampled message's store, in its trace (ingress/traced.py)."""
        span, event = begin_ingest(tracing, event, started, parent, link, kind="CONSUMER")
        try:
            result = await self._store(event, span)
        except NotStoredNow as exc:
            ingest_failed(tracing, span, exc.reason, {"gateway.outcome": "not-stored"})
            raise
        except BaseException as exc:
            ingest_failed(tracing, span, type(exc).__name__)
            raise
        outcome = "duplicate" if result.duplicate else "accepted"
        ingest_stored(tracing, span, result, {"gateway.outcome": outcome})
        return result

    async def _store(self, event: IngestEvent, span: OpenSpan | None = None) -> IngestResult:
        """The writer's answer for ``event`` (traced: ``span`` is its ingest span),
        waiting a little for room in the writer (a reader holds few messages: it is the
        backpressure, not a refusal)."""
        deadline = time.monotonic() + OVERLOAD_WAIT_SECONDS
        while True:
            try:
                committed = self.writer.submit(event, span)
                break
            except WriterOverloaded:
                if time.monotonic() > deadline:
                    raise NotStoredNow("the writer is overloaded") from None
                await asyncio.sleep(0.05)
            except WriterClosed:
                raise NotStoredNow("the gateway is shutting down") from None
        try:
            return await committed
        except WriterTimedOut:
            raise NotStoredNow("the database is slow: no COMMIT in time") from None
        except StoreError as exc:
            raise NotStoredNow(f"the database: {exc}") from None


def _headers(message: QueuedMessage) -> CIMultiDict[str]:
    headers = CIMultiDict(message.headers)
    if "Content-Type" not in headers:
        headers["Content-Type"] = DEFAULT_CONTENT_TYPE
    if message.id:
        headers[MESSAGE_ID] = message.id
    coding = headers.get("Content-Encoding", "").strip().lower()
    if coding not in _IDENTITY:  # nothing decodes a queued body: it would be stored encoded
        raise Poisoned(f"content encoding {coding[:50]!r}: a queued body is taken unencoded")
    return headers


@functools.lru_cache(maxsize=256)
def _with_message_id(cfg: SourceConfig) -> SourceConfig:
    """``cfg`` reading the event id from the broker's id of the message, when it sets no
    location of its own."""
    if cfg.event_id is not None:
        return cfg
    return msgspec.structs.replace(cfg, event_id=MESSAGE_ID)
