"""Runs transforms off the event loop: the interface the rest of the gateway uses.

A few threads run the sandbox (``sandbox.py``); QuickJS lets go of the GIL while a
script runs, so a hostile script holds one of these threads for at most its CPU bound,
and never the event loop: deliveries without a transform carry on meanwhile, and those
with one wait only for a free thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Mapping
from typing import Any

import orjson

from gateway.delivery.transforms.output import Cancel, Reshaped, read_output
from gateway.delivery.transforms.sandbox import Bounds, run
from gateway.domain.transform import Transform

__all__ = ["TransformEngine"]


class TransformEngine:
    """Applies a transform to one request document; one engine per process."""

    def __init__(self, threads: int = 2, bounds: Bounds | None = None) -> None:
        self.bounds = bounds or Bounds()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="transform"
        )

    async def apply(
        self,
        transform: Transform,
        request: Mapping[str, Any],
        context: Mapping[str, Any],
    ) -> Reshaped | Cancel:
        """What ``transform`` makes of ``request`` (the event's JSON document).

        Raises :class:`~gateway.delivery.transforms.sandbox.Failure` when the transform
        throws, hits a bound or answers something that cannot be sent.
        """
        output = await self.output(transform, request, context)
        return read_output(output, request.get("headers") or {}, self.bounds.output_bytes)

    async def output(
        self,
        transform: Transform,
        request: Mapping[str, Any],
        context: Mapping[str, Any],
    ) -> Any:
        """The handler's answer as it returned it (JSON), unread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool,
            run,
            transform,
            orjson.dumps(request),
            orjson.dumps(context),
            self.bounds,
        )

    def close(self) -> None:
        """Let the threads go (a running call finishes within its CPU bound)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
