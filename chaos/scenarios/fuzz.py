"""Bad input at volume: hostile ingest requests, generated admin requests, slow clients.

One gateway takes ``fuzz_ingest`` hostile requests over raw sockets (chaos/hostile.py)
and ``fuzz_admin`` generated admin API requests (schemathesis, from the served OpenAPI
document) at the same time, while ``slowloris`` slow clients hold connections open.
Afterwards: no 5xx answered (nor logged), no traceback, the process alive and still
answering, every slow client disconnected within its bound, and — once the slow
clients are gone — exactly as many file descriptors open as before.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from chaos.checker import Verdict
from chaos.hostile import MAX_BODY, Case, cases, fuzz_sources, signed
from chaos.lab import Lab, count_fds, count_sockets, gateway_config
from chaos.sizes import Size
from testkit.polling import became
from testkit.processes import GatewayProcess
from testkit.tokens import bearer

CONCURRENCY = 32
KEEPALIVE = 4.0
ACK_TIMEOUT = 5.0
_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})")


async def fuzz(lab: Lab, size: Size) -> Verdict:
    verdict = Verdict(
        f"fuzz: {size.fuzz_ingest} hostile ingest, {size.fuzz_admin}+ admin, "
        f"{size.slowloris} slow clients"
    )
    began = time.monotonic()
    url = await lab.database()
    config = gateway_config(
        url,
        ingress={
            "header_timeout_seconds": size.header_timeout,
            "keepalive_timeout_seconds": KEEPALIVE,
            "max_body_bytes": MAX_BODY,
            "ack_timeout_seconds": ACK_TIMEOUT,
        },
        database={"pool_min": 4, "pool_max": 4},
        delivery={"enabled": False},
        sources=fuzz_sources(),
        log={"level": "INFO"},  # one access line per request: 5xx show in the log
    )
    gateway = lab.gateway(config, "fuzz")
    await lab.start(gateway)
    token = await asyncio.to_thread(gateway.token, "admin")
    pid, port = gateway.pid, gateway.ingress_port
    await _ingest(port, cases(7, 20), size.header_timeout)  # warm up every code path once
    await became(lambda: _ingress_connections(pid) == 0, 10, 0.02)
    fds_before, sockets_before = count_fds(pid), count_sockets(pid)

    slow = SlowClients(port, size.slowloris, size.header_timeout)
    slow.start()
    admin = asyncio.create_task(
        asyncio.to_thread(admin_fuzz, gateway.admin, token, size.fuzz_admin)
    )
    outcomes = await _ingest(port, cases(2026, size.fuzz_ingest), size.header_timeout)
    admin_calls, admin_errors = await admin
    await slow.stop()

    quiet = await became(
        lambda: _ingress_connections(pid) == 0, size.header_timeout * 3 + KEEPALIVE, 0.02
    )
    await asyncio.sleep(0.5)
    fds_after, sockets_after = count_fds(pid), count_sockets(pid)
    statuses: dict[str, int] = {}
    for _, outcome in outcomes:
        statuses[outcome] = statuses.get(outcome, 0) + 1
    verdict.figures.update(
        ingest_cases=len(outcomes),
        ingest_outcomes=dict(sorted(statuses.items())),
        admin_cases=admin_calls,
        slow_clients_disconnected=slow.disconnected,
        slow_client_longest_hold_s=round(slow.longest, 2),
        fds_before=fds_before,
        fds_after=fds_after,
        sockets_before=sockets_before,
        sockets_after=sockets_after,
    )
    verdict.fail(
        "5xx answered to hostile ingest",
        [f"{o} {c.kind} {c.sample[:200]!r}" for c, o in outcomes if o.startswith("5")],
    )
    verdict.fail(
        "neither answered nor closed (connection pinned)",
        [f"{c.kind} {c.sample[:200]!r}" for c, o in outcomes if o == "timeout"],
    )
    verdict.fail("5xx answered by the admin API", admin_errors)
    verdict.fail("slow clients held longer than their bound", slow.pinned)
    if len(outcomes) < size.fuzz_ingest or admin_calls < size.fuzz_admin:
        verdict.fail(f"only {len(outcomes)} ingest and {admin_calls} admin cases ran")
    if not quiet:
        verdict.fail(f"{_ingress_connections(pid)} ingress connections still open at the end")
    if fds_after > fds_before:
        verdict.fail(f"file descriptors leaked: {fds_before} before, {fds_after} after")
    await _still_answering(verdict, gateway)
    _hold_logs(verdict, gateway.logs())
    verdict.seconds = time.monotonic() - began
    return verdict


async def _ingest(port: int, stream: Any, header_timeout: float) -> list[tuple[Case, str]]:
    """Send every case, ``CONCURRENCY`` at a time; each case's outcome."""
    limit = max(ACK_TIMEOUT, header_timeout * 2) + 3
    outcomes: list[tuple[Case, str]] = []
    iterator = iter(stream)

    async def worker() -> None:
        for case in iterator:
            outcomes.append((case, await attempt(port, case, limit)))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return outcomes


