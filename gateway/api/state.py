"""What the admin API's handlers share, held in the app under one typed key."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from aiohttp import web

from gateway.config import Config
from gateway.delivery.ssrf import AddressPolicy
from gateway.delivery.transforms import TransformEngine
from gateway.domain.receive import ReaderStatus
from gateway.observability import Metrics
from gateway.store.database import Database

__all__ = ["API", "ApiState"]


@dataclasses.dataclass(slots=True)
class ApiState:
    config: Config
    db: Database
    policy: AddressPolicy
    metrics: Metrics
    transforms: TransformEngine = dataclasses.field(default_factory=TransformEngine)
    """Runs ``POST /transforms/test`` (its workers start with the first test)."""
    readers: Callable[[], Mapping[str, ReaderStatus]] = dict
    """How this process reads the sources that read a queue (none outside the processes
    that store events: roles ``all`` and ``ingress``)."""


API = web.AppKey("api", ApiState)
