"""Subscribers declared in the config file, brought into the database at start."""

from __future__ import annotations

import logging

from gateway.config import Config
from gateway.delivery.filters import glob_to_like
from gateway.store.database import Database
from gateway.store.reconcile import reconcile_subscribers
from gateway.store.records import SubscriberSpec

__all__ = ["reconcile_declared_subscribers"]

log = logging.getLogger("gateway")


async def reconcile_declared_subscribers(config: Config, db: Database) -> None:
    declared = []
    for sub in config.subscribers:
        spec = SubscriberSpec(
            name=sub.name,
            url=sub.url,
            description=sub.description,
            sources=sub.sources,
            event_types=sub.event_types,
            headers=sub.headers,
            timeout_seconds=sub.timeout_seconds,
            max_attempts=sub.max_attempts,
            backoff_base_seconds=sub.backoff_base_seconds,
            backoff_cap_seconds=sub.backoff_cap_seconds,
            max_in_flight=sub.max_in_flight,
            rate_limit_per_second=sub.rate_limit_per_second,
            ordered=sub.ordered,
        )
        declared.append((spec, sub.secret, [glob_to_like(p) for p in sub.event_types]))
    disabled = await reconcile_subscribers(db, declared)
    if declared or disabled:
        log.info(
            "config subscribers reconciled: %d declared, %d disabled", len(declared), len(disabled)
        )
