"""Revoked tokens: refused at once where revoked, by every other replica within the bound,
and with 503 rather than let through while a replica cannot read the revocations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.api.auth import AUTHENTICATOR, Authenticator, unverified_claims
from gateway.api.revocation import RevokedTokens
from gateway.config import Config
from gateway.store import StoreUnavailable
from gateway.store import tokens as store
from gateway.store.database import Database
from testkit.polling import until
from testkit.tcpproxy import FaultProxy
from testkit.tokens import bearer, mint
from tests.integration.api.conftest import admin_client, api_config, authenticator_for

REVOKED = "/api/v1/tokens/revoked"
SUBSCRIBERS = "/api/v1/subscribers"
REFRESH = 0.3  # api.revocation_refresh_seconds in these tests

Client = TestClient  # type: ignore[type-arg]


def jti_of(token: str) -> str:
    jti: str = unverified_claims(token)["jti"]
    return jti


async def revoke(client: Client, admin: str, token: str, **extra: Any) -> Any:
    response = await client.post(
        REVOKED, json={"jti": jti_of(token), **extra}, headers=bearer(admin)
    )
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.fixture
def config() -> Config:
    return api_config(revocation_refresh_seconds=REFRESH)


@pytest.fixture
async def replicas(db: Database, config: Config) -> AsyncIterator[tuple[Client, Client]]:
    """Two admin apps on one database, each with its own authenticator and revocations."""
    first = await admin_client(db, config, authenticator_for(db, config))
    second = await admin_client(db, config, authenticator_for(db, config))
    yield first, second
    await first.close()
    await second.close()


async def test_a_revoked_token_is_refused_at_once_saying_so_and_other_tokens_still_work(
    replicas: tuple[Client, Client], token: Callable[..., str]
) -> None:
    here, _ = replicas
    admin, victim = token("admin"), token("read")
    assert (await here.get(SUBSCRIBERS, headers=bearer(victim))).status == 200

    await revoke(here, admin, victim)

    refused = await here.get(SUBSCRIBERS, headers=bearer(victim))
    assert refused.status == 401
    assert refused.content_type == "application/problem+json"
    assert (await refused.json())["detail"] == "the token has been revoked"
    assert (await here.get(SUBSCRIBERS, headers=bearer(admin))).status == 200
    assert (await here.get(SUBSCRIBERS, headers=bearer(token("read")))).status == 200


async def test_another_replica_refuses_a_revoked_token_within_the_refresh_interval(
    replicas: tuple[Client, Client], token: Callable[..., str]
) -> None:
    here, there = replicas
    admin, victim = token("admin"), token("read")
    assert (await there.get(SUBSCRIBERS, headers=bearer(victim))).status == 200

    await revoke(here, admin, victim)
    revoked_at = time.monotonic()

    async def refused() -> int | None:
        status = (await there.get(SUBSCRIBERS, headers=bearer(victim))).status
        return None if status == 200 else status

    status = await until(refused, REFRESH + 2, 0.02)
    refused_after = time.monotonic() - revoked_at

    assert status == 401
    assert refused_after <= REFRESH + 0.1, refused_after  # the bound, and a poll's time


async def test_revoking_twice_is_harmless_and_keeps_the_first_revocation(
    api: Client, token: Callable[..., str]
) -> None:
    admin = mint("admin", subject="alice")
    victim = token("read")
    first = await revoke(api, admin, victim, reason="laptop stolen")
    second = await revoke(api, admin, victim, reason="again")

    assert second["revoked_at"] == first["revoked_at"]
    assert second["reason"] == "laptop stolen"
    assert second["revoked_by"] == "alice"  # the subject of the admin token
    listed = await (await api.get(REVOKED, headers=bearer(admin))).json()
    assert [entry["jti"] for entry in listed["data"]] == [jti_of(victim)]


async def test_revocations_are_listed_newest_first_a_page_at_a_time(
    api: Client, token: Callable[..., str]
) -> None:
    admin = token("admin")
    victims = [token("read") for _ in range(5)]
    for victim in victims:
        await revoke(api, admin, victim)

    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        page = await (await api.get(f"{REVOKED}?limit=2{cursor}", headers=bearer(admin))).json()
        seen += [entry["jti"] for entry in page["data"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == [jti_of(v) for v in reversed(victims)]


async def test_only_an_admin_token_may_revoke_or_list(
    api: Client, token: Callable[..., str]
) -> None:
    victim = token("read")
    for scope in ("read", "write", "replay"):
        answer = await api.post(REVOKED, json={"jti": jti_of(victim)}, headers=bearer(token(scope)))
        assert answer.status == 403
        assert (await api.get(REVOKED, headers=bearer(token(scope)))).status == 403
    assert (await api.get(SUBSCRIBERS, headers=bearer(victim))).status == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"jti": ""}, 422),
        ({"jti": "x" * 257}, 422),
        ({"jti": "abc", "expires_at": "tomorrow"}, 422),
        ({"jti": "abc", "other": 1}, 422),
        ({"jti": "a\u0000b"}, 400),
    ],
)
async def test_a_bad_revocation_is_a_problem_never_a_500(
    api: Client, token: Callable[..., str], body: dict[str, Any], status: int
) -> None:
    answer = await api.post(REVOKED, json=body, headers=bearer(token("admin")))
    assert answer.status == status, await answer.text()
    assert answer.content_type == "application/problem+json"


async def test_a_revocation_made_while_the_list_reloads_is_not_lost(
    db: Database, config: Config, token: Callable[..., str]
) -> None:
    """The replica that revokes refuses at once, even if a reload that began before the
    revocation was written ends after it."""
    revoked = RevokedTokens.from_config(db, config.api)
    await revoked.reload()
    reloading = asyncio.create_task(revoked.reload())
    await asyncio.sleep(0)  # the reload's query is on its way
    revoked.add("revoked-meanwhile")
    await reloading
    assert revoked.is_revoked("revoked-meanwhile")


async def test_while_the_revocations_cannot_be_read_every_token_is_refused_with_503(
    db: Database, config: Config, database_proxy: FaultProxy, token: Callable[..., str]
) -> None:
    """Fail closed: past the refresh interval without a reload, a revocation made on
    another replica could be missed, so no token is taken; one known revoked stays 401."""
    through_proxy = await Database.connect(database_proxy.url, min_size=1, max_size=2)
    revoked = RevokedTokens(through_proxy, REFRESH, config.api.jwt_leeway_seconds)
    client = await admin_client(db, config, Authenticator.from_config(config, revoked))
    try:
        good, known = token("read"), token("read")
        await revoke(client, token("admin"), known)
        assert (await client.get(SUBSCRIBERS, headers=bearer(good))).status == 200

        database_proxy.sever()
        await asyncio.sleep(REFRESH + 0.2)
        away = await client.get(SUBSCRIBERS, headers=bearer(good))
        assert away.status == 503
        assert away.content_type == "application/problem+json"
        assert away.headers["Retry-After"]
        assert (await client.get(SUBSCRIBERS, headers=bearer(known))).status == 401

        database_proxy.restore()

        async def answered() -> int | None:
            status = (await client.get(SUBSCRIBERS, headers=bearer(good))).status
            return None if status == 503 else status

        await asyncio.sleep(0.05)
        status = await until(answered, 10, 0.05)
        assert status == 200
    finally:
        await client.close()
        await through_proxy.close()


async def test_a_revoked_token_of_another_process_is_read_from_the_database(
    db: Database, api: Client, token: Callable[..., str]
) -> None:
    """What ``token revoke`` writes (no process of the API involved) is refused too."""
    victim = token("read")
    await store.revoke(db, jti_of(victim), None, None, "cli")
    await api.server.app[AUTHENTICATOR].revoked.reload()
    assert (await api.get(SUBSCRIBERS, headers=bearer(victim))).status == 401


async def test_the_revocations_are_trusted_for_the_refresh_interval_after_a_reload(
    db: Database,
) -> None:
    now = [100.0]
    revoked = RevokedTokens(db, 5.0, 30.0, clock=lambda: now[0])
    with pytest.raises(StoreUnavailable):
        revoked.is_revoked("any")  # never loaded
    await revoked.reload()
    now[0] = 105.0
    assert not revoked.is_revoked("any")
    now[0] = 105.1
    with pytest.raises(StoreUnavailable):
        revoked.is_revoked("any")
    revoked.add("known")
    assert revoked.is_revoked("known")  # known revoked: 401 even then
