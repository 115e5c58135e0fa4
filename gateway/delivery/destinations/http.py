"""HTTP destinations: the outbound client (address guard, no redirects, bounded reads)."""

from __future__ import annotations

from gateway.delivery.client import OutboundClient
from gateway.delivery.request import Outbound
from gateway.store.records import AttemptResult, ClaimedDelivery

__all__ = ["HttpSender"]


class HttpSender:
    """POSTs to the subscriber's URL (a transform's path and query added)."""

    def __init__(self, client: OutboundClient) -> None:
        self.client = client

    async def send(
        self, claimed: ClaimedDelivery, outbound: Outbound, timeout: float
    ) -> AttemptResult:
        assert outbound.url is not None
        return await self.client.post(
            outbound.url,
            outbound.body,
            outbound.headers,
            timeout,
            https_only=claimed.https_only,
            proxy=claimed.proxy,
            tls=claimed.tls,
        )

    async def close(self) -> None:
        """The client is the process's: whoever made it closes it."""