async def attempt(port: int, case: Case, limit: float) -> str:
    """Send one case on a fresh connection: the final status, ``closed``, ``reset`` or
    ``timeout`` (the server neither answered nor closed within ``limit``)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    except (OSError, TimeoutError):
        return "refused"
    try:
        async with asyncio.timeout(limit):
            for i, chunk in enumerate(case.chunks):
                if i and case.pause:
                    await asyncio.sleep(case.pause)
                writer.write(chunk)
                await writer.drain()
            if case.half_close and writer.can_write_eof():
                writer.write_eof()
            return await _final_status(reader)
    except TimeoutError:
        return "timeout"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    finally:
        writer.transport.abort()


async def _final_status(reader: asyncio.StreamReader) -> str:
    buffer = b""
    while True:
        try:
            chunk = await reader.read(65536)
        except ConnectionResetError:
            chunk = b""
            if not buffer:
                return "reset"
        if not chunk:
            return _status(buffer) or "closed"
        buffer += chunk
        found = _status(buffer)
        if found:
            return found
        buffer = buffer[-65536:]


def _status(buffer: bytes) -> str | None:
    """The first final (non-1xx) status in ``buffer`` once its head is complete."""
    for match in _STATUS.finditer(buffer):
        if buffer.find(b"\r\n\r\n", match.end()) < 0:
            return None
        if not match.group(1).startswith(b"1"):
            return match.group(1).decode()
    return None


class SlowClients:
    """Slow clients, each reconnecting when cut off: headers a byte at a time, a body a
    byte at a time, or nothing at all. Each hold must end within its bound."""

    def __init__(self, port: int, count: int, header_timeout: float) -> None:
        self.port = port
        self.count = count
        self.bound = header_timeout * 2 + 2
        self.pause = header_timeout / 3
        self.disconnected = 0
        self.longest = 0.0
        self.pinned: list[str] = []
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._client(i % 3)) for i in range(self.count)]

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.gather(*self._tasks)

    async def _client(self, style: int) -> None:
        while not self._stopping.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            held = await self._hold(style, reader, writer)
            writer.transport.abort()
            if held is None:
                return  # stopped while held: not cut off yet, not late either
            self.disconnected += 1
            self.longest = max(self.longest, held)
            if held > self.bound:
                self.pinned.append(f"style {style}: {held:.1f} s")

    async def _hold(
        self, style: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> float | None:
        began = time.monotonic()
        if style == 0:
            message = b"POST /webhooks/v1/shop HTTP/1.1\r\nHost: g\r\nX-Slow: " + b"z" * 10_000
        elif style == 1:
            message = (
                b"POST /webhooks/v1/open HTTP/1.1\r\nHost: g\r\nContent-Length: 100000\r\n\r\n"
            )
            message += b"y" * 100_000
        else:
            message = b""
        trickle = asyncio.create_task(self._trickle(writer, message, style))
        closed = asyncio.create_task(_until_closed(reader))
        stop = asyncio.create_task(self._stopping.wait())
        try:
            done, _ = await asyncio.wait(
                {closed, stop}, timeout=self.bound * 3, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (trickle, closed, stop):
                task.cancel()
            await asyncio.gather(trickle, closed, stop, return_exceptions=True)
        if closed in done:
            return time.monotonic() - began
        if stop in done:
            return None
        return time.monotonic() - began  # never cut off within three bounds

    async def _trickle(self, writer: asyncio.StreamWriter, message: bytes, style: int) -> None:
        head = message.index(b"\r\n\r\n") + 4 if style == 1 else 0
        if head:
            writer.write(message[:head])
        for byte in message[head:]:
            writer.write(bytes([byte]))
            await asyncio.sleep(self.pause)


async def _until_closed(reader: asyncio.StreamReader) -> None:
    try:
        while await reader.read(65536):
            pass
    except ConnectionResetError:
        pass


@dataclasses.dataclass
class _Tally:
    calls: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)


def admin_fuzz(admin: str, token: str, target: int) -> tuple[int, list[str]]:
    """Generated requests for every operation of the admin API (blocking: run in a thread).

    Returns how many requests were made and a line per 5xx answer.
    """
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{admin}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    headers = bearer(token)
    tally = _Tally()
    for _ in range(3):  # hypothesis may stop early on a small input space
        per_operation = math.ceil((target - tally.calls) / len(operations)) + 1
        for operation in operations:
            _generated(operation, admin, headers, per_operation, tally)()
        if tally.calls >= target:
            break
    return tally.calls, tally.errors


def _generated(
    operation: Any, admin: str, headers: dict[str, str], examples: int, tally: _Tally
) -> Callable[[], None]:
    from hypothesis import HealthCheck, given, settings

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def one(case: Any) -> None:
        response = case.call(base_url=admin, headers=headers, timeout=15)
        tally.calls += 1
        if response.status_code >= 500:
            line = f"{operation.label} -> {response.status_code}: {case.as_curl_command()}"
            tally.errors.append(line[:600])

    return one  # type: ignore[no-any-return]


def _ingress_connections(pid: int) -> int:
    import psutil

    try:
        process = psutil.Process(pid)
        return sum(1 for c in process.net_connections("tcp") if c.raddr and c.status != "LISTEN")
    except psutil.Error:
        return -1


async def _still_answering(verdict: Verdict, gateway: GatewayProcess) -> None:
    if gateway.proc is None or gateway.proc.poll() is not None:
        verdict.fail("the gateway died during the fuzz")
        return
    import random

    body = b'{"id": "after-the-fuzz", "type": "orders/create"}'
    outcome = await attempt(
        gateway.ingress_port, Case("after", [signed(random.Random(1), "json", body)]), 10
    )
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.get(f"{gateway.ingress}/healthz") as r:
            healthz = r.status
        async with http.get(f"{gateway.admin}/readyz") as r:
            readyz = r.status
    verdict.figures["after_the_fuzz"] = {
        "valid_event": outcome,
        "healthz": healthz,
        "readyz": readyz,
    }
    if outcome not in ("200", "202") or healthz != 200 or readyz != 200:
        verdict.fail(f"not answering properly after the fuzz: {verdict.figures['after_the_fuzz']}")


def _hold_logs(verdict: Verdict, logs: str) -> None:
    """The gateway's own account: no 5xx logged, nothing logged at ERROR, no traceback."""
    import orjson

    five: dict[str, int] = {}
    errors: dict[str, int] = {}
    for line in logs.splitlines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(record, dict):
            continue
        status = record.get("status")
        if record.get("msg") == "request" and isinstance(status, int) and status >= 500:
            key = f"{status} {record.get('path')} {record.get('problem', '')}".strip()
            five[key] = five.get(key, 0) + 1
        if record.get("level") in ("error", "critical") or "Traceback" in line:
            key = f"{record.get('logger')}: {str(record.get('msg'))[:120]}"
            errors[key] = errors.get(key, 0) + 1
    verdict.fail("5xx in the gateway's access log", [f"{k} x{n}" for k, n in five.items()])
    verdict.fail(
        "errors or tracebacks in the gateway's log", [f"{k} x{n}" for k, n in errors.items()]
    )
