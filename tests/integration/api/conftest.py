from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.api.auth import Authenticator
from gateway.api.health import HealthState
from gateway.api.revocation import RevokedTokens
from gateway.api.state import ApiState
from gateway.brokers.config import Broker
from gateway.config import ApiConfig, Config, DeliveryConfig
from gateway.delivery.ssrf import AddressPolicy
from gateway.domain.receive import ReaderStatus
from gateway.observability import Metrics
from gateway.runtime.apps import build_admin_app
from gateway.store.database import Database
from gateway.store.migrate import head_revision
from testkit.tokens import JWT_SECRET, mint


def api_config(**api: Any) -> Config:
    return Config(
        api=ApiConfig(jwt_secret=JWT_SECRET, **api),
        delivery=DeliveryConfig(allowed_private_cidrs=("127.0.0.0/8",)),
    )


def with_brokers(config: Config, *brokers: Broker) -> Config:
    return msgspec.structs.replace(config, brokers=brokers)


def authenticator_for(db: Database, config: Config) -> Authenticator:
    """The authenticator ``serve`` builds: tokens checked against the revoked ones in ``db``."""
    return Authenticator.from_config(config, RevokedTokens.from_config(db, config.api))


async def admin_client(
    db: Database,
    config: Config,
    authenticator: Authenticator,
    policy: AddressPolicy | None = None,
    readers: Callable[[], Mapping[str, ReaderStatus]] = dict,
) -> TestClient:  # type: ignore[type-arg]
    """The admin app, served in this process; ``policy`` is its SSRF policy (the config's
    by default), ``readers`` how the process reads its queue sources (none by default).
    The caller closes it."""
    metrics = Metrics()
    health = HealthState(db, metrics, head_revision(), {}, readers=readers)
    policy = policy or AddressPolicy(config.delivery.allowed_private_cidrs)
    api = ApiState(config, db, policy, metrics, readers=readers)
    client = TestClient(TestServer(build_admin_app(health, api, authenticator)))
    await client.start_server()
    return client


@pytest.fixture
async def api(db: Database) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    config = api_config()
    client = await admin_client(db, config, authenticator_for(db, config))
    yield client
    await client.close()


@pytest.fixture
def token() -> Callable[..., str]:
    return mint


def as_dict(value: Any) -> Any:
    return msgspec.to_builtins(value)
