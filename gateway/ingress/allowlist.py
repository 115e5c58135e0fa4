"""Source IP allowlists (CIDR), IPv4 and IPv6, with IPv4-mapped IPv6 judged as IPv4."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

__all__ = ["Address", "CidrAllowlist", "Network", "in_networks", "parse_address", "unmap"]

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


def unmap(address: Address) -> Address:
    """``::ffff:a.b.c.d`` as the IPv4 address ``a.b.c.d``; any other address unchanged."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_address(value: str | None) -> Address | None:
    """An address from text (IPv6 zone ids and mapped IPv4 allowed), or ``None`` if invalid."""
    if not value:
        return None
    return _parse(value)


@functools.lru_cache(maxsize=4096)  # every request parses its peer; senders repeat
def _parse(value: str) -> Address | None:
    try:
        return unmap(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def in_networks(address: Address, networks: Sequence[Network]) -> bool:
    """Whether ``address`` (unmapped first) lies in any of ``networks``."""
    plain = unmap(address)
    return any(plain.version == net.version and plain in net for net in networks)


class CidrAllowlist:
    """The networks a source accepts requests from; an empty list allows every address."""

    __slots__ = ("networks",)

    def __init__(self, cidrs: Iterable[str]) -> None:
        """Parse ``cidrs`` (host bits may be set); raises ``ValueError`` for a bad entry."""
        self.networks: tuple[Network, ...] = tuple(
            _unmap_network(ipaddress.ip_network(c.strip(), strict=False)) for c in cidrs
        )

    def allows(self, address: Address | None) -> bool:
        """Whether ``address`` may send; an unknown address (``None``) only when the list
        is empty."""
        if not self.networks:
            return True
        return address is not None and in_networks(address, self.networks)


def _unmap_network(network: Network) -> Network:
    """``::ffff:10.0.0.0/104`` as ``10.0.0.0/8``, so a mapped network matches IPv4 peers."""
    if isinstance(network, IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return IPv4Network((mapped, network.prefixlen - 96))
    return network
