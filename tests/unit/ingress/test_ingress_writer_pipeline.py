"""The group-commit writer keeps several batches committing at once, up to a limit, once
enough events wait (fewer wait for the commit under way and go together), and
refuses new events (so the sender hears 503 at once) when the waiting line is too old.

The store call is replaced by a gate the test opens, so what is checked is the writer's
own scheduling; storing for real is covered by the ingress and durability suites.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

import pytest

from gateway.config import WriterConfig
from gateway.ingress import writer as writer_module
from gateway.ingress.writer import GroupCommitWriter, WriterOverloaded, WriterTimedOut
from gateway.observability import Metrics
from gateway.store.records import IngestEvent, IngestResult
from testkit.polling import until
from tests.unit.ingress.queued_events import queued_event


class GatedStore:
    """Stands in for ``insert_batch``: each call waits until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.running = 0
        self.most_at_once = 0
        self.batches: list[list[str]] = []

    async def insert_batch(
        self, _: Any, batch: Sequence[IngestEvent], judge: Any = None
    ) -> tuple[list[IngestResult], int]:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.batches.append([e.id for e in batch])
        try:
            await self.gate.wait()
        finally:
            self.running -= 1
        return [IngestResult(e.id, False) for e in batch], 0


_until = functools.partial(until, timeout=5.0, every=0.005)


def _started(
    batch_max: int,
    max_in_flight: int,
    shed_after_ms: float = 0,
    ack_timeout: float | None = None,
    spread_at: int = 1,
) -> GroupCommitWriter:
    """A running writer over the gated store (no batch wait; no shedding unless asked;
    every free slot starts a batch at once unless ``spread_at`` says otherwise)."""
    config = WriterConfig(
        batch_wait_ms=0,
        batch_max=batch_max,
        max_in_flight=max_in_flight,
        shed_after_ms=shed_after_ms,
        spread_at=spread_at,
    )
    writer = GroupCommitWriter(None, config, Metrics(), ack_timeout=ack_timeout)  # type: ignore[arg-type]
    writer.start()
    return writer


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> GatedStore:
    gated = GatedStore()
    monkeypatch.setattr(writer_module, "insert_batch", gated.insert_batch)
    return gated


async def test_batches_commit_side_by_side_up_to_max_in_flight(store: GatedStore) -> None:
    writer = _started(batch_max=2, max_in_flight=3)
    futures = [writer.submit(queued_event(n)) for n in range(10)]

    await _until(lambda: store.running == 3)
    await asyncio.sleep(0.05)  # a fourth batch would have started by now
    assert store.most_at_once == 3
    assert sum(len(b) for b in store.batches) == 6  # the rest waits for a free slot

    store.gate.set()
    results = await asyncio.gather(*futures)
    assert [r.event_id for r in results] == [f"evt_{n}" for n in range(10)]
    assert sorted(e for b in store.batches for e in b) == sorted(f"evt_{n}" for n in range(10))
    await writer.close()


async def test_while_a_batch_commits_a_few_new_events_wait_for_it_and_go_together(
    store: GatedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "GATHER_LIMIT", 60.0)  # the test opens the gate
    writer = _started(batch_max=64, max_in_flight=4, spread_at=4)
    first = writer.submit(queued_event(0))
    await _until(lambda: store.running == 1)
    behind = [writer.submit(queued_event(n)) for n in (1, 2, 3)]
    await asyncio.sleep(0.05)  # a free slot would have taken them by now
    assert store.batches == [["evt_0"]]

    store.gate.set()
    await asyncio.gather(first, *behind)
    assert store.batches == [["evt_0"], ["evt_1", "evt_2", "evt_3"]]
    await writer.close()


