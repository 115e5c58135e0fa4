"""Who is really calling: the socket peer, or the client a trusted proxy forwarded for.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only when the socket peer is
itself a trusted proxy; a header sent by anyone else changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.ingress.allowlist import Address, Network, in_networks, parse_address

__all__ = ["client_address", "forwarded_values", "is_forwarded_https"]


def forwarded_values(headers: Mapping[str, str], name: str) -> list[str]:
    """Every comma-separated entry of every ``name`` header, in order, stripped."""
    getall = getattr(headers, "getall", None)
    if getall is not None:
        raw: list[str] = list(getall(name, []))
    else:
        value = headers.get(name)
        raw = [] if value is None else [value]
    return [entry.strip() for value in raw for entry in value.split(",")]


def client_address(
    peer: str | None, headers: Mapping[str, str], trusted_proxies: Sequence[Network]
) -> Address | None:
    """The client's address (IPv4-mapped IPv6 given as IPv4); ``None`` if the peer is unknown.

    When the peer is a trusted proxy, ``X-Forwarded-For`` is walked from the right and
    the first address that is not a trusted proxy is the client; if every entry is a
    trusted proxy, the left-most one is. An entry that is not an address stops the walk
    and the peer is used.
    """
    address = parse_address(peer)
    if address is None or not in_networks(address, trusted_proxies):
        return address
    hops = forwarded_values(headers, "X-Forwarded-For")
    client = address
    for entry in reversed(hops):
        hop = _parse_hop(entry)
        if hop is None:
            return address
        client = hop
        if not in_networks(hop, trusted_proxies):
            break
    return client


def is_forwarded_https(
    peer: str | None, headers: Mapping[str, str], trusted_proxies: Sequence[Network]
) -> bool:
    """Whether a trusted proxy says the client spoke HTTPS to it.

    Every ``X-Forwarded-Proto`` entry must be ``https``: a client's forged value followed
    by a proxy's ``http`` is not enough.
    """
    address = parse_address(peer)
    if address is None or not in_networks(address, trusted_proxies):
        return False
    protos = forwarded_values(headers, "X-Forwarded-Proto")
    return bool(protos) and all(proto.lower() == "https" for proto in protos)


def _parse_hop(entry: str) -> Address | None:
    """An ``X-Forwarded-For`` entry: ``a.b.c.d``, ``a.b.c.d:port``, ``v6`` or ``[v6]:port``."""
    address = parse_address(entry)
    if address is not None:
        return address
    if entry.startswith("["):
        host, sep, _ = entry[1:].partition("]")
        return parse_address(host) if sep else None
    host, sep, port = entry.rpartition(":")
    if sep and host.count(".") == 3 and port.isascii() and port.isdigit():
        return parse_address(host)
    return None
