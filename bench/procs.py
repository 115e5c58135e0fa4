"""Child processes of the harness: the gateway, the sink, the baselines, the profiler."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

from testkit.polling import until_sync
from testkit.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Until something listens on ``port``; fails if ``proc`` exits first."""

    def listening() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        return False

    until_sync(listening, timeout, 0.05, what=f"a listener on port {port}: {proc.args}")


def http_json(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


class Child:
    """A process started by the harness, stopped with SIGTERM (then SIGKILL) by its pid."""

    def __init__(self, command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=_env(env)
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def python_module(module: str, *args: str, log: Path) -> Child:
    return Child([PYTHON, "-m", module, *args], log)


class TraceCollector:
    """An OTLP/HTTP collector that decodes every export and discards it (testkit.otlp), in
    its own process: what a gateway with tracing on exports to, so that the export's CPU
    is counted in the gateway's."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.child = python_module(
            "testkit.otlp", "--mode", "discard", "--port", str(self.port),
            log=workdir / "otlp.log",
        )  # fmt: skip
        wait_port(self.port, self.child.proc)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.child.stop()


class Sink:
    """bench/fastsink.py in its own process."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.child = python_module(
            "bench.fastsink", "--port", str(self.port), log=workdir / "sink.log"
        )
        wait_port(self.port, self.child.proc)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = http_json(self.url("/_stats"))
        return result

    def arrivals(self) -> list[tuple[str, str, float]]:
        return [tuple(a) for a in http_json(self.url("/_arrivals"))]  # type: ignore[misc]

    def reset(self) -> None:
        http_json(self.url("/_reset"), method="POST", body={})

    def wait_delivered(
        self, ids: list[str], paths: list[str], timeout: float, idle: float = 30.0
    ) -> dict[str, Any]:
        """Until every id arrived on every path, ``timeout``, or ``idle`` s without receipts."""
        http_json(self.url("/_expect"), "POST", {"ids": ids, "paths": paths})
        return self._watch(lambda stats: not stats["missing"], timeout, idle)

    def wait_for(self, count: int, timeout: float, idle: float = 30.0) -> dict[str, Any]:
        """Until ``count`` receipts, ``timeout`` seconds, or ``idle`` seconds without one."""
        return self._watch(lambda stats: stats["count"] >= count, timeout, idle)

    def _watch(
        self, done: Callable[[dict[str, Any]], bool], timeout: float, idle: float
    ) -> dict[str, Any]:
        """The sink's stats once ``done`` holds, ``timeout`` seconds passed, or ``idle``
        seconds passed without a receipt."""
        last: dict[str, Any] = {"count": -1}
        since = time.monotonic()

        def finished() -> bool:
            nonlocal last, since
            stats = self.stats()
            if stats["count"] != last["count"]:
                since = time.monotonic()
            last = stats
            return done(stats) or time.monotonic() - since > idle

        with contextlib.suppress(TimeoutError):
            until_sync(finished, timeout, 0.2)
        return last

    def stop(self) -> None:
        self.child.stop()


class RssSampler:
    """Samples the resident set size of processes (and their children) every ``interval``:
    the peak of their sum."""

    def __init__(self, *pids: int, interval: float = 0.1) -> None:
        self.processes = [psutil.Process(pid) for pid in pids]
        self.interval = interval
        self.peak = 0
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = 0
                for process in self.processes:
                    rss += process.memory_info().rss
                    rss += sum(c.memory_info().rss for c in process.children(recursive=True))
            except psutil.Error:
                return
            self.peak = max(self.peak, rss)
            self.samples.append((time.monotonic(), rss))
            self._stop.wait(self.interval)


class DiskWrites:
    """Bytes the machine's disks wrote in a phase, and the most in any one second.

    A commit waits for its WAL flush, and a flush queues behind whatever else the disk is
    writing: the page cache written back (tables grown 30 s earlier), new WAL segments.
    A burst of hundreds of MB in one second shows up as a stall in the ack latencies.
    """

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.summary: dict[str, float] | None = None
        self._samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DiskWrites:
        if _written() is not None:  # some containers expose no disk counters
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        samples = self._samples
        if len(samples) < 2:
            return
        window = min(max(1, round(1.0 / self.interval)), len(samples) - 1)  # about 1 s
        peak = max(
            (samples[i][1] - samples[i - window][1]) / (samples[i][0] - samples[i - window][0])
            for i in range(window, len(samples))
        )
        mb = 1e6
        self.summary = {
            "written_mb": round((samples[-1][1] - samples[0][1]) / mb, 1),
            "peak_mb_per_s": round(peak / mb, 1),
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            written = _written()
            if written is None:
                return
            self._samples.append((time.monotonic(), written))
            self._stop.wait(self.interval)


def _written() -> int | None:
    counters = psutil.disk_io_counters()
    return None if counters is None else int(counters.write_bytes)


class CpuSplit:
    """Cores used during a phase: by each named process tree, by the harness's load
    generators (children that exited in the phase), and by everything else on the machine;
    and what the disks wrote meanwhile (:class:`DiskWrites`).
    """

    def __init__(self, trees: dict[str, int], within: dict[str, int] | None = None) -> None:
        self.trees = trees
        self.within = within or {}  # trees inside one of ``trees``: reported, not summed
        self.cores: dict[str, float] = {}
        self.within_cores: dict[str, float] = {}
        self.disk = DiskWrites()

    def __enter__(self) -> CpuSplit:
        self.disk.__enter__()
        self._started = time.monotonic()
        self._start = self._sample()
        return self

    def __exit__(self, *_: object) -> None:
        self.disk.__exit__()
        end = self._sample()
        wall = time.monotonic() - self._started
        used = {k: (end[k] - self._start[k]) / wall for k in end}
        machine = used.pop("machine")
        self.within_cores = {k: used.pop(k) for k in self.within}
        used["others"] = machine - sum(used.values())
        # To a ten-thousandth of a core: CPU per request is computed from these, and at a
        # hundredth the rounding alone moved a ratio of two such figures by up to 0.8 %.
        self.cores = {k: round(v, 4) for k, v in used.items()}

    def _sample(self) -> dict[str, float]:
        sample = {name: _tree_cpu(pid) for name, pid in {**self.trees, **self.within}.items()}
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        sample["generator"] = children.ru_utime + children.ru_stime
        t = psutil.cpu_times()
        sample["machine"] = t.user + t.nice + t.system + t.irq + t.softirq + t.steal
        return sample


def _tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and every process under it, those that ended and were
    waited for included (a gateway's trace exporter restarted in the phase)."""
    try:
        root = psutil.Process(pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
        return total
    except psutil.Error:
        return 0.0


def py_spy() -> str | None:
    return shutil.which("py-spy") or (
        str(Path(PYTHON).with_name("py-spy")) if Path(PYTHON).with_name("py-spy").exists() else None
    )


@contextlib.contextmanager
def profiled(pid: int, out: Path | None, seconds: float) -> Iterator[None]:
    """Record ``pid`` with py-spy (collapsed stacks) while the block runs, if asked."""
    tool = py_spy() if out is not None else None
    if tool is None or out is None:
        yield
        return
    command = [tool, "record", "--pid", str(pid), "--format", "raw", "--rate", "200"]
    command += ["--duration", str(max(1, round(seconds))), "--nonblocking", "-o", str(out)]
    child = Child(command, out.with_suffix(".log"))
    try:
        yield
    finally:
        try:
            child.proc.wait(seconds + 30)
        except subprocess.TimeoutExpired:
            child.stop()
