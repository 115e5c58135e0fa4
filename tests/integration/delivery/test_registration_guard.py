"""The SSRF guard at registration: a clear 422 for any private or reserved destination."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from gateway.delivery.client import OutboundClient
from gateway.delivery.ssrf import AddressPolicy
from gateway.store.database import Database
from testkit.postgres import PostgresForTests, with_database
from testkit.resolver import StubResolver
from tests.integration.delivery.api import admin_client, auth

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


CLOSED = ["10.9.0.0/16"]
LOOPBACK_OPEN = ["10.9.0.0/16", "127.0.0.0/8"]


@pytest.fixture
async def registrar(shared_database: str) -> AsyncIterator[Any]:
    """``registrar(opened)``: the admin API whose policy opens the ranges ``opened``."""
    db = await Database.connect(shared_database, min_size=1, max_size=2)
    clients: list[Any] = []

    async def start(opened: list[str]) -> Any:
        clients.append(await admin_client(db, AddressPolicy(opened, resolver=DNS)))
        return clients[-1]

    yield start
    for c in clients:
        await c.close()
    await db.close()


@pytest.fixture
async def client(registrar: Any) -> Any:
    return await registrar(CLOSED)


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


# Every IPv6 form that carries 127.0.0.1, as a URL host.
CARRYING_LOOPBACK = {
    "IPv4-compatible": "::127.0.0.1",
    "SIIT IPv4-translated": "::ffff:0:7f00:1",
    "IPv4-mapped": "::ffff:127.0.0.1",
    "NAT64": "64:ff9b::7f00:1",
    "6to4": "2002:7f00:1::",
    "ISATAP": "2001:4860:4000::5efe:7f00:1",
}
# The local-use NAT64 prefix (RFC 8215), 127.0.0.1 placed per RFC 6052 prefix length.
LOCAL_USE_NAT64 = {
    "local NAT64 /48": "64:ff9b:1:7f00:0:100::",
    "local NAT64 /64": "64:ff9b:1:0:7f:0:100:0",
    "local NAT64 /96": "64:ff9b:1::7f00:1",
}
EVERY_FORM = {**CARRYING_LOOPBACK, **LOCAL_USE_NAT64}


@pytest.mark.parametrize("host", EVERY_FORM.values(), ids=EVERY_FORM)
async def test_every_ipv6_form_carrying_loopback_is_refused_naming_the_key_that_opens_it(
    client: Any, host: str
) -> None:
    status, problem = await _register(client, f"http://[{host}]:8000/hook")
    assert status == 422, problem
    assert problem["type"].endswith("/forbidden-destination")
    assert problem["errors"] == [
        {
            "field": "url",
            "message": problem["detail"].removeprefix("url: "),
        }
    ]
    assert problem["detail"].endswith(
        "is a private or reserved address; open its range with delivery.allowed_private_cidrs"
    )


async def test_a_name_resolving_to_a_forbidden_address_names_it_and_the_key(client: Any) -> None:
    status, problem = await _register(client, "https://metadata.example.com/")
    assert status == 422
    assert problem["detail"] == (
        "url: metadata.example.com resolves to 169.254.169.254, a private or reserved"
        " address; open its range with delivery.allowed_private_cidrs"
    )


@pytest.mark.parametrize("opened", [CLOSED, LOOPBACK_OPEN], ids=["closed", "loopback-open"])
@pytest.mark.parametrize("host", EVERY_FORM.values(), ids=EVERY_FORM)
async def test_registration_accepts_a_form_exactly_when_delivery_would_connect_to_it(
    registrar: Any, opened: list[str], host: str
) -> None:
    url = f"http://[{host}]:8000/hook"
    status, _ = await _register(await registrar(opened), url)
    # Delivery's own check, before any connection (nothing is sent off this machine).
    policy = AddressPolicy(opened)
    outbound = OutboundClient(policy)
    try:
        if status == 422:
            result = await outbound.post(url, b"{}", {}, 1)
            assert result.outcome == "blocked", result
        else:
            policy.check(f"[{host}]")  # no AddressBlocked: it would connect
    finally:
        await outbound.close()
    assert status == (
        201 if opened == LOOPBACK_OPEN and host in CARRYING_LOOPBACK.values() else 422
    )


NON_CANONICAL = {
    "127.1": "127.0.0.1",
    "0177.0.0.1": "127.0.0.1",
    "2130706433": "127.0.0.1",
    "0x7f.0.0.1": "127.0.0.1",
    "127.0.0.1.": "127.0.0.1",
}


@pytest.mark.parametrize(("host", "canonical"), NON_CANONICAL.items())
async def test_an_ipv4_address_not_written_a_b_c_d_is_refused_saying_how_to_write_it(
    registrar: Any, host: str, canonical: str
) -> None:
    status, problem = await _register(await registrar(LOOPBACK_OPEN), f"http://{host}:8000/")
    assert status == 422, problem
    message = f"host {host} is not a canonical IPv4 address; write {canonical}"
    assert problem["errors"] == [{"field": "url", "message": message}]


async def test_a_backslash_url_is_judged_as_delivery_reads_it(registrar: Any) -> None:
    # urllib read the host as 127.0.0.2 (opened here); aiohttp's client cannot send to it.
    url = "http://127.0.0.1\\@127.0.0.2:8000/"
    status, problem = await _register(await registrar(LOOPBACK_OPEN), url)
    outbound = OutboundClient(AddressPolicy(LOOPBACK_OPEN))
    try:
        result = await outbound.post(url, b"{}", {}, 1)
    finally:
        await outbound.close()
    assert status == 422, problem
    assert "backslash" in problem["errors"][0]["message"]
    assert result.outcome == "blocked"


async def test_a_url_with_credentials_is_refused(client: Any) -> None:
    status, problem = await _register(client, "https://ops:hunter2@hooks.example.com/hook")
    assert status == 422, problem
    assert "credentials" in problem["errors"][0]["message"]
    assert "hunter2" not in problem["detail"]
