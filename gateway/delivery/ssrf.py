"""Which addresses a delivery may connect to: an explicit list, decoded forms included.

``ipaddress.is_private`` alone is not enough (it was wrong before Python 3.12.4 and
knows nothing of NAT64 or 6to4), so the ranges are listed here.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

__all__ = ["AddressBlocked", "AddressPolicy", "GuardedResolver"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_FORBIDDEN_V4 = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "255.255.255.255/32",
]  # fmt: skip
_FORBIDDEN_V6 = [
    "::/128", "::1/128", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10",
    "fec0::/10", "ff00::/8", "3fff::/20", "5f00::/16",
]  # fmt: skip
_NAT64 = [ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48")]
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


class AddressBlocked(Exception):
    """The destination resolves to an address deliveries may not reach."""


def _networks(cidrs: Iterable[str]) -> list[IPNetwork]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


FORBIDDEN: list[IPNetwork] = _networks(_FORBIDDEN_V4 + _FORBIDDEN_V6)


def embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, NAT64 or 6to4 IPv6 address."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if any(addr in net for net in _NAT64):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


class AddressPolicy:
    """Refuses private and reserved destinations except the ranges the operator opened.

    ``resolver`` replaces the system's DNS lookup for :meth:`check_resolved` (the
    registration check); tests answer public-looking names with private addresses.
    """

    def __init__(
        self, allowed_private_cidrs: Iterable[str] = (), resolver: AbstractResolver | None = None
    ) -> None:
        self.allowed = _networks(allowed_private_cidrs)
        self.resolver = resolver
        # Called for every attempt; the policy never changes, so each host's verdict
        # (why it is refused, or None) is remembered.
        self._verdict = functools.lru_cache(maxsize=10_000)(self._judge)

    def is_allowed(self, addr: IPAddress) -> bool:
        if any(addr in net for net in self.allowed if net.version == addr.version):
            return True
        if isinstance(addr, ipaddress.IPv6Address):
            inner = embedded_ipv4(addr)
            if inner is not None:
                return self.is_allowed(inner)
        return not any(addr in net for net in FORBIDDEN if net.version == addr.version)

    def check(self, host: str) -> None:
        """Raise :class:`AddressBlocked` if ``host`` is a forbidden IP literal."""
        refused = self._verdict(host)
        if refused is not None:
            raise AddressBlocked(refused)

    def _judge(self, host: str) -> str | None:
        try:
            addr = ipaddress.ip_address(host.strip("[]").split("%")[0])
        except ValueError:
            return None
        return None if self.is_allowed(addr) else f"{addr} is a private or reserved address"

    async def check_resolved(self, host: str, port: int) -> None:
        """Resolve ``host`` and refuse it if any address is forbidden (registration)."""
        self.check(host)
        if self.resolver is not None:
            await GuardedResolver(self, self.resolver).resolve(host, port, socket.AF_UNSPEC)
            return
        resolver = GuardedResolver(self)
        try:
            await resolver.resolve(host, port, socket.AF_UNSPEC)
        finally:
            await resolver.close()


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses a name if any of its addresses is forbidden.

    aiohttp connects to the addresses this returns, so the checked address is the one
    used: a second lookup (DNS rebinding) never happens.
    """

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        for result in results:
            addr = ipaddress.ip_address(result["host"].split("%")[0])
            if not self.policy.is_allowed(addr):
                raise AddressBlocked(f"{host} resolves to a private or reserved address")
        return results

    async def close(self) -> None:
        await self.inner.close()
