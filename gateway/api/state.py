"""What the admin API's handlers share, held in the app under one typed key."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from gateway.config import Config
from gateway.delivery.ssrf import AddressPolicy
from gateway.delivery.transforms import TransformEngine
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


API = web.AppKey("api", ApiState)
