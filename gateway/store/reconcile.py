"""Make the database agree with the subscribers declared in the config file."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.ids import new_id
from gateway.store.database import Database
from gateway.store.errors import Conflict
from gateway.store.records import SubscriberSpec
from gateway.store.sql import QUERIES

__all__ = ["reconcile_subscribers"]


async def reconcile_subscribers(
    db: Database, declared: Sequence[tuple[SubscriberSpec, str, list[str]]]
) -> list[str]:
    """Upsert each (spec, secret, LIKE patterns); disable config subscribers no longer declared.

    Returns the names disabled. Raises :class:`Conflict` when a declared name belongs to a
    subscriber made through the API.
    """
    async with db.transaction() as conn:
        for spec, secret, likes in declared:
            row = await conn.fetchrow(
                QUERIES["upsert_config_subscriber"],
                new_id("sub"),
                spec.name,
                spec.url,
                spec.description,
                secret,
                list(spec.sources),
                list(spec.event_types),
                likes,
                dict(spec.headers),
                spec.timeout_seconds,
                spec.max_attempts,
                spec.backoff_base_seconds,
                spec.backoff_cap_seconds,
                spec.max_in_flight,
                spec.rate_limit_per_second,
                spec.ordered,
                spec.https_only,
                list(spec.forward_headers) if spec.forward_headers is not None else None,
                list(spec.retry_schedule) if spec.retry_schedule is not None else None,
                spec.max_age_seconds,
                spec.rate_limit_burst,
                spec.payload_mode,
                spec.thin_above_bytes,
            )
            if row is None:
                raise Conflict(f"subscriber {spec.name!r} exists and is managed through the API")
        rows = await conn.fetch(
            QUERIES["disable_removed_config_subscribers"], [spec.name for spec, _, _ in declared]
        )
    return [r["name"] for r in rows]
