"""Per-request trust checks before any body byte is read, cheapest first.

Client address (the socket peer, or what a trusted proxy forwarded for) → TLS required
→ global, then per-source allowlist → per-client, then per-source rate limit. Each
refusal is a :class:`~gateway.http.problems.Problem` that names the reason and nothing else.
"""

from __future__ import annotations

import dataclasses
import math
import time

from gateway.config import IngressConfig
from gateway.http.problems import Problem
from gateway.ingress.allowlist import Address, CidrAllowlist, Network
from gateway.ingress.clientaddr import client_address, is_forwarded_https
from gateway.ingress.inbound import Inbound
from gateway.ingress.ratelimit import TokenBuckets
from gateway.ingress.source import Source, token_buckets

__all__ = ["Guard"]


@dataclasses.dataclass(frozen=True, slots=True)
class Guard:
    """The listener-wide trust settings; :meth:`admit` checks one request against them."""

    trusted_proxies: tuple[Network, ...]
    require_tls: bool
    allowlist: CidrAllowlist
    client_limit: TokenBuckets | None

    @classmethod
    def from_config(cls, config: IngressConfig) -> Guard:
        """Parse the CIDRs and set up the per-client buckets of ``config``."""
        return cls(
            trusted_proxies=CidrAllowlist(config.trusted_proxies).networks,
            require_tls=config.tls_required,
            allowlist=CidrAllowlist(config.allowed_cidrs),
            client_limit=token_buckets(config.rate_limit_per_second, config.rate_limit_burst),
        )

    def admit(self, request: Inbound, source: Source) -> Address | None:
        """The client's address when ``request`` may go on to ``source``; else a Problem."""
        peer, headers = request.remote, request.headers
        address = client_address(peer, headers, self.trusted_proxies)
        if self.require_tls and not (
            request.secure or is_forwarded_https(peer, headers, self.trusted_proxies)
        ):
            raise Problem(403, "this gateway accepts webhooks over HTTPS only", kind="tls-required")
        if not (self.allowlist.allows(address) and source.allowlist.allows(address)):
            raise Problem(
                403, f"requests from {_shown(address)} are not allowed", kind="address-not-allowed"
            )
        now = time.monotonic()
        if self.client_limit is not None:
            _take(self.client_limit, str(address), now, "from this address")
        if source.rate_limit is not None:
            _take(source.rate_limit, "", now, "for this source")
        return address


def _take(buckets: TokenBuckets, key: str, now: float, whom: str) -> None:
    wait = buckets.take(key, now)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise Problem(
            429,
            f"too many requests {whom}; retry after {seconds} s",
            kind="rate-limited",
            headers={"Retry-After": str(seconds)},
        )


def _shown(address: Address | None) -> str:
    return "an unknown address" if address is None else str(address)
