"""Calls go to a worker in batches and come back in batches: every answer still reaches
its own call, and a call that kills its worker fails alone, however many calls of its
batch were already answered and not yet written back. The real QuickJS engine."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import signal
from typing import Any

import orjson
import psutil
import pytest

from gateway.delivery.transforms import (
    Bounds,
    Cancel,
    Failure,
    Reshaped,
    TransformEngine,
    Unparsed,
)
from gateway.domain.document import event_document
from gateway.domain.transform import Transform

CONTEXT = {"subscriber": "wms", "received_at": "2026-12-06T10:00:00+00:00"}
ECHO = Transform(source="function handler(r) { return {body: {n: r.body.n, who: r.id}} }")
SPIN = Transform(source="function handler(r) { for (;;) {} }")
MIRROR = Transform(source="function handler(r) { return {body: r} }")


def request(n: int) -> dict[str, Any]:
    return {"type": "t", "source": "s", "id": f"evt_{n}", "headers": {}, "body": {"n": n}}


def echoed(n: int) -> Reshaped:
    return Reshaped(body=orjson.dumps({"n": n, "who": f"evt_{n}"}), content_type="application/json")


async def started(engine: TransformEngine) -> int:
    """The pid of the engine's one worker, once it answered calls of queue ``q`` one by
    one until that queue's calls are known to be cheap (so that they go out together)."""
    for _ in range(12):
        assert await engine.apply(ECHO, request(0), CONTEXT, queue="q") == echoed(0)
    [pid] = engine.worker_pids()
    return pid


async def spinning(pid: int) -> None:
    """Until the worker ``pid`` has spent a fifth of a second of CPU more than now."""
    process = psutil.Process(pid)
    before = sum(process.cpu_times()[:2])
    for _ in range(200):  # bounded: 10 s
        if sum(process.cpu_times()[:2]) - before > 0.2:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the spinning call never ran")


async def test_every_answer_of_a_batch_reaches_its_own_call() -> None:
    engine = TransformEngine(workers=2)
    try:
        calls = [
            engine.apply(ECHO, request(n), CONTEXT, queue=f"subscriber-{n % 3}") for n in range(300)
        ]
        assert await asyncio.gather(*calls) == [echoed(n) for n in range(300)]
    finally:
        await engine.close()


async def test_a_call_that_kills_its_worker_fails_alone_and_the_rest_of_its_batch_is_answered() -> (
    None
):
    engine = TransformEngine(workers=1, bounds=Bounds(cpu_seconds=5.0))
    try:
        pid = await started(engine)
        finished: list[int] = []
        calls = []
        for n in (1, 2, 3, 4, 5):  # one turn of the loop: one batch, the third call spins
            call = asyncio.ensure_future(
                engine.apply(SPIN if n == 3 else ECHO, request(n), CONTEXT, queue="q")
            )
            call.add_done_callback(lambda _, n=n: finished.append(n))
            calls.append(call)
        await spinning(pid)  # 1 and 2 ran: their answers wait for the batch's end
        os.kill(pid, signal.SIGKILL)
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert results[:2] + results[3:] == [echoed(1), echoed(2), echoed(4), echoed(5)]
        assert isinstance(results[2], Failure)
        assert results[2].message == "its worker process ended (exit status -9)"
        assert [n for n in finished if n != 3] == [1, 2, 4, 5]
        assert engine.worker_pids() not in ([], [pid])
    finally:
        await engine.close()


