"""A webhook request as the intake reads it, whichever path parsed it.

aiohttp's request path (ingress/routes.py) and the fast path (ingress/fastpath.py), which
reads a plain request from its bytes, each make an :class:`Arrival` of what they parsed;
the intake (ingress/intake.py) and its checks read only that, so both paths judge a
request the same way.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from multidict import CIMultiDictProxy

from gateway.http.problems import Problem

__all__ = ["Arrival", "BodyReader", "Inbound", "too_large"]


class Inbound(Protocol):
    """The parts of a request that the trust checks and the signature read."""

    @property
    def remote(self) -> str | None:
        """The socket peer's address."""
        ...

    @property
    def secure(self) -> bool:
        """Whether the request came over TLS."""
        ...

    @property
    def headers(self) -> CIMultiDictProxy[str]: ...


class BodyReader(Protocol):
    """A body still to be read (aiohttp's request path)."""

    async def read(self, limit: int) -> bytes:
        """The whole body, at most ``limit`` bytes (after any ``Content-Encoding``); a
        :func:`too_large` problem if it is larger, another if it cannot be read."""
        ...


def too_large(limit: int) -> Problem:
    """The 413 of a body larger than ``limit`` bytes."""
    return Problem(413, f"the body exceeds {limit} bytes", kind="body-too-large")


@dataclasses.dataclass(slots=True)  # not frozen: made for every webhook, frozen costs 5x more
class Arrival:
    """One request to ``/webhooks/v1/{source}``, as the intake reads it (not changed once
    made)."""

    method: str
    path: str  # the query left off
    source: str  # the name in the path
    remote: str | None  # the socket peer's address
    secure: bool  # over TLS
    headers: CIMultiDictProxy[str]
    content_length: int | None  # as declared
    body: bytes | BodyReader  # in hand (the fast path), or to be read
