"""TLS on the real ``webhook-gateway serve``: HTTPS only, client certificates (mTLS), and
``require_tls`` behind a proxy that terminates TLS. Certificates are made in the test."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import aiohttp
import orjson
import pytest
import trustme

from testkit.processes import GatewayProcess
from testkit.senders import shopify
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import SHOP_SECRET

ORDER = orjson.dumps({"id": 1001, "total_price": "12.50"})


@pytest.fixture(scope="module")
def server_ca() -> trustme.CA:
    return trustme.CA(organization_name="gateway server CA")


@pytest.fixture(scope="module")
def sender_ca() -> trustme.CA:
    return trustme.CA(organization_name="sender CA")


def tls_files(
    folder: Path, server_ca: trustme.CA, client_ca: trustme.CA | None = None
) -> dict[str, str]:
    """``[ingress]`` keys for a certificate of 127.0.0.1 (and a client CA, if given)."""
    leaf = server_ca.issue_cert("127.0.0.1", "localhost")
    cert, key = folder / "server.pem", folder / "server.key"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    keys = {"tls_cert_file": str(cert), "tls_key_file": str(key)}
    if client_ca is not None:
        client_ca.cert_pem.write_to_path(str(folder / "clients.pem"))
        keys["tls_client_ca_file"] = str(folder / "clients.pem")
    return keys


def client(
    server_ca: trustme.CA,
    cert_from: trustme.CA | None = None,
    max_version: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    context = ssl.create_default_context()
    server_ca.configure_trust(context)
    if cert_from is not None:
        cert_from.issue_cert("sender@example.com").configure_cert(context)
    if max_version is not None:
        context.maximum_version = max_version
    return context


async def post(
    http: aiohttp.ClientSession,
    url: str,
    context: ssl.SSLContext | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, object]]:
    sent = {**shopify(SHOP_SECRET, ORDER, "wh-tls"), **(headers or {})}
    async with http.post(url, data=ORDER, headers=sent, ssl=context or False) as response:
        return response.status, await response.json(content_type=None)


def https(gateway: GatewayProcess) -> str:
    return f"https://127.0.0.1:{gateway.ingress_port}/webhooks/v1/shop"


def plain(gateway: GatewayProcess) -> str:
    return f"http://127.0.0.1:{gateway.ingress_port}/webhooks/v1/shop"


async def test_the_gateway_takes_webhooks_over_https_and_plain_http_gets_no_handshake(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    server_ca: trustme.CA,
    tmp_path: Path,
) -> None:
    ingress = tls_files(tmp_path, server_ca)
    gateway = start_gateway(base_config(database_url, ingress=ingress))

    status, answer = await post(http, https(gateway), client(server_ca))
    assert status == 202, answer

    with pytest.raises(aiohttp.ClientError):
        await post(http, plain(gateway))
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await post(http, https(gateway), ssl.create_default_context())


async def test_with_a_client_ca_only_senders_holding_its_certificate_get_through(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    server_ca: trustme.CA,
    sender_ca: trustme.CA,
    tmp_path: Path,
) -> None:
    ingress = {**tls_files(tmp_path, server_ca, sender_ca), "tls_min_version": "TLSv1.3"}
    gateway = start_gateway(base_config(database_url, ingress=ingress))

    status, answer = await post(http, https(gateway), client(server_ca, cert_from=sender_ca))
    assert status == 202, answer

    for refused in (
        client(server_ca),
        client(server_ca, cert_from=trustme.CA(organization_name="someone else")),
        client(server_ca, cert_from=sender_ca, max_version=ssl.TLSVersion.TLSv1_2),
    ):
        with pytest.raises(aiohttp.ClientError):
            await post(http, https(gateway), refused)


async def test_behind_a_tls_terminating_proxy_plain_http_needs_the_proxy_to_say_https(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    ingress = {"require_tls": True, "trusted_proxies": ["127.0.0.1/32"]}
    gateway = start_gateway(base_config(database_url, ingress=ingress))

    status, answer = await post(http, plain(gateway), headers={"X-Forwarded-Proto": "https"})
    assert status == 202, answer

    status, problem = await post(http, plain(gateway))
    assert status == 403
    assert problem["type"] == "https://webhook-gateway.dev/problems/tls-required"
