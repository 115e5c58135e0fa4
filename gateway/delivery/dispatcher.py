"""Claims due deliveries, sends them, and hands the results to the settler.

NOTIFY only wakes the dispatcher; correctness comes from polling and the claim's
``FOR UPDATE SKIP LOCKED``, so any number of replicas can run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg

from gateway.config import DeliveryConfig
from gateway.delivery.client import OutboundClient
from gateway.delivery.outcome import decide
from gateway.delivery.settler import Settler
from gateway.delivery.signer import signature_header
from gateway.observability import Metrics, log_event
from gateway.store import StoreError
from gateway.store import deliveries as store
from gateway.store.database import Database
from gateway.store.records import AttemptResult, ClaimedDelivery

__all__ = ["CHANNEL", "Dispatcher", "delivery_headers"]

CHANNEL = "gateway_deliveries"
log = logging.getLogger("gateway.delivery")


def delivery_headers(claimed: ClaimedDelivery, timestamp: int) -> dict[str, str]:
    """The outbound headers: the subscriber's own, then the signed Standard Webhooks set."""
    keys = [claimed.secret]
    expires = claimed.previous_secret_expires_at
    if claimed.previous_secret and expires is not None and expires > datetime.now(UTC):
        keys.append(claimed.previous_secret)
    headers = {k: v for k, v in claimed.subscriber_headers.items() if not _reserved(k)}
    headers.update(
        {
            "Content-Type": claimed.content_type or "application/octet-stream",
            "webhook-id": claimed.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(keys, claimed.event_id, timestamp, claimed.body),
            "x-gateway-source": claimed.source,
            "x-gateway-delivery-id": claimed.id,
            "x-gateway-attempt": str(claimed.total_attempts),
        }
    )
    if claimed.event_type:
        headers["x-gateway-event-type"] = claimed.event_type
    return headers


def _reserved(name: str) -> bool:
    lower = name.lower()
    return lower.startswith(("webhook-", "x-gateway-")) or lower in {"content-type", "host"}


class Dispatcher:
    """One per process; sends at most ``concurrency`` deliveries at a time."""

    def __init__(
        self, db: Database, client: OutboundClient, config: DeliveryConfig, metrics: Metrics
    ) -> None:
        self.db = db
        self.client = client
        self.config = config
        self.metrics = metrics
        self.token = secrets.token_hex(12)
        self.settler = Settler(db)
        self._wake = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self._main: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self._last_sweep = 0.0
        self.running = False

    def wake(self) -> None:
        """Look for due work now (a NOTIFY arrived, or this process stored events)."""
        self._wake.set()

    def start(self) -> None:
        self.settler.start()
        self._main = asyncio.create_task(self._run(), name="dispatcher")

    async def stop(self, grace: float) -> None:
        """Stop claiming; let in-flight attempts finish within ``grace``; release the rest."""
        self._stopping = True
        self._wake.set()
        if self._main is not None:
            await self._main
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=grace)
        unfinished = list(self._tasks)
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        if unfinished:
            try:
                await store.release(self.db, unfinished, self.token)
            except StoreError as exc:
                log.warning("could not release %d leases: %s", len(unfinished), exc)
        await self.settler.close()
        await self._close_listener()
        self.running = False

    async def _run(self) -> None:
        self.running = True
        while not self._stopping:
            await self._ensure_listener()
            await self._sweep_if_due()
            self._wake.clear()
            try:
                claimed, asked = await self._fill()
            except StoreError as exc:
                log.warning("claim failed: %s", exc)
                claimed, asked = 0, 1
            if claimed and claimed == asked:
                continue  # there may be more due right now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.poll_interval_seconds)

    async def _fill(self) -> tuple[int, int]:
        free = self.config.concurrency - len(self._tasks)
        if free <= 0:
            return 0, 0
        asked = min(free, self.config.claim_batch)
        batch = await store.claim(self.db, asked, self.config.lease_seconds, self.token)
        for claimed in batch:
            task = asyncio.create_task(self._deliver(claimed), name=f"deliver {claimed.id}")
            self._tasks[claimed.id] = task
        self.metrics.in_flight.set(len(self._tasks))
        return len(batch), asked

    async def _deliver(self, claimed: ClaimedDelivery) -> None:
        try:
            timeout = claimed.timeout_seconds or self.config.timeout_seconds
            headers = delivery_headers(claimed, int(time.time()))
            result = await self.client.post(claimed.url, claimed.body, headers, timeout)
            self._record(claimed, result)
        finally:
            self._tasks.pop(claimed.id, None)
            self.metrics.in_flight.set(len(self._tasks))
            if len(self._tasks) == self.config.concurrency - 1:
                self._wake.set()  # a slot opened after we were saturated

    def _record(self, claimed: ClaimedDelivery, result: AttemptResult) -> None:
        now = datetime.now(UTC)
        settlement = decide(claimed, result, self.token, self.config, now)
        self.settler.add(settlement)
        name = claimed.subscriber_name
        self.metrics.delivery_attempts.labels(name, result.outcome).inc()
        self.metrics.attempt_duration.labels(name).observe(result.duration_ms / 1000)
        if settlement.status == "succeeded":
            self.metrics.end_to_end.labels(name).observe(
                (now - claimed.received_at).total_seconds()
            )
        elif settlement.status == "pending":
            self.metrics.retries_scheduled.labels(name).inc()
        elif settlement.status == "dead":
            self.metrics.dead_letters.labels(name).inc()
        log_event(
            log,
            logging.INFO if result.ok else logging.WARNING,
            "delivery attempt",
            delivery_id=claimed.id,
            event_id=claimed.event_id,
            subscriber=name,
            attempt=claimed.total_attempts,
            outcome=result.outcome,
            status_code=result.status_code,
            duration_ms=round(result.duration_ms, 1),
            next=settlement.status,
            error=result.error,
        )

    async def _sweep_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < max(1.0, self.config.lease_seconds / 4):
            return
        self._last_sweep = now
        try:
            count = await store.release_expired_leases(self.db)
        except StoreError as exc:
            log.warning("lease sweep failed: %s", exc)
            return
        if count:
            self.metrics.leases_expired.inc(count)
            log_event(log, logging.WARNING, "expired leases released", count=count)

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
