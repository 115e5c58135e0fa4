"""The config file's subscribers and sources, brought into the database at start."""

from __future__ import annotations

import logging

from gateway.api.sources import public_spec
from gateway.brokers.libraries import missing_library
from gateway.config import Config, ConfigError
from gateway.delivery.ssrf import AddressBlocked, AddressPolicy
from gateway.domain.destination import parse_destination
from gateway.store import Conflict
from gateway.store.database import Database
from gateway.store.reconcile import reconcile_config_sources, reconcile_subscribers

__all__ = [
    "check_broker_libraries",
    "check_declared_destinations",
    "reconcile_config",
    "reconcile_declared_subscribers",
]

log = logging.getLogger("gateway")


def check_declared_destinations(config: Config) -> None:
    """A declared subscriber whose URL names a private or reserved address is a config
    error (as registering it through the API is a 422). Names are judged when delivered:
    what they resolve to where the gateway runs is not known here. Brokers are the
    operator's own addresses, not judged."""
    policy = AddressPolicy(config.delivery.allowed_private_cidrs)
    for i, sub in enumerate(config.subscribers):
        if sub.url is None:
            continue
        try:
            policy.check(parse_destination(sub.url).host)
        except AddressBlocked as exc:
            raise ConfigError(config.source_file, f"subscribers[{i}].url", str(exc)) from None


def check_broker_libraries(config: Config) -> None:
    """A declared broker whose client library is not installed (an optional extra) is a
    config error saying what to install, before anything starts."""
    for i, broker in enumerate(config.brokers):
        missing = missing_library(broker.kind)
        if missing is not None:
            raise ConfigError(config.source_file, f"brokers[{i}].kind", missing)


async def reconcile_declared_subscribers(config: Config, db: Database) -> None:
    declared = [(sub, sub.secret) for sub in config.subscribers]
    disabled = await reconcile_subscribers(db, declared)
    if declared or disabled:
        log.info(
            "config subscribers reconciled: %d declared, %d disabled", len(declared), len(disabled)
        )


async def reconcile_config(config: Config, db: Database) -> None:
    """The database made to agree with the file: subscribers first (a name taken by an API
    subscriber is a config error), then sources."""
    try:
        await reconcile_declared_subscribers(config, db)
    except Conflict as exc:
        raise ConfigError(config.source_file, "subscribers", str(exc)) from None
    await reconcile_config_sources(db, [(s.name, public_spec(s)) for s in config.sources])
