"""Deliveries through a real proxy (tinyproxy) to real TLS servers on loopback that demand
client certificates, with certificates of the test's own (trustme)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gateway.config.egress import EgressConfig
from gateway.delivery import tlsfiles
from gateway.delivery.client import OutboundClient
from gateway.delivery.egress import Egress
from gateway.delivery.ssrf import AddressPolicy
from gateway.store.records import AttemptResult
from testkit.processes import free_port
from testkit.resolver import StubResolver
from testkit.sinks import Sink, answer
from testkit.tinyproxy import TinyProxy, tinyproxy_installed
from testkit.tls import SERVER_NAME, AlertingServer, Certificates, SecretMount

pytestmark = pytest.mark.skipif(not tinyproxy_installed(), reason="tinyproxy is not installed")

LOOPBACK_OPEN = ["127.0.0.0/8"]


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return Certificates(tmp_path / "certificates")


@pytest.fixture
def start_proxy() -> Iterator[Callable[..., TinyProxy]]:
    started: list[TinyProxy] = []

    def start(*ports: int) -> TinyProxy:
        proxy = TinyProxy(connect_ports=ports)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.close()


@pytest.fixture
async def start_sink() -> AsyncIterator[Callable[..., Any]]:
    started: list[Sink] = []

    async def start(context: ssl.SSLContext) -> Sink:
        sink = await Sink(behaviour=answer(200, text="stored"), ssl_context=context).start()
        started.append(sink)
        return sink

    yield start
    for sink in started:
        await sink.stop()


def egress(**section: Any) -> Egress:
    return Egress(msgspec.convert(section, EgressConfig))


async def post(
    routes: Egress,
    url: str,
    *,
    policy: list[str] = LOOPBACK_OPEN,
    proxy: str | None = None,
    tls: str | None = None,
) -> AttemptResult:
    client = OutboundClient(
        AddressPolicy(policy),
        resolver=StubResolver({SERVER_NAME: ["127.0.0.1"]}),
        egress=routes,
    )
    try:
        return await client.post(url, b'{"order": 1}', {}, 5, proxy=proxy, tls=tls)
    finally:
        await client.close()


def by_name(sink: Sink) -> str:
    return f"https://{SERVER_NAME}:{sink.port}/hook"


async def test_a_delivery_through_the_proxy_tunnels_to_the_checked_address_with_the_name_for_tls(
    certificates: Certificates, start_sink: Any, start_proxy: Callable[..., TinyProxy]
) -> None:
    sink = await start_sink(certificates.server_context())
    proxy = start_proxy(sink.port)
    routes = egress(
        proxy="corp",
        proxies=[{"name": "corp", "url": proxy.url}],
        tls=[{"name": "private-ca", "ca_bundle": str(certificates.ca_file)}],
    )
    result = await post(routes, by_name(sink), tls="private-ca")
    assert (result.outcome, result.response_snippet) == ("success", "stored"), result.error
    assert proxy.requests() == [f"CONNECT 127.0.0.1:{sink.port}"]
    [arrival] = sink.arrivals
    assert arrival.headers["Host"] == f"{SERVER_NAME}:{sink.port}"


async def test_a_subscriber_with_proxy_direct_does_not_go_through_the_default_proxy(
    certificates: Certificates, start_sink: Any, start_proxy: Callable[..., TinyProxy]
) -> None:
    sink = await start_sink(certificates.server_context())
    proxy = start_proxy(sink.port)
    routes = egress(
        proxy="corp",
        proxies=[{"name": "corp", "url": proxy.url}],
        tls=[{"name": "private-ca", "ca_bundle": str(certificates.ca_file)}],
    )
    result = await post(routes, by_name(sink), proxy="direct", tls="private-ca")
    assert result.outcome == "success", result.error
    assert proxy.requests() == []


async def test_a_name_that_resolves_to_a_private_address_is_refused_before_the_proxy_is_asked(
    certificates: Certificates, start_sink: Any, start_proxy: Callable[..., TinyProxy]
) -> None:
    sink = await start_sink(certificates.server_context())
    proxy = start_proxy(sink.port)
    routes = egress(proxies=[{"name": "corp", "url": proxy.url}])
    result = await post(routes, by_name(sink), policy=[], proxy="corp")
    assert result.outcome == "blocked"
    assert result.error is not None and "resolves to 127.0.0.1" in result.error
    assert proxy.requests() == []
    assert sink.arrivals == []


async def test_a_proxy_that_refuses_the_tunnel_is_a_connection_error_saying_so(
    certificates: Certificates, start_sink: Any, start_proxy: Callable[..., TinyProxy]
) -> None:
    sink = await start_sink(certificates.server_context())
    proxy = start_proxy(443)  # CONNECT to 443 only, as a production proxy allows
    routes = egress(proxies=[{"name": "corp", "url": proxy.url}])
    result = await post(routes, by_name(sink), proxy="corp")
    assert result.outcome == "connection_error"
    assert result.error is not None and result.error.startswith(
        "the proxy refused the request: HTTP 403"
    )
    assert proxy.requests() == [f"CONNECT 127.0.0.1:{sink.port}"]
    assert sink.arrivals == []


async def test_a_proxy_that_cannot_be_reached_is_a_connection_error_naming_it_not_tls(
    certificates: Certificates, start_sink: Any
) -> None:
    sink = await start_sink(certificates.server_context())
    url = f"http://gateway:pr0xy-pw@127.0.0.1:{free_port()}"
    result = await post(egress(proxies=[{"name": "corp", "url": url}]), by_name(sink), proxy="corp")
    assert result.outcome == "connection_error"
    assert result.error is not None and "pr0xy-pw" not in result.error
    assert result.error.startswith("ClientProxyConnectionError: Cannot connect to host 127.0.0.1")
    assert "client certificate" not in result.error  # the proxy is down: no TLS to blame
    assert sink.arrivals == []


async def test_plain_http_is_not_sent_through_a_proxy(
    start_proxy: Callable[..., TinyProxy],
) -> None:
    proxy = start_proxy()
    routes = egress(proxies=[{"name": "corp", "url": proxy.url}])
    result = await post(routes, f"http://{SERVER_NAME}:9/hook", proxy="corp")
    assert result.outcome == "blocked"
    assert result.error is not None and "https:// deliveries only" in result.error
    assert proxy.requests() == []


@pytest.mark.parametrize(
    ("version", "outcome", "says"),
    [
        # TLS 1.2 refuses in the handshake.
        (ssl.TLSVersion.TLSv1_2, "tls_error", "client certificate"),
        # TLS 1.3 refuses after it: the request is written, the connection dropped.
        (ssl.TLSVersion.TLSv1_3, "connection_error", "demands a client certificate"),
    ],
)
async def test_a_server_that_demands_a_client_certificate_refuses_a_subscriber_without_one(
    certificates: Certificates,
    start_sink: Any,
    start_proxy: Callable[..., TinyProxy],
    version: ssl.TLSVersion,
    outcome: str,
    says: str,
) -> None:
    context = certificates.server_context(client_ca=certificates.ca, maximum_version=version)
    sink = await start_sink(context)
    proxy = start_proxy(sink.port)
    routes = egress(
        proxies=[{"name": "corp", "url": proxy.url}],
        tls=[{"name": "private-ca", "ca_bundle": str(certificates.ca_file)}],
    )
    result = await post(routes, by_name(sink), proxy="corp", tls="private-ca")
    assert result.outcome == outcome, result.error
    assert result.error is not None and says in result.error
    assert sink.arrivals == []


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
async def test_a_server_that_alerts_its_refusal_of_a_missing_certificate_is_a_tls_error(
    certificates: Certificates, version: ssl.TLSVersion
) -> None:
    context = certificates.server_context(client_ca=certificates.ca, maximum_version=version)
    server = AlertingServer(context)
    try:
        routes = egress(tls=[{"name": "private-ca", "ca_bundle": str(certificates.ca_file)}])
        url = f"https://{SERVER_NAME}:{server.port}/hook"
        result = await post(routes, url, tls="private-ca")
    finally:
        server.close()
    assert result.outcome == "tls_error", result.error
    assert result.error is not None and "client certificate" in result.error
    assert server.served == 0 and len(server.refusals) == 1


async def test_a_client_certificate_by_another_ca_is_refused_as_a_tls_error(
    tmp_path: Path, certificates: Certificates, start_sink: Any
) -> None:
    context = certificates.server_context(
        client_ca=certificates.ca, maximum_version=ssl.TLSVersion.TLSv1_2
    )
    sink = await start_sink(context)
    stranger = Certificates(tmp_path / "stranger")
    certificate, key = stranger.client_files("stranger")
    routes = egress(
        tls=[
            {
                "name": "wrong-client",
                "client_certificate": str(certificate),
                "client_key": str(key),
                "ca_bundle": str(certificates.ca_file),
            }
        ]
    )
    result = await post(routes, by_name(sink), tls="wrong-client")
    assert result.outcome == "tls_error", result.error
    assert result.error is not None and "client certificate" in result.error
    assert sink.arrivals == []


async def test_a_subscriber_with_the_client_certificate_is_accepted_through_the_proxy(
    certificates: Certificates, start_sink: Any, start_proxy: Callable[..., TinyProxy]
) -> None:
    sink = await start_sink(certificates.server_context(client_ca=certificates.ca))
    proxy = start_proxy(sink.port)
    certificate, key = certificates.client_files("gateway-eu")
    routes = egress(
        proxies=[{"name": "corp", "url": proxy.url}],
        tls=[
            {
                "name": "wms",
                "client_certificate": str(certificate),
                "client_key": str(key),
                "ca_bundle": str(certificates.ca_file),
                "trust_system_cas": False,
            }
        ],
    )
    result = await post(routes, by_name(sink), proxy="corp", tls="wms")
    assert result.outcome == "success", result.error
    assert [a.client_name for a in sink.arrivals] == ["gateway-eu"]
    assert proxy.requests() == [f"CONNECT 127.0.0.1:{sink.port}"]


async def test_a_server_whose_certificate_is_not_by_the_trusted_ca_is_a_tls_error(
    tmp_path: Path, certificates: Certificates, start_sink: Any
) -> None:
    sink = await start_sink(certificates.server_context())
    other = Certificates(tmp_path / "other")
    routes = egress(
        tls=[{"name": "other-ca", "ca_bundle": str(other.ca_file), "trust_system_cas": False}]
    )
    result = await post(routes, by_name(sink), tls="other-ca")
    assert result.outcome == "tls_error"
    assert result.error is not None and "certificate is not trusted" in result.error
    assert sink.arrivals == []


async def test_the_minimum_tls_version_refuses_a_server_that_offers_less(
    certificates: Certificates, start_sink: Any
) -> None:
    context = certificates.server_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    sink = await start_sink(context)
    profile = {"ca_bundle": str(certificates.ca_file)}
    routes = egress(
        tls=[{"name": "v12", **profile}, {"name": "v13", **profile, "min_version": "1.3"}]
    )
    assert (await post(routes, by_name(sink), tls="v12")).outcome == "success"
    result = await post(routes, by_name(sink), tls="v13")
    assert result.outcome == "tls_error"
    assert result.error is not None and "min_version" in result.error


async def test_new_certificate_files_swapped_in_are_used_without_a_restart(
    tmp_path: Path,
    certificates: Certificates,
    start_sink: Any,
    start_proxy: Callable[..., TinyProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tlsfiles, "CHECK_EVERY_SECONDS", 0.0)
    sink = await start_sink(certificates.server_context(client_ca=certificates.ca))
    proxy = start_proxy(sink.port)
    mount = SecretMount(tmp_path / "secret")
    certificate, key = certificates.client("before")
    mount.write(
        {"tls.crt": certificate, "tls.key": key, "ca.crt": certificates.ca_file.read_bytes()}
    )
    routes = egress(
        proxies=[{"name": "corp", "url": proxy.url}],
        tls=[
            {
                "name": "wms",
                "client_certificate": str(mount.path("tls.crt")),
                "client_key": str(mount.path("tls.key")),
                "ca_bundle": str(mount.path("ca.crt")),
            }
        ],
    )
    client = OutboundClient(
        AddressPolicy(LOOPBACK_OPEN),
        resolver=StubResolver({SERVER_NAME: ["127.0.0.1"]}),
        egress=routes,
    )
    try:
        first = await client.post(by_name(sink), b"{}", {}, 5, proxy="corp", tls="wms")
        certificate, key = certificates.client("after")
        mount.write(
            {"tls.crt": certificate, "tls.key": key, "ca.crt": certificates.ca_file.read_bytes()}
        )
        second = await client.post(by_name(sink), b"{}", {}, 5, proxy="corp", tls="wms")
        mount.write({"tls.crt": b"", "tls.key": key, "ca.crt": certificates.ca_file.read_bytes()})
        third = await client.post(by_name(sink), b"{}", {}, 5, proxy="corp", tls="wms")
    finally:
        await client.close()
    assert [r.outcome for r in (first, second, third)] == ["success"] * 3
    # An empty certificate file keeps the last good certificate: deliveries go on.
    assert [a.client_name for a in sink.arrivals] == ["before", "after", "after"]
    assert (routes.tls["wms"].reloads, routes.tls["wms"].failures) == (1, 1)
