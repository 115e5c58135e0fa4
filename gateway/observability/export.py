"""Export: finished spans handed in batches to a process of their own (``exporter.py``),
which sends them to an OTLP collector (HTTP or gRPC) with the SDK's own exporters.

The gateway's process only appends each span (a tuple) to a buffer as MessagePack and, a
few times a second, writes the buffer to a pipe: OTLP encoding, HTTP and the SDK's export
machinery run in the exporter process, not under the GIL the event loop needs. A span
dropped (too many waiting, or its export failed) is counted; the SDK's export loggers
speak at most once a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import msgspec
from prometheus_client import Counter

from gateway.observability.logs import logging_settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from gateway.observability.otlp_encoding import Group
    from gateway.observability.tracing import Finished

__all__ = ["ExporterProcess", "otlp_exporter", "sparse_sdk_logs"]

log = logging.getLogger("gateway")

BATCH_SPANS = 2048  # a batch goes to the exporter at this many spans,
FLUSH_SECONDS = 0.2  # or this long after the last;
EXPORT_SPANS = 4096  # the exporter sends up to this many in one request (half the queue)
READY_SECONDS = 10.0  # the gateway waits this long at most for its exporter to start
RESTART_SECONDS = 0.5  # an exporter that died is started again after this pause,
RESTART_MAX_SECONDS = 30.0  # doubled while they keep dying, up to this,
RESTART_RESET_SECONDS = 60.0  # and back to the first once one lived this long
_SDK_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.sdk._shared_internal",
)
SDK_LOG_INTERVAL = 60.0


class _Sparse(logging.Filter):
    """At most one line a minute from each of the SDK's export loggers: a dead collector
    fails every batch, and each drop is counted in a metric already."""

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self._last.get(record.name, -SDK_LOG_INTERVAL) < SDK_LOG_INTERVAL:
            return False
        self._last[record.name] = now
        return True


def sparse_sdk_logs() -> None:
    """Each of the SDK's export loggers, one line a minute at most."""
    for name in _SDK_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Sparse) for f in logger.filters):
            logger.addFilter(_Sparse())


def otlp_exporter(
    kind: Literal["otlp-http", "otlp-grpc"],
    endpoint: str,
    headers: Mapping[str, str],
    timeout: float,
    group: Group,
) -> SpanExporter:
    """The SDK's OTLP exporter for ``kind``, sending spans encoded by ``otlp_encoding``."""
    from gateway.observability.otlp_encoding import grpc_exporter, http_exporter

    if kind == "otlp-grpc":
        secure = endpoint.startswith("https://")
        return grpc_exporter(endpoint.split("://", 1)[-1], not secure, headers, timeout, group)
    return http_exporter(endpoint, headers, timeout, group)


