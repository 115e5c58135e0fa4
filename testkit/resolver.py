"""A DNS stand-in: answers names from a table, the way a hostile or local DNS might."""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence

from aiohttp.abc import AbstractResolver, ResolveResult


class StubResolver(AbstractResolver):
    """``answers`` maps a host name to the addresses it resolves to; other names resolve to
    ``others`` (by default they do not resolve)."""

    def __init__(
        self, answers: Mapping[str, Sequence[str]] | None = None, others: Sequence[str] = ()
    ) -> None:
        self.answers = {k.lower(): list(v) for k, v in (answers or {}).items()}
        self.others = list(others)
        self.asked: list[str] = []
        self.closed = False

    @classmethod
    def answering(cls, *addresses: str) -> StubResolver:
        """Every name resolves to ``addresses``, as a local DNS might answer."""
        return cls(others=addresses)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        addresses = self.answers.get(host.lower(), self.others)
        if not addresses:
            raise OSError(f"{host} does not resolve")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        self.closed = True
