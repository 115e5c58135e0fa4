"""The group-commit writer outlives any one batch: an unexpected error fails that batch
(503 to its senders) and the next batch is stored as usual.

Found by the fault suite (chaos/): after PostgreSQL was killed, asyncpg raised an error
the store did not translate, the writer task died, and ingest answered 503 until the
gateway was restarted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from gateway.config import WriterConfig
from gateway.ingress import writer as writer_module
from gateway.ingress.writer import GroupCommitWriter
from gateway.observability import Metrics
from gateway.store import StoreUnavailable
from gateway.store.records import IngestEvent, IngestResult
from tests.unit.ingress.queued_events import queued_event


async def test_an_unexpected_error_fails_one_batch_and_the_writer_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    async def insert_batch(
        _: Any, batch: Sequence[IngestEvent], judge: Any = None
    ) -> tuple[list[IngestResult], int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("cannot switch to state 15; another operation is in progress")
        return [IngestResult(e.id, False) for e in batch], 0

    monkeypatch.setattr(writer_module, "insert_batch", insert_batch)
    writer = GroupCommitWriter(None, WriterConfig(batch_wait_ms=0), Metrics())  # type: ignore[arg-type]
    writer.start()
    first = writer.submit(queued_event(1))
    with pytest.raises(StoreUnavailable):
        await first
    assert writer.running
    assert (await writer.submit(queued_event(2))).event_id == "evt_2"
    await writer.close()
