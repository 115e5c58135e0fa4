"""Who may send: client address behind proxies, allowlists (IPv4 and IPv6), TLS required,
unknown sources. Every refusal is a counted problem document."""

from __future__ import annotations

import pytest

from gateway.config import SourceConfig
from gateway.ingress.intake import UNKNOWN_SOURCE
from tests.integration.ingress.conftest import StartIngress, ipv6_loopback_available

JSON = {"Content-Type": "application/json"}


def open_source(name: str = "open", *cidrs: str) -> SourceConfig:
    return SourceConfig(name=name, scheme="none", allowed_cidrs=cidrs)


async def test_a_spoofed_x_forwarded_for_from_an_untrusted_peer_changes_nothing(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(
        open_source("partners", "203.0.113.0/24"),
        open_source("local", "127.0.0.0/8"),
        trusted_proxies=["10.0.0.0/8"],
        rate_limit_per_second=0.01,
        rate_limit_burst=1,
    )
    spoofed = {**JSON, "X-Forwarded-For": "203.0.113.7"}

    refused = await gateway.post("partners", b"{}", spoofed)
    assert refused.status == 403, refused
    assert refused.body["type"].endswith("/address-not-allowed")
    assert "127.0.0.1" in refused.body["detail"]

    first = await gateway.post("local", b"{}", {**JSON, "X-Forwarded-For": "198.51.100.1"})
    assert first.status == 202, first
    second = await gateway.post("local", b"{}", {**JSON, "X-Forwarded-For": "198.51.100.2"})
    assert second.status == 429, "a new forged address must not buy a new rate-limit bucket"


async def test_behind_a_trusted_proxy_the_right_most_untrusted_forwarded_address_is_the_client(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(
        open_source("partners", "203.0.113.0/24"),
        trusted_proxies=["127.0.0.1/32", "10.0.0.0/8"],
    )
    via_two_proxies = {**JSON, "X-Forwarded-For": "198.51.100.9, 203.0.113.7, 10.1.2.3"}
    admitted = await gateway.post("partners", b"{}", via_two_proxies)
    assert admitted.status == 202, admitted

    forged_on_the_left = {**JSON, "X-Forwarded-For": "203.0.113.7, 198.51.100.9"}
    refused = await gateway.post("partners", b"{}", forged_on_the_left)
    assert refused.status == 403, refused
    assert "198.51.100.9" in refused.body["detail"]
    assert gateway.counted("partners", "address-not-allowed") == 1


async def test_the_global_allowlist_refuses_an_address_that_the_source_would_accept(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(
        open_source("local", "127.0.0.0/8"), allowed_cidrs=["10.0.0.0/8", "2001:db8::/32"]
    )
    answer = await gateway.post("local", b"{}", JSON)
    assert answer.status == 403, answer
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert await gateway.stored() == 0


async def test_an_ipv4_allowlist_admits_its_network_and_refuses_others(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(
        open_source("loopback", "127.0.0.0/8"),
        open_source("elsewhere", "192.0.2.0/24", "2001:db8::/32"),
        allowed_cidrs=["127.0.0.1/32"],
    )
    assert (await gateway.post("loopback", b"{}", JSON)).status == 202
    assert (await gateway.post("elsewhere", b"{}", JSON)).status == 403
    assert await gateway.stored() == 1


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback (::1) here")
async def test_an_ipv6_allowlist_admits_its_network_and_refuses_others(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(
        open_source("loopback", "::1/128"),
        open_source("elsewhere", "2001:db8::/32", "127.0.0.0/8"),
        host="::1",
        allowed_cidrs=["::1/128", "10.0.0.0/8"],
    )
    assert gateway.url("loopback").startswith("http://[::1]:")
    assert (await gateway.post("loopback", b"{}", JSON)).status == 202
    refused = await gateway.post("elsewhere", b"{}", JSON)
    assert refused.status == 403, refused
    assert "::1" in refused.body["detail"]


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback (::1) here")
async def test_an_ipv4_only_global_allowlist_refuses_an_ipv6_client(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(open_source(), host="::1", allowed_cidrs=["127.0.0.0/8"])
    assert (await gateway.post("open", b"{}", JSON)).status == 403


async def test_plain_http_is_refused_when_tls_is_required_unless_a_trusted_proxy_says_https(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(open_source(), require_tls=True, trusted_proxies=["127.0.0.1/32"])
    plain = await gateway.post("open", b"{}", JSON)
    assert plain.status == 403, plain
    assert plain.body["type"].endswith("/tls-required")
    proxied = await gateway.post("open", b"{}", {**JSON, "X-Forwarded-Proto": "https"})
    assert proxied.status == 202, proxied
    downgraded = {**JSON, "X-Forwarded-Proto": "https, http"}
    assert (await gateway.post("open", b"{}", downgraded)).status == 403
    assert gateway.counted("open", "tls-required") == 2


async def test_x_forwarded_proto_from_an_untrusted_peer_does_not_satisfy_require_tls(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(open_source(), require_tls=True, trusted_proxies=["10.0.0.0/8"])
    answer = await gateway.post("open", b"{}", {**JSON, "X-Forwarded-Proto": "https"})
    assert answer.status == 403, answer


async def test_an_unknown_source_is_404_and_counted_without_its_name(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(open_source())
    answer = await gateway.post("no-such-source", b"{}", JSON)
    assert answer.status == 404, answer
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.body["type"].endswith("/unknown-source")
    assert gateway.counted(UNKNOWN_SOURCE, "unknown-source") == 1
    assert gateway.counted("no-such-source", "unknown-source") == 0


async def test_a_method_other_than_post_is_405_naming_post_and_is_counted(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(open_source())
    answer = await gateway.post("open", b"{}", JSON, method="PUT")
    assert answer.status == 405, answer
    assert answer.headers["Allow"] == "POST"
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert gateway.counted("open", "method-not-allowed") == 1
    assert (await gateway.post("nope", b"", {}, method="GET")).status == 405
    assert gateway.counted(UNKNOWN_SOURCE, "method-not-allowed") == 1
