"""A real OTLP/HTTP trace receiver on loopback: it decodes each ``ExportTraceServiceRequest``
(opentelemetry-proto) and keeps its spans, or, told to, discards them (the bench's
collector) or never answers (a hung collector); and a real OTLP/gRPC receiver, gRPC's own
server with its defaults (:func:`grpc_receiver`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from testkit.sinks import listen

__all__ = ["Collector", "ReceivedSpan", "grpc_receiver"]


@dataclasses.dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status_code: int  # 0 unset, 1 ok, 2 error
    links: list[tuple[str, str]]
    service: str


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class Collector:
    """Serves ``POST /v1/traces`` on 127.0.0.1; ``mode``: ``keep`` (decode and keep),
    ``discard`` (decode, keep only a count: no Python object a span, as the bench's
    collector shares the gateway's machine) or ``hang`` (read, never answer)."""

    def __init__(self, mode: str = "keep") -> None:
        self.mode = mode
        self.spans: list[ReceivedSpan] = []
        self.span_count = 0
        self.requests = 0
        self.port = 0
        self.fixed_port = 0  # where to listen (0: any free port)
        self._runner: web.AppRunner | None = None
        self._arrived = asyncio.Condition()

    @property
    def endpoint(self) -> str:
        """The base URL, as ``OTEL_EXPORTER_OTLP_ENDPOINT`` takes it."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Collector:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/traces", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        self.port = await listen(self._runner, self.fixed_port)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> list[ReceivedSpan]:
        """Wait (at most ``timeout``) until ``predicate(spans)`` holds; the spans."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: predicate(self.spans)), timeout)
        return list(self.spans)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        if self.mode == "hang":
            await asyncio.sleep(3600)
        decoded = ExportTraceServiceRequest.FromString(body)
        if self.mode == "keep":
            received = list(_spans(decoded))
            self.span_count += len(received)
            async with self._arrived:
                self.spans.extend(received)
                self._arrived.notify_all()
        else:
            self.span_count += sum(
                len(scope.spans) for group in decoded.resource_spans for scope in group.scope_spans
            )
        answer = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=answer, content_type="application/x-protobuf")


def _spans(request: ExportTraceServiceRequest) -> Any:
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield ReceivedSpan(
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_id=span.parent_span_id.hex(),
                    name=span.name,
                    kind=span.kind,
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano,
                    attributes={a.key: _value(a.value) for a in span.attributes},
                    status_code=span.status.code,
                    links=[(link.trace_id.hex(), link.span_id.hex()) for link in span.links],
                    service=str(resource.get("service.name", "")),
                )


@contextlib.contextmanager
def grpc_receiver() -> Iterator[tuple[int, list[ExportTraceServiceRequest]]]:
    """A gRPC trace service on 127.0.0.1 (its port, and the requests it took, in order),
    with gRPC's defaults: a message over 4 MiB is refused (``RESOURCE_EXHAUSTED``)."""
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as rpc

    received: list[ExportTraceServiceRequest] = []
    lock = threading.Lock()

    class Receiver(rpc.TraceServiceServicer):  # type: ignore[misc]
        def Export(self, request: ExportTraceServiceRequest, context: Any) -> Any:
            with lock:
                received.append(request)
            return ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    rpc.add_TraceServiceServicer_to_server(Receiver(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port, received
    finally:
        server.stop(None)


async def _serve(port: int, mode: str) -> None:
    collector = Collector(mode)
    collector.fixed_port = port
    await collector.start()
    print(collector.port, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await collector.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m testkit.otlp [--mode discard|keep|hang] [--port N]``: a collector in a
    process of its own (the bench's decodes and discards); prints its port."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--mode", default="discard", choices=["discard", "keep", "hang"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port, args.mode))


if __name__ == "__main__":
    main()
