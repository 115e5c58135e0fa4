"""Which addresses a delivery may connect to: an explicit list, decoded forms included.

``ipaddress.is_private`` alone is not enough (it was wrong before Python 3.12.4 and
knows nothing of NAT64 or 6to4), so the ranges are listed here.

An IPv6 address that carries an IPv4 address is judged by the IPv4 address it carries,
since that is where the packets end up: IPv4-mapped (``::ffff:a.b.c.d``), IPv4-compatible
(``::a.b.c.d``, deprecated), SIIT's IPv4-translated (``::ffff:0:a.b.c.d``), NAT64's
well-known prefix (``64:ff9b::a.b.c.d``), 6to4 (``2002:AABB:CCDD::``) and ISATAP
interface ids (``…:0:5efe:a.b.c.d``). The local-use NAT64 prefix ``64:ff9b:1::/48``
is refused whatever it carries: where the IPv4 address sits depends on the prefix length
the operator's translator uses (RFC 6052 §2.2), which only the operator knows; list the
translator's prefix in ``delivery.allowed_private_cidrs`` to open it. Teredo
(``2001::/32``) is refused with the rest of ``2001::/23``: its addresses carry a relay's
and a NAT's public address, never one behind the gateway.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

__all__ = ["OPEN_WITH", "AddressBlocked", "AddressPolicy", "GuardedResolver", "embedded_ipv4"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_FORBIDDEN_V4 = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "255.255.255.255/32",
]  # fmt: skip
_FORBIDDEN_V6 = [
    "::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
    "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "3fff::/20", "5f00::/16",
]  # fmt: skip
# The last 32 bits are the IPv4 address (:: and ::1 are forbidden as themselves first).
_CARRY_LAST_32 = [
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (RFC 4291 §2.5.5.1)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated, SIIT (RFC 2765)
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix (RFC 6052)
]
_ISATAP = 0x00005EFE  # interface id 0000:5efe or 0200:5efe, then the IPv4 (RFC 5214)
OPEN_WITH = "open its range with delivery.allowed_private_cidrs"


class AddressBlocked(Exception):
    """The destination resolves to an address deliveries may not reach."""


def _networks(cidrs: Iterable[str]) -> list[IPNetwork]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


FORBIDDEN: list[IPNetwork] = _networks(_FORBIDDEN_V4 + _FORBIDDEN_V6)


def embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that ``addr`` carries (and that its packets reach), if any."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    last_32 = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if any(addr in net for net in _CARRY_LAST_32):
        return last_32
    if (int(addr) >> 32) & 0xFDFFFFFF == _ISATAP:
        return last_32
    return None


def ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells (brackets and an IPv6 zone aside), ``None`` for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
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
        """Opened by the operator, or neither forbidden itself nor carrying a forbidden
        IPv4 address."""
        if any(addr in net for net in self.allowed if net.version == addr.version):
            return True
        if any(addr in net for net in FORBIDDEN if net.version == addr.version):
            return False
        inner = embedded_ipv4(addr) if isinstance(addr, ipaddress.IPv6Address) else None
        return inner is None or self.is_allowed(inner)

    def check(self, host: str) -> None:
        """Raise :class:`AddressBlocked` if ``host`` is a forbidden IP literal."""
        refused = self._verdict(host)
        if refused is not None:
            raise AddressBlocked(refused)

    def _judge(self, host: str) -> str | None:
        addr = ip_literal(host)
        if addr is None or self.is_allowed(addr):
            return None
        return f"{addr} is a private or reserved address; {OPEN_WITH}"

    async def check_resolved(self, host: str, port: int) -> None:
        """Resolve ``host`` and refuse it if any address is forbidden (registration).

        An IP literal is judged as it is, unresolved, as aiohttp connects to it.
        """
        self.check(host)
        if ip_literal(host) is not None:
            return
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
        self.inner = inner or aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        for result in results:
            addr = ipaddress.ip_address(result["host"].split("%")[0])
            if not self.policy.is_allowed(addr):
                raise AddressBlocked(
                    f"{host} resolves to {addr}, a private or reserved address; {OPEN_WITH}"
                )
        return results

    async def close(self) -> None:
        await self.inner.close()
