"""Per-source CIDR allowlists over IPv4, IPv6 and IPv4-mapped IPv6."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from gateway.ingress.allowlist import CidrAllowlist


def test_an_empty_allowlist_allows_everyone() -> None:
    allowlist = CidrAllowlist([])
    assert allowlist.allows(ip_address("203.0.113.7"))
    assert allowlist.allows(ip_address("2001:db8::1"))
    assert allowlist.allows(None)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("23.227.38.1", True),
        ("23.227.63.255", True),
        ("23.227.64.0", False),
        ("2620:127:f00f::1", True),
        ("2620:127:f00e::1", False),
        ("::ffff:23.227.38.1", True),
        ("::ffff:23.227.64.0", False),
        ("::23.227.38.1", False),
    ],
)
def test_addresses_are_judged_against_ipv4_and_ipv6_networks(address: str, allowed: bool) -> None:
    allowlist = CidrAllowlist(["23.227.32.0/19", "2620:127:f00f::/48"])
    assert allowlist.allows(ip_address(address)) is allowed


def test_an_ipv4_list_never_matches_an_ipv6_address() -> None:
    assert not CidrAllowlist(["0.0.0.0/0"]).allows(ip_address("2001:db8::1"))


def test_a_single_address_and_host_bits_are_accepted() -> None:
    allowlist = CidrAllowlist(["192.0.2.10", "198.51.100.77/24"])
    assert allowlist.allows(ip_address("192.0.2.10"))
    assert not allowlist.allows(ip_address("192.0.2.11"))
    assert allowlist.allows(ip_address("198.51.100.1"))


def test_an_ipv4_mapped_network_in_the_list_matches_plain_ipv4_peers() -> None:
    allowlist = CidrAllowlist(["::ffff:192.0.2.0/120"])
    assert allowlist.allows(ip_address("192.0.2.5"))
    assert allowlist.allows(ip_address("::ffff:192.0.2.5"))


def test_an_unknown_address_is_refused_by_a_non_empty_list() -> None:
    assert not CidrAllowlist(["192.0.2.0/24"]).allows(None)


@pytest.mark.parametrize("cidr", ["not-a-cidr", "192.0.2.0/33", "2001:db8::/129", ""])
def test_an_invalid_cidr_is_refused_when_building(cidr: str) -> None:
    with pytest.raises(ValueError, match="does not appear to be"):
        CidrAllowlist([cidr])
