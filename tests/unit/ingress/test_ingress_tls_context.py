"""The ingress TLS context on a real loopback server, with and without client certificates."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import trustme
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.ingress.tls import server_ssl_context

ServerFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_files(ca: trustme.CA, tmp_path: Path) -> tuple[str, str, str]:
    """The server certificate chain, its key and the client CA, as PEM files."""
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, client_ca = tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(client_ca))
    return str(cert), str(key), str(client_ca)


def client_context(ca: trustme.CA, client_cert_from: trustme.CA | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if client_cert_from is not None:
        client_cert_from.issue_cert("sender@example.com").configure_cert(context)
    return context


async def start(aiohttp_server: ServerFactory, context: ssl.SSLContext) -> TestServer:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", hello)
    return await aiohttp_server(app, host="127.0.0.1", ssl=context)


async def fetch(server: TestServer, context: ssl.SSLContext) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.make_url("/"), ssl=context) as response,
    ):
        return await response.text()


async def test_a_client_with_a_certificate_from_the_client_ca_is_served(
    aiohttp_server: ServerFactory, ca: trustme.CA, server_files: tuple[str, str, str]
) -> None:
    server = await start(aiohttp_server, server_ssl_context(*server_files))
    assert server.scheme == "https"
    assert await fetch(server, client_context(ca, client_cert_from=ca)) == "ok"


async def test_a_client_without_a_certificate_is_refused_when_a_client_ca_is_set(
    aiohttp_server: ServerFactory, ca: trustme.CA, server_files: tuple[str, str, str]
) -> None:
    server = await start(aiohttp_server, server_ssl_context(*server_files))
    with pytest.raises(aiohttp.ClientError):
        await fetch(server, client_context(ca))


async def test_a_client_certificate_from_another_ca_is_refused(
    aiohttp_server: ServerFactory, ca: trustme.CA, server_files: tuple[str, str, str]
) -> None:
    server = await start(aiohttp_server, server_ssl_context(*server_files))
    with pytest.raises(aiohttp.ClientError):
        await fetch(server, client_context(ca, client_cert_from=trustme.CA()))


async def test_without_a_client_ca_any_client_is_served(
    aiohttp_server: ServerFactory, ca: trustme.CA, server_files: tuple[str, str, str]
) -> None:
    cert, key, _ = server_files
    context = server_ssl_context(cert, key)
    assert context.verify_mode == ssl.CERT_NONE
    server = await start(aiohttp_server, context)
    assert await fetch(server, client_context(ca)) == "ok"


async def test_a_client_limited_to_tls_1_2_is_refused_when_1_3_is_required(
    aiohttp_server: ServerFactory, ca: trustme.CA, server_files: tuple[str, str, str]
) -> None:
    cert, key, _ = server_files
    server = await start(aiohttp_server, server_ssl_context(cert, key, min_version="TLSv1.3"))
    old_client = client_context(ca)
    old_client.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(aiohttp.ClientError):
        await fetch(server, old_client)


def test_the_context_requires_client_certificates_and_tls_1_2_by_default(
    server_files: tuple[str, str, str],
) -> None:
    context = server_ssl_context(*server_files)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_an_unknown_minimum_version_is_refused(server_files: tuple[str, str, str]) -> None:
    cert, key, _ = server_files
    with pytest.raises(ValueError, match="min_version"):
        server_ssl_context(cert, key, min_version="TLSv1.0")


def test_a_key_that_does_not_match_the_certificate_is_refused(
    ca: trustme.CA, server_files: tuple[str, str, str], tmp_path: Path
) -> None:
    cert, _, _ = server_files
    other_key = tmp_path / "other.key"
    ca.issue_cert("127.0.0.1").private_key_pem.write_to_path(str(other_key))
    with pytest.raises(ssl.SSLError):
        server_ssl_context(cert, str(other_key))
