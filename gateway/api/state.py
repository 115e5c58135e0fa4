"""What the admin API's handlers share, held in the app under one typed key."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from gateway.config import Config
from gateway.delivery.ssrf import AddressPolicy
from gateway.observability import Metrics
from gateway.store.database import Database

__all__ = ["API", "ApiState"]


@dataclasses.dataclass(slots=True)
class ApiState:
    config: Config
    db: Database
    policy: AddressPolicy
    metrics: Metrics


API = web.AppKey("api", ApiState)
