"""The admin API in this process, on the test's database, for the delivery tests."""

from __future__ import annotations

from typing import Any

from gateway.config import ApiConfig, Config, DeliveryConfig
from gateway.delivery.ssrf import AddressPolicy
from gateway.store.database import Database
from testkit.tokens import JWT_SECRET, bearer, mint
from tests.integration.api import conftest

CONFIG = Config(
    api=ApiConfig(jwt_secret=JWT_SECRET),
    delivery=DeliveryConfig(allowed_private_cidrs=("127.0.0.0/8",)),
)


async def admin_client(db: Database, policy: AddressPolicy) -> Any:
    """A running admin app whose SSRF policy is ``policy``; the caller closes it."""
    authenticator = conftest.authenticator_for(db, CONFIG)
    return await conftest.admin_client(db, CONFIG, authenticator, policy)


def auth(*scopes: str) -> dict[str, str]:
    return bearer(mint(*scopes))
