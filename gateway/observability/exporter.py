"""The trace exporter process: reads batches of finished spans on stdin, sends them to
the collector with OpenTelemetry's own OTLP exporter, and says on stdout how each export
went. It ends when stdin closes.

``python -m gateway.observability.exporter`` (started by ``export.py``, one per gateway
process that traces). Its stdin carries frames, each a 4-byte big-endian length and a
MessagePack body: first the settings (a map), then batches (each a list of
``tracing.Finished``, whose children become spans of their own as they are encoded: the
counts below are of spans, children included). Spans are exported once ``export_spans``
of them are held, or :data:`EXPORT_SECONDS` after the first was read (an HTTP request
costs about as much as encoding 500 spans: few, large exports are cheap). It writes a
line on stdout once its exporter is made, ``ready 0``, and for each export ``took N`` as
it begins (N the spans it holds), then ``ok N`` or ``failed N``, or both when part of it
failed (a large export goes over gRPC in several messages: ``failed_spans``). The
settings come on stdin, not the command line, as they hold the collector's credentials;
``OTEL_*`` variables reach the SDK's exporter from the environment, as they would in the
gateway.

A thread reads stdin while the main thread exports, so a closed stdin is seen at once:
when the gateway closed it, what was read is exported and the process ends; when the
gateway is gone (killed), the process ends at once, as nothing is left to report to.
SIGINT and SIGTERM are ignored: a terminal's Ctrl-C reaches the whole process group, and
the gateway, not the signal, decides when its spans stop coming.
"""

from __future__ import annotations

import ctypes
import gc
import os
import queue
import signal
import sys
import threading
import time
from typing import Any

import msgspec

_HEAD = 4
EXPORT_SECONDS = 1.0  # spans are exported once this many are held, or this long after
_EOF = None
GC_THRESHOLD = 100_000  # allocations between young collections (the default is 700)
# glibc's malloc: what is freed stays in the heap for the next batch's buffers instead of
# going back to the kernel (each export's megabytes faulted in again: a third of the
# process's system time). mallopt's parameters M_TRIM_THRESHOLD and M_MMAP_THRESHOLD.
_MALLOPT = ((-1, 256 << 20), (-3, 32 << 20))


def read_frame(fd: int) -> bytes | None:
    """The next frame's body from ``fd``; ``None`` at its end."""
    head = _read_exactly(fd, _HEAD)
    if head is None:
        return None
    return _read_exactly(fd, int.from_bytes(head, "big"))


def _read_exactly(fd: int, size: int) -> bytes | None:
    parts = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


def _read(fd: int, batches: queue.SimpleQueue[tuple[list[Any], int] | None], parent: int) -> None:
    """Batches from ``fd`` onto ``batches``, each with the spans it stands for, until it
    ends; then the end, or, when the gateway is gone, the process's end."""
    from gateway.observability.tracing import span_count

    decode = msgspec.msgpack.Decoder().decode
    while (body := read_frame(fd)) is not None:
        spans = decode(body)
        batches.put((spans, span_count(spans)))
    if os.getppid() != parent:
        os._exit(0)
    batches.put(_EOF)


def _keep_freed_memory() -> None:
    """Tell glibc's malloc to keep freed memory (:data:`_MALLOPT`); nothing elsewhere."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    for parameter, value in _MALLOPT:
        mallopt(parameter, value)


def _report(fd: int, what: bytes, count: int) -> None:
    os.write(fd, b"%s %d\n" % (what, count))


def serve(calls: int, answers: int) -> None:
    """Export the batches read from ``calls``; report on ``answers``."""
    from opentelemetry.sdk.trace.export import SpanExportResult

    from gateway.observability.export import otlp_exporter, sparse_sdk_logs
    from gateway.observability.logs import configure_logging
    from gateway.observability.otlp_encoding import group

    first = read_frame(calls)
    if first is None:
        return
    settings = msgspec.msgpack.decode(first)
    configure_logging(settings["log_level"], settings["log_format"])
    sparse_sdk_logs()
    exporter = otlp_exporter(
        settings["exporter"],
        settings["endpoint"],
        settings["headers"],
        settings["export_timeout_seconds"],
        group(settings["service_name"]),
    )
    # What start-up made (the SDK, its exporter) lives until the end: out of the
    # collector's sight, collections walk only the batches' spans, which hold no cycle.
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD)
    _keep_freed_memory()
    _report(answers, b"ready", 0)
    batches: queue.SimpleQueue[tuple[list[Any], int] | None] = queue.SimpleQueue()
    reader = threading.Thread(
        target=_read, args=(calls, batches, os.getppid()), name="spans", daemon=True
    )
    reader.start()
    size = settings["export_spans"]
    held: list[Any] = []
    count = 0  # the spans held stand for, their children counted
    due = 0.0
    ended = False
    while not ended:
        try:
            batch = batches.get(timeout=max(0.0, due - time.monotonic()) if held else None)
        except queue.Empty:
            batch = ([], 0)
        if batch is _EOF:
            ended = True
        elif batch[0]:
            if not held:
                due = time.monotonic() + EXPORT_SECONDS
            held += batch[0]
            count += batch[1]
            if count < size:
                continue
        if held:
            _report(answers, b"took", count)
            try:
                ok = exporter.export(held) is SpanExportResult.SUCCESS
                failed = 0 if ok else min(count, getattr(exporter, "failed_spans", count))
            except Exception:
                failed = count
            if failed < count:
                _report(answers, b"ok", count - failed)
            if failed:
                _report(answers, b"failed", failed)
            held, count = [], 0
    exporter.shutdown()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        serve(sys.stdin.fileno(), sys.stdout.fileno())
    except BrokenPipeError:  # the gateway is gone
        os._exit(0)


if __name__ == "__main__":
    main()
