"""Runs transforms in worker processes: the interface the rest of the gateway uses.

Each worker (``worker.py``) is a Python process of its own holding QuickJS contexts; the
event loop only frames calls and reads answers (``protocol.py``), many in flight at
once, so a hostile script holds one worker for at most its CPU bound and never the
loop, and a worker that dies (or hangs in native code: a watchdog kills it) takes
nothing with it: the call it ran fails (the worker names it in a slot of shared memory,
``worker.py``), the others it held, answered or not, go to another worker, and a new one
starts.

Calls wait in one queue per subscriber, so a subscriber whose transform spends its
whole bound on every event slows its own deliveries, not the others'. Turns are fair in
worker time, not in calls: the queue given the least time so far goes next (start-time
fair queuing), so a subscriber whose calls take 30 us does not wait behind four whose
calls take 50 ms, call for call. A worker is sent calls ahead only up to a few
milliseconds of work, as each queue's calls have taken so far (a new queue's are taken
to use their whole bound). The calls of one turn of the loop go to a worker in one
write, and it answers them in one (``worker.py``).

The event's body goes to the worker as it came (:class:`Unparsed`): the worker reads it
as JSON, and reads the handler's answer into the request to send (``output.py``), so the
event loop neither parses nor writes a body, nor reads the handler's answer.

Processes rather than threads: QuickJS lets go of the GIL while a script runs, but a
thread must take the GIL back to hand each answer over, and behind a busy event loop
that waits for the interpreter's switch interval; measured, that cost 750 us a delivery.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import itertools
import logging
import mmap
import sys
import tempfile
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from gateway.delivery.transforms.output import Cancel, Reshaped
from gateway.delivery.transforms.protocol import RAW_BODY, READ, call_frame, read_answers
from gateway.delivery.transforms.sandbox import Bounds, Failure
from gateway.domain.transform import Transform

__all__ = ["TransformEngine", "Unparsed"]

log = logging.getLogger("gateway.delivery")
_PIPELINE = 64  # calls sent ahead to one worker, at most: it need not wait for the loop
_AHEAD_SECONDS = 0.005  # and at most this much work, as estimated
_CANCEL = Cancel()


class Unparsed(NamedTuple):
    """A request document's body as the event came with it: the worker reads it as JSON,
    ``null`` when it is not JSON (as ``gateway.domain.document`` reads a body)."""

    body: bytes


@dataclasses.dataclass(slots=True)
class _Call:
    answer: asyncio.Future[Any]
    queue: str
    transform: Transform
    flags: int
    request: bytes
    body: bytes
    context: bytes


@dataclasses.dataclass(eq=False)
class _Worker:
    process: asyncio.subprocess.Process
    in_flight: collections.OrderedDict[int, tuple[_Call, float]] = dataclasses.field(
        default_factory=collections.OrderedDict
    )  # each with the seconds it is expected to take
    ahead: float = 0.0  # the seconds of work in flight, as estimated
    seen: set[str] = dataclasses.field(default_factory=set)  # versions whose source it has
    busy_since: float | None = None  # since when it has held calls and answered none
    killed_for: str | None = None
    reader: asyncio.Task[None] | None = None
    slot: mmap.mmap | None = None  # where it names the call it runs

    def running(self) -> int:
        """The id of the call the worker runs now (0: none)."""
        if self.slot is None or self.slot.closed:
            return 0
        return int.from_bytes(self.slot[:8], sys.byteorder)


class TransformEngine:
    """Applies a transform to one request document; one engine per process."""

    def __init__(self, workers: int = 2, bounds: Bounds | None = None) -> None:
        self.bounds = bounds or Bounds()
        self.workers = workers
        self._slots: list[_Worker | None] = [None] * workers
        self._starting: set[int] = set()
        self._waiting: collections.OrderedDict[str, collections.deque[_Call]] = (
            collections.OrderedDict()
        )
        self._ids = itertools.count(1)
        self._cost: dict[str, float] = {}  # each queue's seconds a call, moving average
        self._given: dict[str, float] = {}  # each queue's worker seconds given, as estimated
        self._clock = 0.0  # what the queue served last had been given before it
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False
        self._send_scheduled = False
        self._heads: dict[str, bytes] = {}
        self.hang_seconds = max(2.0, 40 * self.bounds.cpu_seconds)

    async def apply(
        self,
        transform: Transform,
        request: Mapping[str, Any],
        context: Mapping[str, Any],
        *,
        queue: str = "",
    ) -> Reshaped | Cancel:
        """What ``transform`` makes of ``request`` (the event's JSON document; its ``body``
        may be :class:`Unparsed`, then its last key); ``queue`` names whose turn it waits
        for (a subscriber's id).

        Raises :class:`~gateway.delivery.transforms.sandbox.Failure` when the transform
        throws, hits a bound or answers something that cannot be sent.
        """
        answer: Reshaped | Cancel = await self._call(transform, request, context, queue, READ)
        return answer

    async def output(
        self,
        transform: Transform,
        request: Mapping[str, Any],
        context: Mapping[str, Any],
        *,
        queue: str = "",
    ) -> Any:
        """The handler's answer as it returned it (JSON), unread."""
        return await self._call(transform, request, context, queue, 0)

    def _call(
        self,
        transform: Transform,
        request: Mapping[str, Any],
        context: Mapping[str, Any],
        queue: str,
        flags: int,
    ) -> asyncio.Future[Any]:
        if self._closed:
            raise Failure("the gateway is stopping")
        body = request.get("body")
        if isinstance(body, Unparsed):
            document = dict(request)
            del document["body"]
            encoded, raw, flags = orjson.dumps(document), body.body, flags | RAW_BODY
        else:
            encoded, raw = orjson.dumps(request), b""
        loop = asyncio.get_running_loop()
        call = _Call(
            loop.create_future(), queue, transform, flags, encoded, raw, orjson.dumps(context)
        )
        if queue not in self._waiting:  # idle until now: it is owed nothing from before
            self._given[queue] = max(self._given.get(queue, 0.0), self._clock)
        self._waiting.setdefault(queue, collections.deque()).append(call)
        if not self._send_scheduled:  # the calls of this turn of the loop go out together
            self._send_scheduled = True
            loop.call_soon(self._send)
        return call.answer

    def worker_pids(self) -> list[int]:
        """The running workers' process ids."""
        return [w.process.pid for w in self._slots if w is not None]

    def _send(self) -> None:
        """Send waiting calls to the least busy workers, the queue owed most first."""
        self._send_scheduled = False
        for index, worker in enumerate(self._slots):
            if worker is None and index not in self._starting and self._waiting:
                self._starting.add(index)
                asyncio.get_running_loop().create_task(self._start(index))
        live = [w for w in self._slots if w is not None]
        frames: dict[_Worker, list[bytes]] = {}
        while live and self._waiting:
            worker = min(live, key=lambda w: w.ahead)
            queue = min(self._waiting, key=self._given.__getitem__)
            cost = self._cost.get(queue, self.bounds.cpu_seconds)
            if worker.in_flight and (
                worker.ahead + cost > _AHEAD_SECONDS or len(worker.in_flight) >= _PIPELINE
            ):
                break
            call = self._take(queue, cost)
            if call is None:
                continue
            call_id = next(self._ids)
            if not worker.in_flight:
                worker.busy_since = time.monotonic()
            worker.in_flight[call_id] = (call, cost)
            worker.ahead += cost
            t = call.transform
            if t.version in worker.seen:
                head = self._heads.get(t.version) or self._head(t)
            else:
                worker.seen.add(t.version)
                head = orjson.dumps([t.version, t.language, t.source])
            frames.setdefault(worker, []).append(
                call_frame(call_id, call.flags, head, call.request, call.body, call.context)
            )
        for worker, batch in frames.items():
            assert worker.process.stdin is not None
            worker.process.stdin.write(b"".join(batch))

    def _head(self, transform: Transform) -> bytes:
        """A call's head once the worker has the source: the same bytes every time."""
        if len(self._heads) >= 256:
            self._heads.clear()
        head = self._heads[transform.version] = orjson.dumps(
            [transform.version, transform.language, None]
        )
        return head

    def _take(self, queue: str, cost: float) -> _Call | None:
        """The next call of ``queue``, charged to it; None when its delivery gave up."""
        calls = self._waiting[queue]
        call = calls.popleft()
        if not calls:
            del self._waiting[queue]
        if call.answer.done():  # its delivery was cancelled while it waited
            return None
        self._clock = self._given[queue]
        self._given[queue] += cost
        return call

    async def _start(self, index: int) -> None:
        b = self.bounds
        with tempfile.TemporaryFile() as shared:
            shared.truncate(8)
            slot = mmap.mmap(shared.fileno(), 8)
            try:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "gateway.delivery.transforms.worker",
                    str(b.cpu_seconds), str(b.memory_bytes), str(b.stack_bytes),
                    str(b.output_bytes), str(shared.fileno()),
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    pass_fds=(shared.fileno(),),
                )  # fmt: skip
            except OSError as exc:
                slot.close()
                self._starting.discard(index)
                log.warning("could not start a transform worker: %s", exc)
                self._fail_waiting(Failure(f"no transform worker could start: {exc}"))
                return
        worker = _Worker(process, slot=slot)
        worker.reader = asyncio.get_running_loop().create_task(self._read(index, worker))
        self._slots[index] = worker
        self._starting.discard(index)
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())
        if self._closed:
            await self._stop(worker)
            return
        self._send()

    async def _read(self, index: int, worker: _Worker) -> None:
        assert worker.process.stdout is not None
        buffer = bytearray()
        while chunk := await worker.process.stdout.read(1 << 18):
            buffer += chunk
            for call_id, answer, body in read_answers(buffer):
                call, cost = worker.in_flight.pop(call_id)
                worker.ahead = worker.ahead - cost if worker.in_flight else 0.0
                worker.busy_since = time.monotonic() if worker.in_flight else None
                seconds, kind, *rest = answer
                self._cost[call.queue] = (self._cost.get(call.queue, seconds) + seconds) / 2
                if not call.answer.done():
                    _answer(call.answer, kind, rest, body)
            self._send()
        status = await worker.process.wait()
        self._lost(index, worker, status)

    def _lost(self, index: int, worker: _Worker, status: int) -> None:
        """A worker ended: the call it ran fails (the one it named in its slot; when none,
        the oldest it held); every other call it held waits again, in order."""
        if self._slots[index] is worker:
            self._slots[index] = None
        held = worker.in_flight
        calls = [call for call, _ in held.values()]
        culprit = held[running][0] if (running := worker.running()) in held else None
        held.clear()
        worker.ahead = 0.0
        if worker.slot is not None:
            worker.slot.close()
        if not calls:
            return
        culprit = culprit or calls[0]
        reason = worker.killed_for or f"its worker process ended (exit status {status})"
        if not culprit.answer.done():
            culprit.answer.set_exception(Failure(reason))
        for call in reversed(calls):
            if call is not culprit:
                self._waiting.setdefault(call.queue, collections.deque()).appendleft(call)
        if not self._closed:
            log.warning("transform worker %d ended: %s", worker.process.pid, reason)
            self._send()
        else:
            self._fail_waiting(Failure("the gateway is stopping"))

    async def _watch(self) -> None:
        """Kill a worker that has held calls and answered none far beyond the CPU bound (a
        call stuck in native code, where QuickJS's interrupt does not reach)."""
        while not self._closed:
            await asyncio.sleep(min(0.25, self.hang_seconds / 4))
            now = time.monotonic()
            for worker in self._slots:
                if worker and worker.busy_since and now - worker.busy_since > self.hang_seconds:
                    worker.killed_for = f"ran longer than {self.hang_seconds:g} s of wall time"
                    worker.busy_since = None
                    with contextlib.suppress(ProcessLookupError):
                        worker.process.kill()

    def _fail_waiting(self, failure: Failure) -> None:
        waiting = [call for calls in self._waiting.values() for call in calls]
        self._waiting.clear()
        for call in waiting:
            if not call.answer.done():
                call.answer.set_exception(failure)

    async def close(self) -> None:
        """Stop the workers (a running call ends within its bound) and the watchdog."""
        self._closed = True
        self._fail_waiting(Failure("the gateway is stopping"))
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        await asyncio.gather(*(self._stop(w) for w in self._slots if w is not None))

    async def _stop(self, worker: _Worker) -> None:
        assert worker.process.stdin is not None
        worker.process.stdin.close()
        try:
            await asyncio.wait_for(worker.process.wait(), 2.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
            await worker.process.wait()
        if worker.reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await worker.reader


def _answer(future: asyncio.Future[Any], kind: str, rest: list[Any], body: bytes) -> None:
    """Settle a call's future with its answer (``protocol.py``)."""
    if kind == "send":
        has_body, content_type, headers, path, query = rest
        future.set_result(Reshaped(body if has_body else None, content_type, headers, path, query))
    elif kind == "cancel":
        future.set_result(_CANCEL)
    elif kind == "ok":
        future.set_result(rest[0])
    else:
        future.set_exception(Failure(*rest))