class ExporterProcess:
    """Finished spans, handed in batches to the exporter process (``exporter.py``),
    which this starts, restarts when it dies, and stops; it never blocks the loop.

    A batch goes out when it holds :attr:`batch_size` spans or every
    :data:`FLUSH_SECONDS`, in writes that never block. At most ``max_queue_size`` spans
    are in a batch or handed over and not yet in an export (the exporter says when it
    takes them, and how each export went): a span beyond that (the exporter behind, or
    dead) is dropped and counted (``queue_full``), as is a batch that finds no exporter to
    take it; each span of a failed export, or held by an exporter that died, or that
    MessagePack cannot carry, is counted too (``export_failed``).
    """

    def __init__(
        self,
        dropped: Counter,
        *,
        exporter: Literal["otlp-http", "otlp-grpc"],
        endpoint: str,
        headers: Mapping[str, str],
        service_name: str,
        export_timeout_seconds: float,
        max_queue_size: int,
    ) -> None:
        self.max_queue_size = max_queue_size
        self.batch_size = max(1, min(BATCH_SPANS, max_queue_size // 4))
        self.export_spans = max(1, min(EXPORT_SPANS, max_queue_size // 2))
        self._settings = {  # what the exporter process is told first
            "exporter": exporter,
            "endpoint": endpoint,
            "headers": dict(headers),
            "service_name": service_name,
            "export_timeout_seconds": export_timeout_seconds,
            "export_spans": self.export_spans,
        }
        self.waiting = 0  # spans handed to the exporter, not yet in an export
        self.exporting = 0  # spans in an export under way
        self.restarts = 0
        self._ready = asyncio.Event()
        self._queue_full = dropped.labels("queue_full")
        self._failed = dropped.labels("export_failed")
        # The batch: its spans as MessagePack, one after another (a span dies as it ends,
        # young, instead of waiting for the batch among the objects the collector walks),
        # how many were added, and the spans they stand for, their children counted.
        self._buffer = bytearray()
        self._added = 0
        self._count = 0
        encoder = msgspec.msgpack.Encoder()
        self._encode, self._encode_into = encoder.encode, encoder.encode_into
        self._process: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    @property
    def pid(self) -> int | None:
        """The exporter process's id, while one runs."""
        return None if self._process is None else self._process.pid

    async def start(self) -> None:
        """Start the exporter process, and the flushes; wait (a few seconds at most)
        until it is ready, so that the first spans do not wait behind its imports."""
        try:
            self._process = await self._spawn()
        except OSError as exc:
            log.warning("could not start the trace exporter: %s", exc)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._supervise(), name="trace-exporter"),
            loop.create_task(self._tick(), name="trace-flush"),
        ]
        if self._process is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), READY_SECONDS)

    def add(self, span: Finished) -> None:
        """Take a finished span (a batch goes out when it holds ``batch_size``, children
        counted); one that finds the queue full, or that MessagePack cannot carry, is
        dropped and counted."""
        children = span[10]
        count = 1 + len(children) if children else 1  # tracing.span_count, for one span
        if self.waiting + self._count + count > self.max_queue_size:
            self._queue_full.inc(count)
            return
        buffer = self._buffer
        size = len(buffer)
        try:
            self._encode_into(span, buffer, -1)
        except (TypeError, ValueError, OverflowError):  # an attribute of a type it lacks
            del buffer[size:]
            self._failed.inc(count)
            return
        self._added += 1
        self._count += count
        if self._count >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Hand the spans taken so far to the exporter, or drop and count them."""
        taken = self.take()
        if taken is None:
            return
        head, buffer, count = taken
        process = self._process
        pipe = None if process is None else process.stdin
        if pipe is None or pipe.is_closing():
            self._queue_full.inc(count)
            return
        try:
            pipe.write(head)
            pipe.write(buffer)
        except Exception:  # the exporter's end, not seen yet: nothing takes them
            self._queue_full.inc(count)
            return
        self.waiting += count

    def take(self) -> tuple[bytes, bytearray, int] | None:
        """The batch so far, which it no longer holds: its frame's head and body (the
        spans as MessagePack) and the spans they stand for; ``None`` when it is empty."""
        if not self._added:
            return None
        buffer, added, count = self._buffer, self._added, self._count
        self._buffer, self._added, self._count = bytearray(), 0, 0
        # The frame's body is one MessagePack array of the spans, encoded one after another.
        return _FRAME_HEAD.pack(len(buffer) + 5, _ARRAY32, added), buffer, count

    async def close(self, timeout: float) -> None:
        """Hand over what is left and let the exporter send it, for at most ``timeout``
        seconds; then it is stopped (what it still held is counted as failed)."""
        self._closing = True
        self.flush()
        supervisor, ticker = self._tasks or (None, None)
        if ticker is not None:
            ticker.cancel()
        process = self._process
        if process is not None and process.stdin is not None:
            process.stdin.close()  # what is written goes first; the exporter sees the end
        if supervisor is None:
            return
        if process is None:  # between two exporters: nothing to wait for
            supervisor.cancel()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(supervisor), timeout)
        if not supervisor.done():
            process = self._process
            if process is not None and process.returncode is None:
                log.warning("the trace exporter did not finish in %g s: stopped", timeout)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            else:
                supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor

    async def _spawn(self) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.observability.exporter",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdin is not None
        process.stdin.write(self.settings_frame())
        return process

    def settings_frame(self) -> bytes:
        """The exporter process's first frame: its settings, the logs' as the gateway's."""
        level, fmt = logging_settings()
        return _frame(self._encode({**self._settings, "log_level": level, "log_format": fmt}))

    async def _supervise(self) -> None:
        """Read the exporter's reports; when it ends, count what it held as failed and,
        unless closing, start another (after a pause that doubles while they keep
        dying)."""
        delay = RESTART_SECONDS
        while True:
            process = self._process
            began = time.monotonic()
            if process is not None:
                status = await self._watch(process)
                lost, self.waiting, self.exporting = self.waiting + self.exporting, 0, 0
                self._failed.inc(lost)
                self._process = None
                if self._closing:
                    return
                log.warning(
                    "the trace exporter (pid %d) ended with status %s, %d spans unsent; "
                    "starting another in %g s", process.pid, status, lost, delay,
                )  # fmt: skip
            if self._closing:
                return
            if time.monotonic() - began > RESTART_RESET_SECONDS:
                delay = RESTART_SECONDS
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX_SECONDS)
            if self._closing:
                return
            try:
                self._process = await self._spawn()
                self.restarts += 1
            except OSError as exc:
                log.warning("could not start the trace exporter: %s", exc)
                continue
            if self._closing and self._process.stdin is not None:  # closed meanwhile
                self._process.stdin.close()

    async def _watch(self, process: asyncio.subprocess.Process) -> int:
        """The exporter's reports until it ends; its exit status."""
        assert process.stdout is not None
        while line := await process.stdout.readline():
            what, _, count = line.partition(b" ")
            try:
                spans = int(count)
            except ValueError:
                continue
            if what == b"took":
                self.waiting = max(0, self.waiting - spans)
                self.exporting += spans
            elif what == b"ready":
                self._ready.set()
            else:
                self.exporting = max(0, self.exporting - spans)
                if what != b"ok":
                    self._failed.inc(spans)
        return await process.wait()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()


_FRAME_HEAD = struct.Struct(">IBI")  # a frame's length, then an array's head: its type,
_ARRAY32 = 0xDD  # MessagePack's array of up to 2**32 items, and its length


def _frame(body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + body
