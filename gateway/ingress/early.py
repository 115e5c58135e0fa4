"""The contract between the ingress connection handler and what answers requests from
their bytes, before aiohttp parses them (ingress/slowclients.py calls it).

Shown the bytes that start a request (one whole plain request, see ingress/framing.py),
an :data:`AnswerEarly` returns the whole answer to write now, a :class:`Pending` answer
(written once its future is done), or ``None``: aiohttp handles the request as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["AnswerEarly", "Peer", "Pending"]


class Peer(NamedTuple):
    """The connection a request came on, as aiohttp's request would tell it."""

    remote: str | None  # the socket peer's address (``request.remote``)
    secure: bool  # over TLS (``request.secure``)


class Pending(NamedTuple):
    """An answer that waits: ``finish(future)``, called once ``future`` is done, gives the
    bytes to write. It is called even when the client has gone, so the outcome is counted."""

    future: asyncio.Future[Any]
    finish: Callable[[asyncio.Future[Any]], bytes]


AnswerEarly = Callable[[bytes, Peer], bytes | Pending | None]
