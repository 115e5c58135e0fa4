"""The intake: every check a webhook meets, in order, written once; then the writer, then
the answer, counted and logged.

The checks run cheapest first: overloaded 503 (a POST, before anything else, not even a
source look-up) → another method 405 → unknown source 404 → a source that reads a queue
405 → client address, TLS and allowlists 403 → rate limits 429 → WooCommerce creation
ping 200 → content encoding and type 415 → body limit 413 → overloaded 503 → signature
401 → an XML body's hardened parse 400 → event id 400 → the group-commit writer (503
when it takes nothing now) → after the COMMIT, 202, or 200 for a duplicate (503 when the
commit failed or took too long).

Both paths call :meth:`Intake.take` with an :class:`~gateway.ingress.inbound.Arrival`
and write the :class:`~gateway.ingress.outcome.Outcome` it returns: aiohttp's request
path (ingress/routes.py) and the fast path (ingress/fastpath.py), which answers a plain
webhook from its bytes. So each answer is the same whichever path wrote it, and is
counted (``gateway_ingest_requests``, ``gateway_ack_latency_seconds``) and logged
(gateway.http.requestlog) here. An overload refusal answered from a request's bytes
(ingress/shedding.py) is :meth:`Intake.shed`, the first step of :meth:`Intake.take`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from typing import Final

from prometheus_client import Counter, Histogram

from gateway.config import IngressConfig
from gateway.http.problems import Problem, problem_body
from gateway.http.requestlog import log_answer
from gateway.ingress.admission import Guard
from gateway.ingress.content import check_content
from gateway.ingress.event import event_from
from gateway.ingress.inbound import Arrival, too_large
from gateway.ingress.looplag import LoopLag
from gateway.ingress.outcome import PING, Outcome, failed, refusal, stored
from gateway.ingress.registry import find_source
from gateway.ingress.schemes import woocommerce
from gateway.ingress.source import Source
from gateway.ingress.traced import answered, begin_ingest, ingest_raised, ingest_stored
from gateway.ingress.verify import VerificationFailed
from gateway.ingress.writer import GroupCommitWriter, WriterClosed, WriterOverloaded, WriterTimedOut
from gateway.observability import Children, Metrics
from gateway.observability.tracing import TRACEPARENT, OpenSpan, Tracing
from gateway.store import StoreError
from gateway.store.records import IngestEvent, IngestResult

__all__ = ["OVERLOADED", "UNKNOWN_SOURCE", "InFlight", "Intake"]

log = logging.getLogger("gateway.http")

OVERLOADED: Final = "the gateway is saturated; retry later"
"""The detail of the 503 that load shedding answers."""

UNKNOWN_SOURCE: Final = "(unknown)"
"""The ``source`` metric label of requests for a source that does not exist."""

_ACKED = frozenset({"accepted", "duplicate"})  # outcomes timed in the ack histogram
_MAX_SHED_BODIES = 1024  # prepared overload answers kept, one per path (the known sources')


class InFlight:
    """How many webhooks are in hand: one more from admission until answered
    (``with in_flight:``)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> None:
        self.count += 1

    def __exit__(self, *_: object) -> None:
        self.count -= 1


