"""The sources: how each takes its events (webhooks at its path, or a queue of a broker),
and, for a queue this process reads, how the reading goes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import msgspec
from aiohttp import web

from gateway.console.access import CONSOLE, needs
from gateway.console.render import page
from gateway.domain.operational import GATEWAY_SOURCE
from gateway.domain.receive import ReaderStatus
from gateway.domain.source import SourceConfig
from gateway.store import sources as store

__all__ = ["ROUTES", "SourceRow"]


@dataclasses.dataclass(frozen=True, slots=True)
class SourceRow:
    name: str
    scheme: str
    kind: str  # webhook, sqs, amqp, or operational (the built-in source)
    broker: str | None
    queue: str | None
    managed_by: str
    reader: ReaderStatus | None

    @property
    def since(self) -> datetime | None:
        return None if self.reader is None else datetime.fromtimestamp(self.reader.since, UTC)


def _row(stored: store.StoredSource, reader: ReaderStatus | None) -> SourceRow:
    spec = {k: v for k, v in stored.spec.items() if k != "secret_count"}  # a file's source
    config = msgspec.convert(spec, SourceConfig)
    receive = config.receive
    return SourceRow(
        name=stored.name,
        scheme=config.scheme,
        kind="webhook" if receive is None else receive.kind,
        broker=None if receive is None else receive.broker,
        queue=None if receive is None else receive.queue_name,
        managed_by=stored.managed_by,
        reader=reader,
    )


BUILT_IN = SourceRow(GATEWAY_SOURCE, "—", "operational", None, None, "gateway", None)
"""The gateway's own source: its events about itself (gateway/domain/operational.py)."""


@needs("read")
async def sources(request: web.Request) -> web.Response:
    state = request.config_dict[CONSOLE].api
    readers = state.readers()
    rows = [_row(s, readers.get(s.name)) for s in await store.list_sources(state.db)]
    rows.append(BUILT_IN)
    return page(request, "sources.html", sources=rows, reading_here=bool(readers))


ROUTES = [("GET", "/sources", sources)]