async def test_a_call_stuck_in_a_batch_is_killed_by_the_watchdog_and_fails_alone() -> None:
    engine = TransformEngine(workers=1, bounds=Bounds(cpu_seconds=5.0))
    engine.hang_seconds = 0.5  # far below the CPU bound: as if stuck in native code
    try:
        await started(engine)
        calls = [
            engine.apply(SPIN if n == 2 else ECHO, request(n), CONTEXT, queue="q")
            for n in (1, 2, 3)
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert [results[0], results[2]] == [echoed(1), echoed(3)]
        assert isinstance(results[1], Failure)
        assert results[1].message == "ran longer than 0.5 s of wall time"
    finally:
        await engine.close()


async def test_a_worker_killed_between_calls_fails_one_call_at_most() -> None:
    engine = TransformEngine(workers=1)
    try:
        pid = await started(engine)
        os.kill(pid, signal.SIGKILL)
        results = await asyncio.gather(
            *(engine.apply(ECHO, request(n), CONTEXT, queue="q") for n in (1, 2, 3)),
            return_exceptions=True,
        )
        assert sum(isinstance(r, Failure) for r in results) <= 1
        for n, result in zip((1, 2, 3), results, strict=True):
            assert isinstance(result, Failure) or result == echoed(n)
    finally:
        await engine.close()


@pytest.mark.parametrize(
    "body",
    [
        b'{"order": {"id": 7, "total": "12.50"}, "tags": ["a", "b"]}',
        b'  [1, 2.5, -0.0, 1e3, "\\u00e9\\ud83d\\ude00"]\n',
        b"not json",
        b"",
        b'{"n": 123456789012345678901234567890}',
        b'{"a": 1}{"b": 2}',
        b'{"a": 1, "a": 2}',
        b"null",
        b'"\\ud800"',
    ],
)
async def test_a_body_left_to_the_worker_reads_as_the_events_document_reads_it(
    body: bytes,
) -> None:
    engine = TransformEngine(workers=1)
    head = {"type": "t", "source": "s", "id": "evt_1", "headers": {"x-a": "1"}}
    try:
        answer = await engine.apply(MIRROR, {**head, "body": Unparsed(body)}, CONTEXT)
    finally:
        await engine.close()
    assert isinstance(answer, Reshaped) and answer.body is not None
    event = _Event(id="evt_1", source="s", event_type="t", headers={"x-a": "1"}, body=body)
    assert orjson.loads(answer.body) == event_document(event)


@dataclasses.dataclass
class _Event:
    id: str
    source: str
    event_type: str
    headers: dict[str, str]
    body: bytes
    body_view: Any = None


async def test_what_the_worker_reads_of_an_answer_is_what_the_handler_answered() -> None:
    engine = TransformEngine(workers=1)
    source = """function handler(r) {
      if (r.body.n === 1) return {cancel: true};
      if (r.body.n === 2) return {headers: {"Webhook-Id": "x"}};
      if (r.body.n === 3) return {body: "plain", path: "/a b", query: {q: 1, t: true}};
      return {headers: r.headers, content_type: "application/x-order"};
    }"""
    transform = Transform(source=source)
    with_headers = {**request(4), "headers": {"x-shop": "a"}}
    try:
        results = await asyncio.gather(
            *(engine.apply(transform, request(n), CONTEXT) for n in (1, 2, 3)),
            engine.apply(transform, with_headers, CONTEXT),
            return_exceptions=True,
        )
    finally:
        await engine.close()
    assert results[0] == Cancel()
    assert isinstance(results[1], Failure)
    assert results[1].message == "header 'Webhook-Id' is the gateway's to set"
    assert results[2] == Reshaped(
        body=b"plain", content_type="text/plain; charset=utf-8", path="/a%20b", query="q=1&t=true"
    )
    assert results[3] == Reshaped(content_type="application/x-order")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "function handler(r) { let b = 1; for (let i = 0; i < 300; i++) b = [b];"
            " return {body: b} }",
            "its body cannot be sent as JSON: Recursion limit reached",
        ),
        (
            "function handler(r) { return {body: '\\ud800'} }",
            "its output cannot be read: no low surrogate in string",
        ),
    ],
)
async def test_an_answer_that_cannot_be_read_or_sent_fails_its_call_and_no_other(
    source: str, message: str
) -> None:
    engine = TransformEngine(workers=1)
    try:
        await started(engine)
        results = await asyncio.gather(
            *(engine.apply(Transform(source=source) if n == 2 else ECHO, request(n), CONTEXT,
                           queue="q")
              for n in (1, 2, 3)),
            return_exceptions=True,
        )  # fmt: skip
    finally:
        await engine.close()
    assert [results[0], results[2]] == [echoed(1), echoed(3)]
    assert isinstance(results[1], Failure)
    assert results[1].message.startswith(message)


async def test_a_process_that_ran_four_billion_calls_still_frames_the_next() -> None:
    engine = TransformEngine(workers=1)
    engine._ids = itertools.count(2**32 - 1)  # as if after 2**32 - 2 calls
    try:
        results = [await engine.apply(ECHO, request(n), CONTEXT) for n in (1, 2, 3)]
    finally:
        await engine.close()
    assert results == [echoed(1), echoed(2), echoed(3)]
