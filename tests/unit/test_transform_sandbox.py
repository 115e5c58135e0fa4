"""Hostile transforms: each ends in a failure within its bound, says which, and leaves
nothing behind; the event loop keeps running meanwhile. The real QuickJS engine."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from typing import Any

import pytest

from gateway.delivery.transforms import Bounds, Cancel, Failure, Reshaped, TransformEngine
from gateway.domain.transform import Transform
from gateway.domain.validation import Invalid

REQUEST = {"type": "orders/create", "source": "shop", "id": "evt_1", "headers": {}, "body": {}}
CONTEXT = {"subscriber": "wms", "received_at": "2026-12-06T10:00:00+00:00"}
SPIN = Transform(source="function handler(r) { for (;;) {} }")
ANSWERS = Transform(source="function handler(r) { return {body: 1} }")
# What proves a bound is the failure's message; the time shows only that the script did
# not run on until the watchdog (2 s of wall time), whatever else the machine is running.
SLACK = 1.5


@pytest.fixture
async def engine() -> Any:
    made = TransformEngine(workers=2)
    yield made
    await made.close()


async def fails(engine: TransformEngine, source: str) -> tuple[Failure, float]:
    started = time.perf_counter()
    with pytest.raises(Failure) as caught:
        await engine.apply(Transform(source=source), REQUEST, CONTEXT)
    return caught.value, time.perf_counter() - started


async def output(engine: TransformEngine, source: str, request: Any = None) -> Any:
    return await engine.output(Transform(source=source), request or REQUEST, CONTEXT)


@pytest.mark.parametrize(
    "body",
    [
        "for (;;) {}",
        "while (true) { Math.max(1, 2) }",
        "return /(a+)+$/.test('a'.repeat(40) + '!')",  # catastrophic backtracking
        "const s = []; for (;;) { try { s.push(1) } catch (e) {} }",
    ],
)
async def test_an_endless_script_is_stopped_at_its_cpu_bound(
    engine: TransformEngine, body: str
) -> None:
    failure, took = await fails(engine, f"function handler(request) {{ {body} }}")
    assert failure.message == "ran longer than its bound of 50 ms"
    assert failure.line == 1
    assert took < 0.05 + SLACK


async def test_deep_recursion_is_stopped_at_the_stack_bound(engine: TransformEngine) -> None:
    failure, took = await fails(
        engine, "function handler(r) {\n  function f(n) { return f(n + 1) + 1 }\n  return f(0)\n}"
    )
    assert failure.message == "recursed too deep (stack bound)"
    assert failure.line == 2
    assert took < SLACK


@pytest.mark.parametrize(
    "body",
    [
        "const a = []; for (;;) a.push(new Array(100000).fill(1))",
        "let s = 'x'; for (;;) s = s + s",
        "return {body: 'x'.repeat(2 ** 28)}",
        "const m = new Map(); for (let i = 0; ; i++) m.set(i, {i})",
    ],
)
async def test_a_memory_bomb_is_stopped_at_its_memory_bound(
    engine: TransformEngine, body: str
) -> None:
    failure, took = await fails(engine, f"function handler(request) {{ {body} }}")
    assert failure.message in (
        "used more memory than its bound of 32 MiB",
        "InternalError: string too long",  # QuickJS's own bound on a string's length
        "ran longer than its bound of 50 ms",  # what filled the heap first ran out of time
    )
    assert took < 0.05 + SLACK


async def test_an_output_over_its_bound_is_refused(engine: TransformEngine) -> None:
    failure, took = await fails(
        engine, "function handler(r) { return {body: 'x'.repeat(2 * 1024 * 1024)} }"
    )
    assert failure.message == "the output is 2097174 characters, over the bound of 1048576"
    assert took < SLACK


async def test_a_bound_can_be_set_per_engine() -> None:
    small = TransformEngine(workers=1, bounds=Bounds(output_bytes=100))
    try:
        failure, _ = await fails(small, "function handler(r) { return {body: 'x'.repeat(200)} }")
    finally:
        await small.close()
    assert "over the bound of 100" in failure.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return require('fs')", "ReferenceError: require is not defined"),
        ("return std.open('/etc/passwd')", "ReferenceError: std is not defined"),
        ("return os.exec(['id'])", "ReferenceError: os is not defined"),
        ("return fetch('http://127.0.0.1:9/')", "ReferenceError: fetch is not defined"),
        ("return import('os')", "the handler returned a promise: a transform runs synchronously"),
        ("return Date.now()", "TypeError: the clock (Date.now) is not available in a transform"),
        ("return new Date()", "TypeError: the clock is not available in a transform"),
        ("return Date()", "TypeError: the clock is not available in a transform"),
        ("return Math.random()", "TypeError: randomness (Math.random) is not available"),
        ("return performance.now()", "ReferenceError: performance is not defined"),
        (
            "return Function('return this')().constructor.constructor('return process')()",
            "ReferenceError: process is not defined",
        ),
        (
            "const i = new Int32Array(new SharedArrayBuffer(4)); Atomics.wait(i, 0, 0, 1e9)",
            "ReferenceError: SharedArrayBuffer is not defined",
        ),
    ],
)
async def test_no_io_clock_or_randomness_is_within_reach(
    engine: TransformEngine, body: str, message: str
) -> None:
    failure, _ = await fails(engine, f"function handler(request) {{ {body} }}")
    assert failure.message.startswith(message)


async def test_the_global_object_holds_only_the_languages_own_built_ins(
    engine: TransformEngine,
) -> None:
    names = await output(
        engine,
        "function handler(r) { return {body: Object.getOwnPropertyNames("
        "Function('return this')())} }",
    )
    reachable = set(names["body"])
    assert {"Object", "JSON", "Math", "Date", "Array", "RegExp"} <= reachable
    beyond = {"std", "os", "require", "process", "fetch", "XMLHttpRequest", "setTimeout",
              "setInterval", "print", "console", "performance", "Atomics", "SharedArrayBuffer",
              "WeakRef", "FinalizationRegistry", "queueMicrotask", "scriptArgs"}  # fmt: skip
    assert reachable & beyond == set()


def test_a_static_import_is_refused_when_the_transform_is_saved() -> None:
    with pytest.raises(Invalid, match=r"SyntaxError.* at line 1"):
        Transform(source="import * as os from 'os'\nfunction handler(r) { return r }")


POLLUTER = """\
function handler(request) {
  if (request.body.first) {
    Object.prototype.admin = true;
    Array.prototype.push = function () { return 0; };
    JSON.stringify = function () { return "{}"; };
    String.prototype.toUpperCase = () => "pwned";
    Object.getPrototypeOf(function* () {}).evil = 1;
    globalThis.seen = (globalThis.seen || 0) + 1;
    try { Object.defineProperty(Object.prototype, "sneaky", {value: 1}); } catch (e) {}
    try { Object.setPrototypeOf(Object.prototype, {evil: 1}); } catch (e) {}
    return {cancel: true};
  }
  const list = [];
  list.push(1);
  return {body: {
    admin: ({}).admin === undefined, push: list.length === 1, upper: "a".toUpperCase(),
    generator: Object.getPrototypeOf(function* () {}).evil === undefined,
    seen: typeof seen, sneaky: ({}).sneaky === undefined, evil: ({}).evil === undefined,
  }};
}
"""


async def test_what_one_event_changes_in_the_built_ins_is_not_seen_by_the_next(
    engine: TransformEngine,
) -> None:
    transform = Transform(source=POLLUTER)
    first = {**REQUEST, "body": {"first": True}}
    for _ in range(4):  # every worker, whichever runs the call
        assert await engine.apply(transform, first, CONTEXT) == Cancel()
        after = await engine.apply(transform, REQUEST, CONTEXT)
        assert isinstance(after, Reshaped)
        assert after.body == (
            b'{"admin":true,"push":true,"upper":"A","generator":true,'
            b'"seen":"undefined","sneaky":true,"evil":true}'
        )


async def test_a_context_that_hit_a_bound_is_replaced_and_the_next_event_runs(
    engine: TransformEngine,
) -> None:
    transform = Transform(
        source="function handler(r) { if (r.body.spin) for (;;) {} return {body: 1} }"
    )
    for _ in range(3):
        with pytest.raises(Failure):
            await engine.apply(transform, {**REQUEST, "body": {"spin": True}}, CONTEXT)
        assert await engine.apply(transform, REQUEST, CONTEXT) == Reshaped(
            body=b"1", content_type="application/json"
        )


async def test_the_event_loop_runs_on_while_hostile_scripts_spin(
    engine: TransformEngine,
) -> None:
    ticks: list[float] = []

    async def tick() -> None:
        for _ in range(60):
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.002)

    spin = SPIN
    calls = [engine.apply(spin, REQUEST, CONTEXT) for _ in range(6)]
    results = await asyncio.gather(tick(), *calls, return_exceptions=True)
    assert all(isinstance(r, Failure) for r in results[1:])
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 0.1  # six 50 ms spins on the loop would stall it for 300 ms


async def test_a_worker_that_dies_fails_only_the_call_it_ran_and_another_takes_its_place() -> None:
    engine = TransformEngine(workers=1, bounds=Bounds(cpu_seconds=5.0))
    try:
        spin = SPIN
        ok = Transform(source="function handler(r) { return {body: r.body} }")
        running = asyncio.ensure_future(engine.apply(spin, REQUEST, CONTEXT))
        behind = asyncio.ensure_future(engine.apply(ok, REQUEST, CONTEXT))
        for _ in range(100):  # bounded: the worker starts in well under 10 s
            if engine.worker_pids():
                break
            await asyncio.sleep(0.1)
        [pid] = engine.worker_pids()
        await asyncio.sleep(0.3)  # it runs the spinning call now
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(Failure, match=r"its worker process ended \(exit status -9\)"):
            await running
        assert await behind == Reshaped(body=b"{}", content_type="application/json")
        assert engine.worker_pids() not in ([], [pid])
    finally:
        await engine.close()


async def test_a_worker_stuck_beyond_its_wall_time_is_killed_by_the_watchdog() -> None:
    engine = TransformEngine(workers=1, bounds=Bounds(cpu_seconds=5.0))
    engine.hang_seconds = 0.5  # far below the CPU bound: as if stuck in native code
    try:
        failure, took = await fails(engine, "function handler(r) { for (;;) {} }")
        assert failure.message == "ran longer than 0.5 s of wall time"
        assert took < 5.0
        assert isinstance(
            await engine.apply(
                Transform(source="function handler(r) { return r }"), REQUEST, CONTEXT
            ),
            Reshaped,
        )
    finally:
        await engine.close()


async def test_a_subscriber_flooding_with_spinning_transforms_waits_its_turn() -> None:
    engine = TransformEngine(workers=1)
    try:
        spin, ok = SPIN, ANSWERS
        await engine.apply(ok, REQUEST, CONTEXT, queue="warm-up")
        flood = [
            asyncio.ensure_future(engine.apply(spin, REQUEST, CONTEXT, queue="hostile"))
            for _ in range(12)
        ]
        await asyncio.sleep(0)
        started = time.perf_counter()
        await engine.apply(ok, REQUEST, CONTEXT, queue="healthy")
        waited = time.perf_counter() - started
        results = await asyncio.gather(*flood, return_exceptions=True)
        assert all(isinstance(r, Failure) for r in results)
        assert waited < 0.05 * 6  # not behind all twelve 50 ms spins (600 ms)
    finally:
        await engine.close()


async def test_turns_are_fair_in_worker_time_not_in_calls() -> None:
    engine = TransformEngine(workers=1)
    try:
        spin, ok = SPIN, ANSWERS
        await engine.apply(ok, REQUEST, CONTEXT, queue="warm-up")
        flood = [
            asyncio.ensure_future(engine.apply(spin, REQUEST, CONTEXT, queue="hostile"))
            for _ in range(16)
        ]
        cheap = [engine.apply(ok, REQUEST, CONTEXT, queue="healthy") for _ in range(40)]
        await asyncio.gather(*cheap)
        finished = sum(f.done() for f in flood)
        await asyncio.gather(*flood, return_exceptions=True)
        assert finished <= 8  # call for call, the 40 would wait behind all 16 spins
    finally:
        await engine.close()
