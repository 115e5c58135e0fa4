"""Delivery destinations: private and reserved ranges refused, decoded forms included."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from gateway.delivery.ssrf import AddressBlocked, AddressPolicy, GuardedResolver
from testkit.resolver import StubResolver

# One address inside every range the reference lists, keyed by the range.
FORBIDDEN_SAMPLES = {
    "0.0.0.0/8": "0.1.2.3",
    "10.0.0.0/8": "10.0.0.5",
    "100.64.0.0/10": "100.100.100.100",
    "127.0.0.0/8": "127.0.0.1",
    "169.254.0.0/16": "169.254.169.254",
    "172.16.0.0/12": "172.31.255.254",
    "192.0.0.0/24": "192.0.0.9",
    "192.0.2.0/24": "192.0.2.1",
    "192.88.99.0/24": "192.88.99.1",
    "192.168.0.0/16": "192.168.1.1",
    "198.18.0.0/15": "198.19.0.1",
    "198.51.100.0/24": "198.51.100.7",
    "203.0.113.0/24": "203.0.113.9",
    "224.0.0.0/4": "239.255.255.250",
    "240.0.0.0/4": "240.0.0.1",
    "255.255.255.255/32": "255.255.255.255",
    "::/128": "::",
    "::1/128": "::1",
    "100::/64": "100::1",
    "2001::/23": "2001:1ff::1",
    "2001:db8::/32": "2001:db8::1",
    "2002::/16": "2002:a00:5::",
    "64:ff9b::/96": "64:ff9b::a00:5",
    "64:ff9b:1::/48": "64:ff9b:1::a9fe:a9fe",
    "fc00::/7": "fd12:3456::1",
    "fe80::/10": "fe80::1",
    "fec0::/10": "fec0::1",
    "ff00::/8": "ff02::1",
    "3fff::/20": "3fff::1",
    "5f00::/16": "5f00::1",
    "::ffff:0:0/96": "::ffff:10.0.0.5",
}

# Ranges judged as themselves (no embedded IPv4): their first and last addresses.
PLAIN_RANGES = [
    cidr for cidr in FORBIDDEN_SAMPLES if cidr not in {"2002::/16", "64:ff9b::/96", "::ffff:0:0/96"}
]

# Every IPv6 form that carries 127.0.0.1, by name.
CARRYING_LOOPBACK = {
    "IPv4-mapped": "::ffff:127.0.0.1",
    "IPv4-compatible": "::127.0.0.1",
    "SIIT IPv4-translated": "::ffff:0:7f00:1",
    "NAT64 well-known prefix": "64:ff9b::7f00:1",
    "6to4": "2002:7f00:1::",
    "ISATAP": "2001:4860:4000::5efe:7f00:1",
    "ISATAP, global bit": "2a00:1450::200:5efe:7f00:1",
}

# The local-use NAT64 prefix, with 127.0.0.1 where each RFC 6052 prefix length puts it.
LOCAL_USE_NAT64 = {
    "/48": "64:ff9b:1:7f00:0:100::",
    "/56": "64:ff9b:1:7f:0:1::",
    "/64": "64:ff9b:1:0:7f:0:100:0",
    "/96": "64:ff9b:1::7f00:1",
}

PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001::200e"]

JUST_OUTSIDE = [
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.1",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
]


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def test_every_sample_lies_inside_its_range() -> None:
    for cidr, address in FORBIDDEN_SAMPLES.items():
        assert ip(address) in ipaddress.ip_network(cidr), (cidr, address)


@pytest.mark.parametrize(("cidr", "address"), FORBIDDEN_SAMPLES.items(), ids=FORBIDDEN_SAMPLES)
def test_an_address_inside_each_forbidden_range_is_refused(cidr: str, address: str) -> None:
    assert not AddressPolicy().is_allowed(ip(address))


@pytest.mark.parametrize("cidr", PLAIN_RANGES)
def test_the_first_and_last_address_of_each_forbidden_range_are_refused(cidr: str) -> None:
    network = ipaddress.ip_network(cidr)
    assert not AddressPolicy().is_allowed(network[0])
    assert not AddressPolicy().is_allowed(network[-1])


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().is_allowed(ip(address))


@pytest.mark.parametrize("address", JUST_OUTSIDE)
def test_addresses_just_outside_a_forbidden_range_are_allowed(address: str) -> None:
    assert AddressPolicy().is_allowed(ip(address))


def test_ipv4_mapped_loopback_is_judged_as_ipv4() -> None:
    assert not AddressPolicy().is_allowed(ip("::ffff:127.0.0.1"))
    assert AddressPolicy().is_allowed(ip("::ffff:8.8.8.8"))


def test_nat64_of_the_metadata_address_is_refused() -> None:
    assert not AddressPolicy().is_allowed(ip("64:ff9b::a9fe:a9fe"))


def test_nat64_of_a_public_address_is_allowed() -> None:
    assert AddressPolicy().is_allowed(ip("64:ff9b::808:808"))


def test_6to4_of_the_metadata_address_is_refused() -> None:
    assert not AddressPolicy().is_allowed(ip("2002:a9fe:a9fe::"))


def test_6to4_of_a_public_address_is_allowed() -> None:
    assert AddressPolicy().is_allowed(ip("2002:808:808::1"))


@pytest.mark.parametrize("address", CARRYING_LOOPBACK.values(), ids=CARRYING_LOOPBACK)
def test_every_ipv6_form_carrying_a_forbidden_ipv4_address_is_refused(address: str) -> None:
    assert not AddressPolicy().is_allowed(ip(address))
    with pytest.raises(AddressBlocked, match=r"delivery\.allowed_private_cidrs"):
        AddressPolicy().check(f"[{address}]")


@pytest.mark.parametrize("address", CARRYING_LOOPBACK.values(), ids=CARRYING_LOOPBACK)
def test_every_ipv6_form_carrying_an_opened_ipv4_address_is_allowed(address: str) -> None:
    assert AddressPolicy(["127.0.0.0/8"]).is_allowed(ip(address))


@pytest.mark.parametrize(
    "address", ["::8.8.8.8", "::ffff:0:808:808", "2001:4860:4000::5efe:808:808"]
)
def test_the_same_forms_carrying_a_public_address_are_allowed(address: str) -> None:
    assert AddressPolicy().is_allowed(ip(address))


def test_the_unspecified_and_loopback_ipv6_addresses_stay_themselves() -> None:
    # ::1 is not "IPv4-compatible 0.0.0.1": opening 0.0.0.0/8 does not open it.
    policy = AddressPolicy(["0.0.0.0/8"])
    assert not policy.is_allowed(ip("::1"))
    assert not policy.is_allowed(ip("::"))


def test_isatap_on_a_forbidden_prefix_stays_forbidden_whatever_it_carries() -> None:
    policy = AddressPolicy(["10.0.0.0/8"])
    assert not policy.is_allowed(ip("fe80::5efe:a00:1"))
    assert policy.is_allowed(ip("2001:4860:4000::5efe:a00:1"))


@pytest.mark.parametrize("address", LOCAL_USE_NAT64.values(), ids=LOCAL_USE_NAT64)
def test_the_local_use_nat64_prefix_is_refused_unless_opened_itself(address: str) -> None:
    # Where the IPv4 address sits depends on the translator's prefix length: not judged.
    assert not AddressPolicy(["127.0.0.0/8"]).is_allowed(ip(address))
    assert AddressPolicy(["64:ff9b:1::/48"]).is_allowed(ip(address))


def test_the_local_use_nat64_prefix_is_refused_also_carrying_a_public_address() -> None:
    assert not AddressPolicy().is_allowed(ip("64:ff9b:1::808:808"))


def test_teredo_is_refused_whatever_it_carries() -> None:
    teredo = ipaddress.IPv6Address("2001:0:4136:e378:8000:63bf:3fff:fdd2")
    assert teredo.teredo is not None
    assert not AddressPolicy().is_allowed(teredo)


def test_a_refused_literal_and_a_refused_name_say_which_key_opens_the_range() -> None:
    with pytest.raises(AddressBlocked) as literal:
        AddressPolicy().check("10.0.0.5")
    assert str(literal.value) == (
        "10.0.0.5 is a private or reserved address; "
        "open its range with delivery.allowed_private_cidrs"
    )


def test_an_opened_private_range_allows_loopback_also_in_mapped_form() -> None:
    policy = AddressPolicy(allowed_private_cidrs=["127.0.0.0/8"])
    assert policy.is_allowed(ip("127.0.0.1"))
    assert policy.is_allowed(ip("127.255.0.9"))
    assert policy.is_allowed(ip("::ffff:127.0.0.1"))


def test_an_opened_private_range_opens_nothing_else() -> None:
    policy = AddressPolicy(allowed_private_cidrs=["127.0.0.0/8"])
    assert not policy.is_allowed(ip("10.0.0.1"))
    assert not policy.is_allowed(ip("::ffff:10.0.0.1"))
    assert not policy.is_allowed(ip("169.254.169.254"))
    assert not policy.is_allowed(ip("::1"))


def test_check_refuses_a_forbidden_ip_literal() -> None:
    with pytest.raises(AddressBlocked, match=r"169\.254\.169\.254"):
        AddressPolicy().check("169.254.169.254")


@pytest.mark.parametrize(
    "host",
    ["[::1]", "::1", "fe80::1%eth0", "[::ffff:127.0.0.1]", "0.0.0.0"],  # noqa: S104
)
def test_check_refuses_bracketed_scoped_and_mapped_literals(host: str) -> None:
    with pytest.raises(AddressBlocked):
        AddressPolicy().check(host)


@pytest.mark.parametrize("host", ["example.com", "8.8.8.8", "[2606:4700:4700::1111]"])
def test_check_lets_names_and_public_literals_through(host: str) -> None:
    AddressPolicy().check(host)


async def test_check_resolved_refuses_a_forbidden_literal_before_resolving() -> None:
    with pytest.raises(AddressBlocked):
        await AddressPolicy().check_resolved("10.0.0.5", 443)


async def test_a_public_looking_name_resolving_to_a_private_address_is_refused() -> None:
    resolver = GuardedResolver(AddressPolicy(), StubResolver.answering("10.0.0.5"))
    with pytest.raises(AddressBlocked) as refused:
        await resolver.resolve("hooks.example.com", 443)
    assert str(refused.value) == (
        "hooks.example.com resolves to 10.0.0.5, a private or reserved address; "
        "open its range with delivery.allowed_private_cidrs"
    )


@pytest.mark.parametrize("address", CARRYING_LOOPBACK.values(), ids=CARRYING_LOOPBACK)
async def test_a_name_resolving_to_a_form_carrying_loopback_is_refused(address: str) -> None:
    resolver = GuardedResolver(AddressPolicy(), StubResolver.answering(address))
    with pytest.raises(AddressBlocked):
        await resolver.resolve("hooks.example.com", 443, socket.AF_INET6)


async def test_a_name_resolving_to_a_public_address_passes_unchanged() -> None:
    resolver = GuardedResolver(AddressPolicy(), StubResolver.answering("93.184.216.34"))
    results = await resolver.resolve("hooks.example.com", 443)
    assert [r["host"] for r in results] == ["93.184.216.34"]
    assert results[0]["hostname"] == "hooks.example.com"
    assert results[0]["port"] == 443


async def test_one_forbidden_address_among_several_refuses_the_name() -> None:
    resolver = GuardedResolver(
        AddressPolicy(), StubResolver.answering("93.184.216.34", "127.0.0.1")
    )
    with pytest.raises(AddressBlocked):
        await resolver.resolve("rebind.example.com", 443)


async def test_a_scoped_link_local_answer_is_refused() -> None:
    resolver = GuardedResolver(AddressPolicy(), StubResolver.answering("fe80::1%eth0"))
    with pytest.raises(AddressBlocked):
        await resolver.resolve("hooks.example.com", 443, socket.AF_INET6)


async def test_an_opened_range_lets_the_resolver_pass_it() -> None:
    policy = AddressPolicy(allowed_private_cidrs=["10.0.0.0/8"])
    resolver = GuardedResolver(policy, StubResolver.answering("10.0.0.5"))
    assert [r["host"] for r in await resolver.resolve("wms.internal", 8443)] == ["10.0.0.5"]


async def test_closing_the_guard_closes_the_inner_resolver() -> None:
    inner = StubResolver.answering("93.184.216.34")
    await GuardedResolver(AddressPolicy(), inner).close()
    assert inner.closed
