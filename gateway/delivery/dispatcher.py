"""Claims due deliveries, sends them, and hands the results to the settler.

NOTIFY only wakes the dispatcher; correctness comes from polling and the claim's locks
(store/claim.py), so any number of replicas can run side by side, and every limit a
subscriber has (in flight, rate, circuit, order) holds across all of them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg

from gateway.brokers.config import Broker
from gateway.config import DeliveryConfig
from gateway.delivery.circuit import CircuitBreaker
from gateway.delivery.client import OutboundClient
from gateway.delivery.destinations import Destinations, Stopwatch
from gateway.delivery.jobs import JobRunner
from gateway.delivery.links import PayloadLinks
from gateway.delivery.outcome import decide
from gateway.delivery.reports import Reports
from gateway.delivery.request import build_request
from gateway.delivery.settler import Settler
from gateway.delivery.traced import AttemptTrace
from gateway.delivery.transformed import transform_claimed
from gateway.delivery.transforms import Reshaped, TransformEngine
from gateway.delivery.upkeep import Upkeep
from gateway.domain.broker_destination import destination_kind
from gateway.domain.operational import Emit, drop
from gateway.observability import Children, Metrics, attempt_outcome, log_event
from gateway.observability.tracing import TRACEPARENT, Tracing
from gateway.store import StoreError
from gateway.store import claim as store
from gateway.store.database import Database
from gateway.store.records import (
    TRANSFORM_ERROR,
    AttemptResult,
    ClaimedDelivery,
    Settlement,
    SettleReport,
)

__all__ = ["CHANNEL", "Dispatcher"]

CHANNEL = "gateway_deliveries"
log = logging.getLogger("gateway.delivery")
_LEASE_MARGIN_SECONDS = 1.0  # at most; half the lease's room beyond the timeout when smaller


class Dispatcher:
    """One per process; sends at most ``concurrency`` deliveries at a time."""

    def __init__(
        self,
        db: Database,
        client: OutboundClient,
        config: DeliveryConfig,
        metrics: Metrics,
        *,
        links: PayloadLinks | None = None,
        queue_db: Database | None = None,
        transforms: TransformEngine | None = None,
        brokers: tuple[Broker, ...] = (),
        emit: Emit = drop,
        tracing: Tracing | None = None,
    ) -> None:
        self.db = db
        self.tracing = tracing
        # Traced attempts: when each was claimed (ns), then its spans until settled.
        self._claimed_ns: dict[str, int] = {}
        self._traces: dict[str, AttemptTrace] = {}
        # Claims, releases and settlements: fixed-shape statements run many times a
        # second, best planned once (a pool with generic plans); ``db`` when not given.
        self.queue_db = queue_db or db
        self.client = client
        self.destinations = Destinations(client, brokers, config)
        self.config = config
        self.metrics = metrics
        self.links = links
        self.transforms = transforms or TransformEngine()
        self.token = secrets.token_hex(12)
        self.breaker = CircuitBreaker.from_config(config)
        self.settler = Settler(
            self.queue_db,
            self.breaker.evolve,
            on_settled=self._on_settled,
            on_written=self._on_written,
            on_recorded=self._on_recorded if tracing is not None else None,
        )
        self.upkeep = Upkeep(db, config, metrics)
        self.jobs = JobRunner(db, config)
        self._wake = asyncio.Event()
        # Leased deliveries waiting for a slot: a slot that opens starts the next one at
        # once instead of waiting for a claim's round trip. At most ``_prefetch`` of them.
        self._queued: collections.deque[ClaimedDelivery] = collections.deque()
        self._prefetch = max(1, min(config.claim_batch, config.concurrency) // 2)
        # Claim again once this much room opened, not after every delivery: one claim
        # statement then brings many.
        self._refill_at = max(1, min(config.claim_batch, config.concurrency) // 4)
        self._attempts = Children(metrics.delivery_attempts)  # by subscriber, outcome, kind
        self._durations = Children(metrics.attempt_duration)  # by subscriber
        self._end_to_end = Children(metrics.end_to_end)  # by subscriber
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # Deliveries waiting for their transform hold no sending slot (a hostile transform
        # must not keep other subscribers' deliveries waiting); once transformed, they wait
        # for one before any delivery not yet started.
        self._transforming: set[str] = set()
        self._awaiting_slot: set[str] = set()
        # When each claimed delivery's lease runs out, by this process's clock (read before
        # the claim, so never later than the database's): a transform may wait past it.
        self._lease_ends: dict[str, float] = {}
        self._slot_freed = asyncio.Event()
        self._names: dict[str, str] = {}
        self.reports = Reports(emit, self._names)
        self._stopping = False
        self._main: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self.running = False

    def wake(self) -> None:
        """Look for due work now (a NOTIFY arrived, or this process stored events)."""
        self._wake.set()

    def start(self) -> None:
        self.settler.start()
        self.jobs.start()
        self._main = asyncio.create_task(self._run(), name="dispatcher")

    async def stop(self, grace: float) -> None:
        """Stop claiming; let in-flight attempts finish within ``grace``; release the rest."""
        self._stopping = True
        self._wake.set()
        if self._main is not None:
            await self._main
        await self.jobs.stop()
        never_started = [claimed.id for claimed in self._queued]
        self._queued.clear()
        self._lease_ends.clear()
        self._claimed_ns.clear()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=grace)
        unfinished = list(self._tasks) + never_started
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        if unfinished:
            try:
                await store.release(self.queue_db, unfinished, self.token)
            except StoreError as exc:
                log.warning("could not release %d leases: %s", len(unfinished), exc)
        await self.settler.close()
        await self.destinations.close()
        await self.transforms.close()
        await self._close_listener()
        self.running = False

    async def _run(self) -> None:
        self.running = True
        while not self._stopping:
            await self._ensure_listener()
            await self.upkeep.run_if_due()
            self._wake.clear()
            try:
                claimed = await self._fill()
            except StoreError as exc:
                log.warning("claim failed: %s", exc)
                claimed = 0
            if claimed and self._room() > 0:
                continue  # there may be more due right now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.poll_interval_seconds)

    def _busy(self) -> int:
        """Deliveries sending, or transformed and waiting to send."""
        return len(self._tasks) - len(self._transforming)

    def _room(self) -> int:
        """How many more deliveries this process may lease now (slots and the queue)."""
        return self.config.concurrency + self._prefetch - self._busy() - len(self._queued)

    async def _fill(self) -> int:
        room = self._room()
        if room <= 0:
            return 0
        started = time.perf_counter()
        lease_ends = time.monotonic() + self.config.lease_seconds
        batch = await store.claim(
            self.queue_db,
            min(room, self.config.claim_batch),
            self.config.lease_seconds,
            self.token,
            self.config.subscriber_max_in_flight,
        )
        self.metrics.claim_seconds.observe(time.perf_counter() - started)
        self.metrics.claim_size.observe(len(batch))
        now = datetime.now(UTC)
        if self.tracing is not None:
            claimed_ns = time.time_ns()
            self._claimed_ns.update((c.id, claimed_ns) for c in batch if c.trace_id is not None)
        for claimed in batch:
            self._names[claimed.subscriber_id] = claimed.subscriber_name
            if claimed.attempts == 1 and claimed.enqueued_at is not None:
                wait = (now - claimed.enqueued_at).total_seconds()
                self.metrics.claim_wait.observe(max(0.0, wait))
        if self._stopping:  # stop() is releasing leases; these were never started
            await store.release(self.queue_db, [claimed.id for claimed in batch], self.token)
            return 0
        self._lease_ends.update((claimed.id, lease_ends) for claimed in batch)
        self._queued.extend(batch)
        self._start_queued()
        return len(batch)

    def _start_queued(self) -> None:
        while self._queued and self._busy() < self.config.concurrency:
            claimed = self._queued.popleft()
            lease_ends = self._lease_ends.pop(claimed.id, time.monotonic())
            task = asyncio.create_task(
                self._deliver(claimed, lease_ends), name=f"deliver {claimed.id}"
            )
            self._tasks[claimed.id] = task
        self.metrics.in_flight.set(len(self._tasks))

    async def _deliver(self, claimed: ClaimedDelivery, lease_ends: float) -> None:
        trace = None
        claimed_ns = self._claimed_ns.pop(claimed.id, None)
        if claimed_ns is not None and self.tracing is not None:
            trace = AttemptTrace(self.tracing, claimed, claimed_ns)
        try:
            reshaped = None
            if claimed.transform is not None:
                began = time.time_ns()
                transformed = await self._transform(claimed)
                if trace is not None:
                    failed = None if isinstance(transformed, Reshaped) else transformed.outcome
                    trace.transformed(began, failed if failed == TRANSFORM_ERROR else None)
                if not isinstance(transformed, Reshaped):
                    self._record(claimed, transformed, trace)
                    return
                reshaped = transformed
                await self._sending_slot(claimed.id)
                if not await self._lease_holds(claimed, lease_ends):
                    if trace is not None:
                        trace.abandoned("lease too short to send after the transform")
                    return
            self._record(claimed, await self._send(claimed, reshaped, trace), trace)
        finally:
            if self._tasks.get(claimed.id) is asyncio.current_task():
                self._tasks.pop(claimed.id)
            self._awaiting_slot.discard(claimed.id)
            self._slot_freed.set()
            self._slot_opened()

    def _slot_opened(self) -> None:
        if not self._stopping:
            self._start_queued()
        self.metrics.in_flight.set(len(self._tasks))
        if self._room() == self._refill_at:
            self._wake.set()  # room for a claim's worth opened (once per crossing)

    async def _transform(self, claimed: ClaimedDelivery) -> Reshaped | AttemptResult:
        """The transform's answer, waited for without holding a sending slot."""
        self._transforming.add(claimed.id)
        self._slot_opened()
        try:
            return await transform_claimed(self.transforms, claimed)
        finally:
            self._transforming.discard(claimed.id)
            self._awaiting_slot.add(claimed.id)

    async def _lease_holds(self, claimed: ClaimedDelivery, lease_ends: float) -> bool:
        """Whether the lease still outlasts an attempt (its timeout and a margin). A
        delivery that waited too long for its transform is not sent: its lease is given
        back while it is still this process's, or, once it ran out, left to whoever holds
        the delivery now (it may be claimed again already); either way it is sent once."""
        timeout = claimed.timeout_seconds or self.config.timeout_seconds
        margin = min(_LEASE_MARGIN_SECONDS, (self.config.lease_seconds - timeout) / 2)
        left = lease_ends - time.monotonic()
        if left > timeout + margin:
            return True
        if left > margin:
            with contextlib.suppress(StoreError, asyncpg.PostgresError, OSError):
                await store.release(self.queue_db, [claimed.id], self.token)
        log_event(
            log, logging.INFO, "lease too short to send after the transform",
            delivery_id=claimed.id, subscriber=claimed.subscriber_name,
        )  # fmt: skip
        return False

    async def _sending_slot(self, delivery_id: str) -> None:
        """Wait until fewer than ``concurrency`` deliveries are sending."""
        while self._busy() - len(self._awaiting_slot) >= self.config.concurrency:
            self._slot_freed.clear()
            await self._slot_freed.wait()
        self._awaiting_slot.discard(delivery_id)

    async def _send(
        self, claimed: ClaimedDelivery, reshaped: Reshaped | None, trace: AttemptTrace | None
    ) -> AttemptResult:
        """One attempt, through the sender of the delivery's destination kind."""
        timeout = claimed.timeout_seconds or self.config.timeout_seconds
        request = build_request(
            claimed, self.config.forward_headers, self.links, datetime.now(UTC), reshaped
        )
        if trace is not None and claimed.send_traceparent:
            request.headers[TRACEPARENT] = trace.traceparent
        if claimed.destination is not None and reshaped and (reshaped.path or reshaped.query):
            result = Stopwatch().result(
                TRANSFORM_ERROR, "a transform's path and query are for url subscribers"
            )
        else:
            sender = self.destinations.sender(claimed)
            result = await sender.send(claimed, request, timeout)
            if trace is not None:
                trace.sent(result)
        if claimed.transform is None:
            return result
        return dataclasses.replace(
            result,
            transform_version=claimed.transform.version,
            request_url=request.url,
            request_bytes=len(request.body),
            request_content_type=request.headers.get("Content-Type"),
        )

    def _record(
        self, claimed: ClaimedDelivery, result: AttemptResult, trace: AttemptTrace | None = None
    ) -> None:
        now = datetime.now(UTC)
        settlement = decide(claimed, result, self.token, self.config, now)
        if trace is not None:
            trace.settling()
            self._traces[claimed.id] = trace
        self.settler.add(settlement)
        name = claimed.subscriber_name
        outcome = attempt_outcome(result.outcome, result.status_code)
        self._attempts(name, outcome, destination_kind(claimed.destination)).inc()
        self._durations(name).observe(result.duration_ms / 1000)
        if settlement.status == "succeeded":
            self._end_to_end(name).observe((now - claimed.received_at).total_seconds())
        elif settlement.status == "pending":
            self.metrics.retries_scheduled.labels(name).inc()
        elif settlement.status == "dead":
            self.metrics.dead_letters.labels(name).inc()
            self.reports.dying(claimed, result)
        log_event(
            log,
            logging.DEBUG if result.ok or settlement.status == "cancelled" else logging.WARNING,
            "delivery attempt",
            delivery_id=claimed.id,
            event_id=claimed.event_id,
            trace_id=claimed.trace_id,
            subscriber=name,
            attempt=claimed.total_attempts,
            outcome=result.outcome,
            status_code=result.status_code,
            duration_ms=round(result.duration_ms, 1),
            next=settlement.status,
            error=result.error,
        )

    def _on_written(self, size: int, seconds: float) -> None:
        self.metrics.settle_seconds.observe(seconds)
        self.metrics.settle_size.observe(size)

    def _on_recorded(self, batch: list[Settlement]) -> None:
        """End the spans of the traced attempts that ``batch`` settled."""
        if self._traces:
            for settlement in batch:
                trace = self._traces.pop(settlement.delivery_id, None)
                if trace is not None:
                    trace.settled(settlement)

    def _on_settled(self, report: SettleReport) -> None:
        """Show circuit changes at once, and look for work the batch made claimable."""
        for subscriber_id, state in report.circuits.items():
            name = self._names.get(subscriber_id)
            if name is not None:
                self.metrics.circuit_open.labels(name).set(0 if state == "closed" else 1)
        for subscriber_id, reason in report.disabled.items():
            name = self._names.get(subscriber_id, subscriber_id)
            self.metrics.subscriber_disabled.labels(name).set(1)
            log_event(log, logging.WARNING, "subscriber disabled", subscriber=name, reason=reason)
        self.reports.settled(report)
        self._wake.set()  # slots, tokens or the next delivery of a key may be free now

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await self.db.listen(CHANNEL, self._on_notify)
        except StoreError:
            self._listener = None  # polling carries on; try again next round

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _close_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            try:
                await asyncio.wait_for(self._listener.close(), 2.0)
            except (TimeoutError, OSError, asyncpg.PostgresError):
                self._listener.terminate()
        self._listener = None
