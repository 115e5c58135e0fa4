"""Client addresses behind proxies: X-Forwarded-For is believed only from trusted peers."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest
from multidict import CIMultiDict

from gateway.ingress.clientaddr import client_address, is_forwarded_https

TRUSTED = [ip_network("10.0.0.0/8"), ip_network("fd00::/8")]


def xff(*values: str) -> CIMultiDict[str]:
    return CIMultiDict([("X-Forwarded-For", v) for v in values])


def test_without_proxies_the_socket_peer_is_the_client() -> None:
    assert client_address("203.0.113.7", CIMultiDict(), []) == ip_address("203.0.113.7")


def test_a_spoofed_header_from_an_untrusted_peer_changes_nothing() -> None:
    headers = xff("10.1.1.1, 198.51.100.9")
    assert client_address("203.0.113.7", headers, TRUSTED) == ip_address("203.0.113.7")


def test_a_trusted_proxy_names_the_client() -> None:
    assert client_address("10.0.0.2", xff("198.51.100.9"), TRUSTED) == ip_address("198.51.100.9")


def test_the_walk_starts_from_the_right_and_skips_trusted_proxies() -> None:
    headers = xff("1.2.3.4, 198.51.100.9, 10.3.3.3, 10.2.2.2")
    assert client_address("10.0.0.2", headers, TRUSTED) == ip_address("198.51.100.9")


def test_a_client_forging_addresses_left_of_its_own_is_still_itself() -> None:
    headers = xff("10.9.9.9, 127.0.0.1", "198.51.100.9")
    assert client_address("10.0.0.2", headers, TRUSTED) == ip_address("198.51.100.9")


def test_several_forwarded_for_headers_are_read_in_order() -> None:
    headers = xff("198.51.100.1", "198.51.100.9, 10.2.2.2")
    assert client_address("10.0.0.2", headers, TRUSTED) == ip_address("198.51.100.9")


def test_when_every_hop_is_trusted_the_left_most_is_the_client() -> None:
    assert client_address("10.0.0.2", xff("10.5.5.5, 10.6.6.6"), TRUSTED) == ip_address("10.5.5.5")


def test_a_trusted_proxy_without_the_header_is_the_client() -> None:
    assert client_address("10.0.0.2", CIMultiDict(), TRUSTED) == ip_address("10.0.0.2")


@pytest.mark.parametrize("garbage", ["unknown", "", "999.1.1.1", "1.2.3.4, nonsense", "_hidden"])
def test_a_garbage_entry_falls_back_to_the_peer(garbage: str) -> None:
    assert client_address("10.0.0.2", xff(garbage), TRUSTED) == ip_address("10.0.0.2")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("198.51.100.9:4711", "198.51.100.9"),
        ("[2001:db8::9]:443", "2001:db8::9"),
        ("2001:db8::9", "2001:db8::9"),
        ("::ffff:198.51.100.9", "198.51.100.9"),
    ],
)
def test_entries_with_ports_brackets_or_mapped_addresses_are_understood(
    entry: str, expected: str
) -> None:
    assert client_address("10.0.0.2", xff(entry), TRUSTED) == ip_address(expected)


def test_an_ipv4_mapped_peer_is_judged_as_ipv4() -> None:
    peer = "::ffff:10.0.0.2"
    assert client_address(peer, xff("198.51.100.9"), TRUSTED) == ip_address("198.51.100.9")
    assert client_address("::ffff:203.0.113.7", CIMultiDict(), []) == ip_address("203.0.113.7")


def test_an_ipv6_trusted_proxy_is_recognised() -> None:
    assert client_address("fd00::1", xff("2001:db8::9"), TRUSTED) == ip_address("2001:db8::9")


def test_an_unknown_or_unparsable_peer_gives_none() -> None:
    assert client_address(None, xff("198.51.100.9"), TRUSTED) is None
    assert client_address("not-an-ip", xff("198.51.100.9"), TRUSTED) is None


def test_a_plain_mapping_of_headers_works_too() -> None:
    headers = {"X-Forwarded-For": "198.51.100.9"}
    assert client_address("10.0.0.2", headers, TRUSTED) == ip_address("198.51.100.9")


def proto(*values: str) -> CIMultiDict[str]:
    return CIMultiDict([("X-Forwarded-Proto", v) for v in values])


def test_forwarded_https_from_a_trusted_proxy_counts() -> None:
    assert is_forwarded_https("10.0.0.2", proto("https"), TRUSTED)
    assert is_forwarded_https("10.0.0.2", proto("HTTPS"), TRUSTED)


def test_forwarded_https_from_an_untrusted_peer_does_not_count() -> None:
    assert not is_forwarded_https("203.0.113.7", proto("https"), TRUSTED)
    assert not is_forwarded_https(None, proto("https"), TRUSTED)


def test_forwarded_proto_that_is_missing_or_not_https_everywhere_does_not_count() -> None:
    assert not is_forwarded_https("10.0.0.2", CIMultiDict(), TRUSTED)
    assert not is_forwarded_https("10.0.0.2", proto("http"), TRUSTED)
    assert not is_forwarded_https("10.0.0.2", proto("https, http"), TRUSTED)
    assert not is_forwarded_https("10.0.0.2", proto("https", "http"), TRUSTED)