@dataclasses.dataclass(slots=True, eq=False)
class Intake:
    """The ingress's sources, limits and writer, and :meth:`take`, which answers one webhook."""

    config: IngressConfig
    sources: Mapping[str, Source]
    writer: GroupCommitWriter
    metrics: Metrics
    lag: LoopLag = dataclasses.field(default_factory=lambda: LoopLag(0))
    # Told the name of each source a request of which had its signature refused.
    on_signature_failure: Callable[[str], None] = lambda _: None
    tracing: Tracing | None = None
    guard: Guard = dataclasses.field(init=False)
    in_flight: InFlight = dataclasses.field(init=False, default_factory=InFlight)
    requests: Children[Counter] = dataclasses.field(init=False)  # by source, outcome
    acks: Children[Histogram] = dataclasses.field(init=False)  # by source
    shed_bodies: dict[str, bytes] = dataclasses.field(init=False, default_factory=dict)  # by path
    retry_after: Mapping[str, str] = dataclasses.field(init=False)
    _overloaded: Problem = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.guard = Guard.from_config(self.config)
        self.requests = Children(self.metrics.ingest_requests)
        self.acks = Children(self.metrics.ack_latency)
        self.retry_after = {"Retry-After": str(self.config.retry_after_seconds)}
        self._overloaded = self._unavailable(OVERLOADED, "overloaded")

    @property
    def active(self) -> int:
        """Webhooks in hand now."""
        return self.in_flight.count

    def overloaded(self, arriving: int = 0) -> bool:
        """Too much waiting already: for the database (the writer's queue), for the CPU (the
        loop runs late), or simply too many webhooks in hand at once (``arriving`` more are
        about to be, not yet counted in :attr:`active`)."""
        limit = self.config.max_concurrent_requests
        return (
            (limit > 0 and self.in_flight.count + arriving > limit)
            or self.writer.overloaded
            or self.lag.overloaded
        )

    def shed(self, name: str, path: str) -> Outcome:
        """The overload 503 for source ``name``'s webhook at ``path``: counted, not logged
        (a burst is made of them), its document made once per known source's path."""
        known = name in self.sources  # no look-up in the database while overloaded
        self.requests(name if known else UNKNOWN_SOURCE, "overloaded").inc()
        body = self.shed_bodies.get(path)
        if body is None:
            body = problem_body(self._overloaded, path)
            if known and len(self.shed_bodies) < _MAX_SHED_BODIES:
                self.shed_bodies[path] = body
        return refusal(self._overloaded, path, body)

    async def take(self, arrival: Arrival) -> Outcome:
        """Every check on ``arrival``, in order; its event stored; the answer.

        It waits only to look a source not known yet up, to read a body not in hand, and
        for the COMMIT: with the body in hand and the source known, the commit is the one
        thing it waits for (the fast path relies on it).
        """
        name, path = arrival.source, arrival.path
        if arrival.method == "POST" and self.overloaded(arriving=1):
            return self.shed(name, path)
        started = time.perf_counter()
        source = self.sources.get(name)
        if source is None:
            source = await find_source(self.sources, name)
        outcome: Outcome | None = None
        try:
            if arrival.method != "POST":
                raise Problem(405, "webhooks are sent with POST", headers={"Allow": "POST"})
            if source is None:
                raise Problem(404, f"no source named {name!r}", kind="unknown-source")
            if source.config.receive is not None:
                raise _reads_a_queue(source)
            with self.in_flight:
                outcome = await self._take(arrival, source, started)
        except Problem as problem:
            outcome = refusal(problem, path)
        except Exception:
            log.exception("unhandled error on %s %s", arrival.method, path)
        finally:  # what ends without an answer (an error, a cancelled request) is a 500
            outcome = outcome or failed(path)
            self._record(name if source is not None else UNKNOWN_SOURCE, arrival, outcome, started)
        return outcome

    async def _take(self, arrival: Arrival, source: Source, started: float) -> Outcome:
        cfg = source.config
        self.guard.admit(arrival, source)
        limit = cfg.max_body_bytes or self.config.max_body_bytes
        body: bytes | None = None
        if cfg.scheme == "woocommerce" and woocommerce.may_be_ping(
            arrival.headers, arrival.content_length
        ):
            body = await _whole_body(arrival, limit)
            content_type = arrival.headers.get("Content-Type")
            if woocommerce.is_woocommerce_ping(arrival.headers, body, content_type):
                return PING
        check_content(arrival.headers, cfg)
        if body is None:
            body = await _whole_body(arrival, limit)
        if self.overloaded():  # before any work that would be thrown away
            raise self._unavailable(OVERLOADED, "overloaded")
        try:
            source.verifier.verify(arrival.headers, body, time.time())
        except VerificationFailed as exc:
            self.on_signature_failure(cfg.name)
            raise Problem(401, exc.reason, kind="signature-invalid") from None
        event = event_from(arrival.headers, cfg, body)
        tracing, span = self.tracing, None
        if tracing is not None:
            sampled = tracing.sample(arrival.headers.get(TRACEPARENT))
            if sampled is not None:  # its store and answer in its trace (ingress/traced.py)
                span, event = begin_ingest(tracing, event, started, *sampled)
        try:
            committed = self._submit(event, span)
            try:
                result = await committed
            except (WriterTimedOut, StoreError, asyncio.CancelledError) as exc:
                raise self._failed(exc) from None
        except BaseException as exc:
            if span is not None and tracing is not None:
                ingest_raised(tracing, span, exc)
            raise
        outcome = stored(result)
        if span is not None and tracing is not None:
            ingest_stored(tracing, span, result, answered(outcome.status, outcome.label))
        return outcome

    def _failed(self, exc: BaseException) -> BaseException:
        """The 503 that stands for the writer's failure to answer (a cancellation of the
        request's own task stays one)."""
        if isinstance(exc, WriterTimedOut):
            # The writer answers with WriterTimedOut after ack_timeout_seconds (the event may
            # still commit: the sender's retry then gets 200 as a duplicate, never a copy).
            return self._unavailable("storage is slow; retry later", "storage-timeout")
        if isinstance(exc, asyncio.CancelledError):  # the request's task's, or the future's
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                return exc
        return self._storage_unavailable()

    def _submit(
        self, event: IngestEvent, span: OpenSpan | None = None
    ) -> asyncio.Future[IngestResult]:
        """Hand ``event`` (and a traced one's ingest span) to the group-commit writer; its
        future resolves after the COMMIT. A writer that takes nothing now is a 503."""
        try:
            return self.writer.submit(event, span)
        except WriterOverloaded:
            raise self._unavailable(OVERLOADED, "overloaded") from None
        except WriterClosed:
            raise self._unavailable("the gateway is shutting down", "shutting-down") from None

    def _storage_unavailable(self) -> Problem:
        return self._unavailable("storage is unavailable; retry later", "storage-unavailable")

    def _unavailable(self, detail: str, kind: str) -> Problem:
        """A 503 that tells the sender when to come back."""
        return Problem(503, detail, kind=kind, headers=self.retry_after)

    def _record(self, label: str, arrival: Arrival, outcome: Outcome, started: float) -> None:
        """Count ``outcome`` (and time it if its event is stored) and log its line."""
        seconds = time.perf_counter() - started
        self.requests(label, outcome.label).inc()
        if outcome.label in _ACKED:
            self.acks(label).observe(seconds)
        log_answer(
            arrival.method,
            arrival.path,
            arrival.source,
            outcome.status,
            outcome.headers,
            outcome.body,
            seconds,
            arrival.remote,
        )


def _reads_a_queue(source: Source) -> Problem:
    """The 405 of a source that reads its events from a queue: it allows no method here
    (an empty ``Allow``, as RFC 9110 has it for a resource turned off by configuration)."""
    receive = source.config.receive
    assert receive is not None
    return Problem(
        405,
        f"source {source.config.name!r} reads its events from a queue ({receive.kind}); it "
        "takes no webhooks",
        kind="source-reads-a-queue",
        headers={"Allow": ""},
    )


async def _whole_body(arrival: Arrival, limit: int) -> bytes:
    """The body, in hand or read: a 413 if it exceeds ``limit`` (declared or not)."""
    body = arrival.body
    if isinstance(body, bytes):
        if len(body) > limit:
            raise too_large(limit)
        return body
    return await body.read(limit)
