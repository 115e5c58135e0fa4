"""The admin API in this process, on the test's database, for the delivery tests."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from gateway.api.auth import Authenticator, mint_token
from gateway.api.health import HealthState
from gateway.api.revocation import RevokedTokens
from gateway.api.state import ApiState
from gateway.config import ApiConfig, Config, DeliveryConfig
from gateway.delivery.ssrf import AddressPolicy
from gateway.observability import Metrics
from gateway.runtime.apps import build_admin_app
from gateway.store.database import Database
from gateway.store.migrate import head_revision

JWT_SECRET = "delivery-tests-jwt-secret-" + "d" * 40
CONFIG = Config(
    api=ApiConfig(jwt_secret=JWT_SECRET),
    delivery=DeliveryConfig(allowed_private_cidrs=("127.0.0.0/8",)),
)

Client = TestClient  # type: ignore[type-arg]


async def admin_client(db: Database, policy: AddressPolicy) -> Any:
    """A running admin app whose SSRF policy is ``policy``; the caller closes it."""
    health = HealthState(db, Metrics(), head_revision(), {})
    api = ApiState(CONFIG, db, policy, Metrics())
    authenticator = Authenticator.from_config(CONFIG, RevokedTokens.from_config(db, CONFIG.api))
    client = TestClient(TestServer(build_admin_app(health, api, authenticator)))
    await client.start_server()
    return client


def auth(*scopes: str) -> dict[str, str]:
    token = mint_token(CONFIG.api, JWT_SECRET, scopes or ("admin",), 600)
    return {"Authorization": f"Bearer {token}"}
