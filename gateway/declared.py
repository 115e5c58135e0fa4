"""Subscribers declared in the config file, brought into the database at start."""

from __future__ import annotations

import dataclasses
import logging

import msgspec

from gateway.config import Config
from gateway.delivery.filters import glob_to_like
from gateway.store.database import Database
from gateway.store.reconcile import reconcile_subscribers
from gateway.store.records import SubscriberSpec

__all__ = ["reconcile_declared_subscribers"]

log = logging.getLogger("gateway")


async def reconcile_declared_subscribers(config: Config, db: Database) -> None:
    declared = []
    fields = {f.name for f in dataclasses.fields(SubscriberSpec)}
    for sub in config.subscribers:
        values = msgspec.structs.asdict(sub)
        spec = SubscriberSpec(**{k: v for k, v in values.items() if k in fields})
        declared.append((spec, sub.secret, [glob_to_like(p) for p in sub.event_types]))
    disabled = await reconcile_subscribers(db, declared)
    if declared or disabled:
        log.info(
            "config subscribers reconciled: %d declared, %d disabled", len(declared), len(disabled)
        )
