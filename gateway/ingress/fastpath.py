"""Store a plain webhook from its bytes, without aiohttp's request machinery.

aiohttp's request path (its parser's objects, a task per request, the middlewares, the
response and its writer) costs more CPU than all of the gateway's own work on a webhook.
Most webhooks are the plainest of requests, so the ingress connection handler shows the
bytes that start each request to :class:`FastIngest` first (``ingress.fast_path``). When
the bytes are one whole plain ``POST /webhooks/v1/{source}`` (ingress/framing.py) for a
source already known, it hands them to the intake (ingress/intake.py) as aiohttp's
request path does -- the same checks, in the same order, the same group-commit writer,
the same answer, counted and logged the same -- and writes the outcome as bytes
(gateway/http/wire.py) after the COMMIT.

Everything else goes to aiohttp as before: another framing or method, a compressed
body, anything its parser would refuse or read otherwise, an unknown source (its
look-up waits for the database).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from gateway.ingress.early import Peer, Pending
from gateway.ingress.framing import plain_webhook
from gateway.ingress.inbound import Arrival
from gateway.ingress.intake import Intake
from gateway.ingress.outcome import Outcome
from gateway.ingress.shedding import EarlyRefusal

__all__ = ["FastIngest"]

Taking = Coroutine[Any, Any, Outcome]


class FastIngest:
    """The ingress's early answers: the overload 503 (``refusal``) first, then plain
    webhooks stored and answered from their bytes (see the module docstring)."""

    def __init__(self, intake: Intake, refusal: EarlyRefusal | None = None) -> None:
        self.intake = intake
        self.refusal = refusal

    def __call__(self, data: bytes, peer: Peer) -> bytes | Pending | None:
        if self.refusal is not None:
            refused = self.refusal(data, peer)
            if refused is not None:
                return refused
        plain = plain_webhook(data)
        if plain is None or plain.source not in self.intake.sources:
            return None
        arrival = Arrival(
            "POST",
            plain.path,
            plain.source,
            peer.remote,
            peer.secure,
            plain.headers(),
            len(plain.body),  # its Content-Length: the judgement says so
            plain.body,
        )
        return _run(self.intake.take(arrival))


def _run(taking: Taking) -> bytes | Pending:
    """Run the intake on a body in hand, without a task of its own: it goes to its end
    at once, or up to the writer's COMMIT, the one thing it then waits for; it goes on
    from there once the commit is done (aiohttp's connection handler calls ``finish``)."""
    try:
        waiting = taking.send(None)
    except StopIteration as done:
        outcome: Outcome = done.value
        return outcome.encoded()
    if not isinstance(waiting, asyncio.Future):  # the intake broke its promise: a bug
        taking.close()
        raise TypeError(f"the intake waited for {waiting!r}, not the writer's commit")
    return Pending(waiting, lambda _: _finish(taking))


def _finish(taking: Taking) -> bytes:
    try:
        waiting = taking.send(None)
    except StopIteration as done:
        outcome: Outcome = done.value
        return outcome.encoded()
    taking.close()
    raise TypeError(f"the intake waited for {waiting!r} after the writer's commit")
