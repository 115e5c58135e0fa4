"""The SSRF guard at registration: a clear 422 for any private or reserved destination."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from gateway.delivery.ssrf import AddressPolicy
from gateway.store.database import Database
from tests.integration.delivery.api import admin_client, auth
from tests.support.postgres import PostgresForTests, with_database
from tests.support.resolver import StubResolver

DNS = StubResolver(
    {
        "hooks.example.com": ["93.184.216.34"],
        "dual.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
        "localhost.example.com": ["127.0.0.1"],
        "metadata.example.com": ["169.254.169.254"],
        "corp.example.com": ["10.20.30.40"],
        "cgnat.example.com": ["100.64.1.1"],
        "docs.example.com": ["203.0.113.5"],
        "multicast.example.com": ["224.0.0.251"],
        "zero.example.com": ["0.0.0.0"],  # noqa: S104
        "rebind.example.com": ["93.184.216.34", "192.168.1.1"],
        "v6-loopback.example.com": ["::1"],
        "v6-ula.example.com": ["fd00::1"],
        "v6-link-local.example.com": ["fe80::1"],
        "v6-mapped.example.com": ["::ffff:10.0.0.1"],
        "nat64.example.com": ["64:ff9b::a9fe:a9fe"],
        "sixtofour.example.com": ["2002:c0a8:0101::1"],
        "wms.internal": ["10.9.8.7"],
    }
)


@pytest.fixture(scope="module")
def shared_database(pg_server: PostgresForTests) -> Iterator[str]:
    """One database for the module: every test here only registers subscribers."""
    name = pg_server.create_database()
    yield with_database(pg_server.url, name)
    pg_server.drop_database(name)


@pytest.fixture
async def client(shared_database: str) -> AsyncIterator[Any]:
    db = await Database.connect(shared_database, min_size=1, max_size=2)
    c = await admin_client(db, AddressPolicy(["10.9.0.0/16"], resolver=DNS))
    yield c
    await c.close()
    await db.close()


async def _register(client: Any, url: str, **fields: Any) -> tuple[int, dict[str, Any]]:
    body = {"name": f"wms-{secrets.token_hex(4)}", "url": url, **fields}
    async with client.post("/api/v1/subscribers", json=body, headers=auth()) as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize(
    "host",
    [
        "localhost.example.com",
        "metadata.example.com",
        "corp.example.com",
        "cgnat.example.com",
        "docs.example.com",
        "multicast.example.com",
        "zero.example.com",
        "rebind.example.com",
        "v6-loopback.example.com",
        "v6-ula.example.com",
        "v6-link-local.example.com",
        "v6-mapped.example.com",
        "nat64.example.com",
        "sixtofour.example.com",
    ],
)
async def test_a_name_resolving_to_a_forbidden_address_is_refused_with_a_422(
    client: Any, host: str
) -> None:
    status, problem = await _register(client, f"https://{host}/hook")
    assert status == 422, problem
    assert problem["type"].endswith("/forbidden-destination")
    assert problem["errors"][0]["field"] == "url"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:192.168.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://0.0.0.0/",
        "http://10.0.0.1/",
    ],
)
async def test_a_forbidden_ip_literal_is_refused_with_a_422(client: Any, url: str) -> None:
    status, problem = await _register(client, url)
    assert status == 422, problem
    assert problem["type"].endswith("/forbidden-destination")


@pytest.mark.parametrize("host", ["hooks.example.com", "dual.example.com", "wms.internal"])
async def test_public_names_and_opened_private_ranges_are_accepted(client: Any, host: str) -> None:
    status, created = await _register(client, f"https://{host}/hook")
    assert status == 201, created


async def test_a_name_that_does_not_resolve_is_refused(client: Any) -> None:
    status, problem = await _register(client, "https://nowhere.example.com/hook")
    assert status == 422
    assert "does not resolve" in problem["detail"]


async def test_an_https_only_subscriber_needs_an_https_url(client: Any) -> None:
    status, problem = await _register(client, "http://hooks.example.com/hook", https_only=True)
    assert status == 422, problem
    status, created = await _register(client, "https://hooks.example.com/hook", https_only=True)
    assert status == 201 and created["https_only"] is True


async def test_changing_the_url_to_a_forbidden_one_is_refused(client: Any) -> None:
    _, created = await _register(client, "https://hooks.example.com/hook")
    async with client.patch(
        f"/api/v1/subscribers/{created['id']}",
        json={"url": "https://metadata.example.com/"},
        headers=auth(),
    ) as r:
        assert r.status == 422
