"""What the ingress checks read of a webhook request, whichever path parsed it.

aiohttp's ``web.Request`` has all of it; the fast path (ingress/fastpath.py) builds a
:class:`ParsedRequest` from the bytes of a plain request. The checks (trust, content type,
signature, extraction) read only this, so both paths judge a request the same way.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from multidict import CIMultiDictProxy

__all__ = ["Inbound", "ParsedRequest"]


class Inbound(Protocol):
    """The parts of a request that the ingress checks read."""

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

    @property
    def content_type(self) -> str:
        """The media type, lower case, without parameters (aiohttp's default if none)."""
        ...

    @property
    def content_length(self) -> int | None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class ParsedRequest:
    """A request parsed from its bytes by the fast path."""

    remote: str | None
    secure: bool
    headers: CIMultiDictProxy[str]
    content_type: str
    content_length: int | None