async def test_a_long_enough_waiting_line_takes_a_further_slot_beside_the_commit(
    store: GatedStore,
) -> None:
    writer = _started(batch_max=64, max_in_flight=4, spread_at=4)
    first = writer.submit(queued_event(0))
    await _until(lambda: store.running == 1)
    behind = [writer.submit(queued_event(n)) for n in (1, 2, 3, 4)]
    await _until(lambda: store.running == 2)
    assert store.batches == [["evt_0"], ["evt_1", "evt_2", "evt_3", "evt_4"]]

    store.gate.set()
    await asyncio.gather(first, *behind)
    await writer.close()


async def test_events_behind_a_commit_that_is_held_up_take_a_slot_of_their_own(
    store: GatedStore,
) -> None:
    writer = _started(batch_max=64, max_in_flight=4, spread_at=8)
    first = writer.submit(queued_event(0))
    await _until(lambda: store.running == 1)
    behind = writer.submit(queued_event(1))
    await _until(lambda: store.running == 2)  # after GATHER_LIMIT; the first never ends
    assert store.batches == [["evt_0"], ["evt_1"]]

    store.gate.set()
    await asyncio.gather(first, behind)
    await writer.close()


async def test_closing_writes_the_events_waiting_behind_a_commit(
    store: GatedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "GATHER_LIMIT", 60.0)
    writer = _started(batch_max=64, max_in_flight=4, spread_at=8)
    first = writer.submit(queued_event(0))
    await _until(lambda: store.running == 1)
    behind = writer.submit(queued_event(1))

    closing = asyncio.create_task(writer.close())
    await _until(lambda: store.running == 2)  # closing: no more waiting for the commit
    store.gate.set()
    await closing
    assert [(await f).event_id for f in (first, behind)] == ["evt_0", "evt_1"]


async def test_a_writer_with_one_slot_commits_one_batch_at_a_time(store: GatedStore) -> None:
    writer = _started(batch_max=1, max_in_flight=1)
    futures = [writer.submit(queued_event(n)) for n in range(3)]
    await _until(lambda: store.running == 1)
    await asyncio.sleep(0.05)
    assert len(store.batches) == 1

    store.gate.set()
    await asyncio.gather(*futures)
    assert store.most_at_once == 1
    await writer.close()


async def test_new_events_are_refused_once_the_oldest_waiting_one_is_too_old(
    store: GatedStore,
) -> None:
    writer = _started(batch_max=1, max_in_flight=1, shed_after_ms=50)
    committing = writer.submit(queued_event(1))
    await _until(lambda: store.running == 1)
    waiting = writer.submit(queued_event(2))  # queued behind the slow commit
    assert not writer.overloaded

    await _until(lambda: writer.overloaded)
    with pytest.raises(WriterOverloaded):
        writer.submit(queued_event(3))

    store.gate.set()
    assert (await committing).event_id == "evt_1"
    assert (await waiting).event_id == "evt_2"
    assert not writer.overloaded
    assert (await writer.submit(queued_event(4))).event_id == "evt_4"
    await writer.close()


async def test_closing_waits_for_every_batch_in_flight(store: GatedStore) -> None:
    writer = _started(batch_max=1, max_in_flight=2)
    futures = [writer.submit(queued_event(n)) for n in range(4)]
    await _until(lambda: store.running == 2)

    closing = asyncio.create_task(writer.close())
    await asyncio.sleep(0.05)
    assert not closing.done()
    store.gate.set()
    await closing
    assert all(f.done() and not f.cancelled() for f in futures)
    assert not writer.running


async def test_an_event_not_committed_within_the_ack_timeout_is_answered_with_a_timeout(
    store: GatedStore,
) -> None:
    writer = _started(batch_max=1, max_in_flight=1, ack_timeout=0.2)
    committing = writer.submit(queued_event(1))
    await _until(lambda: store.running == 1)
    queued = writer.submit(queued_event(2))

    with pytest.raises(WriterTimedOut):
        await committing
    with pytest.raises(WriterTimedOut):
        await queued
    store.gate.set()
    assert (await writer.submit(queued_event(3))).event_id == "evt_3"
    assert [b for b in store.batches] == [["evt_1"], ["evt_3"]]  # evt_2 never went out
    await writer.close()
