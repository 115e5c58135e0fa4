"""The results: a table on stdout, a JSON file, and a PNG chart when matplotlib is there."""

from __future__ import annotations

import collections
import dataclasses
import json
from pathlib import Path
from typing import Any


@dataclasses.dataclass
class Row:
    workload: int
    figure: str
    unit: str
    gateway: float | str | None
    baseline: float | str | None
    baseline_name: str
    goal: str = ""
    ratio_goal: float | None = None
    ratio_limit: float | None = None
    limit: float | None = None
    expect: str | None = None

    @property
    def ratio(self) -> float | None:
        g, b = self.gateway, self.baseline
        if isinstance(g, int | float) and isinstance(b, int | float) and b:
            return g / b
        return None

    @property
    def met(self) -> bool | None:
        if self.ratio_goal is not None:
            return None if self.ratio is None else self.ratio >= self.ratio_goal
        if self.ratio_limit is not None:
            return None if self.ratio is None else self.ratio <= self.ratio_limit
        if self.limit is not None:
            return None if not isinstance(self.gateway, int | float) else self.gateway <= self.limit
        if self.expect is not None:
            return self.gateway == self.expect
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "figure": self.figure.strip(),
            "unit": self.unit,
            "gateway": _round(self.gateway),
            "baseline": _round(self.baseline),
            "baseline_name": self.baseline_name,
            "ratio": _round(self.ratio),
            "goal": self.goal,
            "met": self.met,
        }


def _round(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[Row], smoke: bool) -> str:
    header = ("#", "figure", "unit", "gateway", "baseline", "vs", "ratio", "goal", "met")
    lines = [header]
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "NO")
        if smoke and met:
            met = "(smoke)"
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(
            (
                str(row.workload),
                row.figure,
                row.unit,
                _shown(row.gateway),
                _shown(row.baseline),
                row.baseline_name,
                ratio,
                row.goal,
                met,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    numeric = {3, 4, 6}
    out = []
    for n, line in enumerate(lines):
        cells = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append(" | ".join(cells).rstrip())
        if n == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(out)


def write_json(path: Path, rows: list[Row], results: dict[str, Any], meta: dict[str, Any]) -> None:
    document = {"meta": meta, "table": [r.as_dict() for r in rows], "results": results}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def top_frames(collapsed: Path, count: int = 15) -> dict[str, list[tuple[str, float]]]:
    """From py-spy's raw (collapsed) stacks, in % of the samples where the process ran:

    ``own``: frames running at the sample (C code is charged to its Python caller);
    ``by_package``: own time per top-level package; ``gateway``: inclusive time of the
    gateway's own functions.
    """
    own: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    gateway: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = stack.split(";")
        hits = int(n)
        samples += hits
        own[_short(frames[-1])] += hits
        packages[_package(frames[-1])] += hits
        for frame in {_function(f) for f in frames if "(gateway/" in f}:
            gateway[frame] += hits
    if not samples:
        return {"own": [], "by_package": [], "gateway": []}

    def share(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(f, round(100 * n / samples, 1)) for f, n in counter.most_common(count)]

    gateway.pop("", None)
    return {"own": share(own), "by_package": share(packages), "gateway": share(gateway)}


def _short(frame: str) -> str:
    """``func (path/to/module.py:12)`` → ``func (to/module.py:12)``."""
    name, _, where = frame.partition(" (")
    return f"{name} ({'/'.join(where.split('/')[-2:])}" if where else name


def _function(frame: str) -> str:
    """``func (gateway/x/y.py:12)`` → ``func (x/y.py)``, or "" for the entry frames."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    if path in ("gateway/__main__.py", "gateway/cli.py") or (name, path) == (
        "run",
        "gateway/runtime/__init__.py",
    ):
        return ""
    return f"{name} ({path.removeprefix('gateway/')})"


def _package(frame: str) -> str:
    where = frame.partition(" (")[2].rstrip(")")
    head = where.split("/", 1)[0] if "/" in where else where.split(".py", 1)[0]
    return head.split(":", 1)[0]


def chart(path: Path, rows: list[Row], series: dict[str, list[float]]) -> bool:
    """Latency distributions and throughputs, if matplotlib is installed (``.[bench]``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 3, figsize=(18, 5))
    bars = [r for r in rows if r.unit in ("req/s", "deliv/s") and r.ratio is not None]
    labels = [f"{r.workload}: {r.figure.strip()}"[:28] for r in bars]
    xs = range(len(bars))
    axes[0].bar([x - 0.2 for x in xs], [float(r.gateway or 0) for r in bars], 0.4, label="gateway")
    axes[0].bar(
        [x + 0.2 for x in xs], [float(r.baseline or 0) for r in bars], 0.4, label="baseline"
    )
    axes[0].set_xticks(list(xs), labels, rotation=20, ha="right", fontsize=8)
    axes[0].set_title("throughput (per second)")
    axes[0].legend()
    for ax, prefix in ((axes[1], "w2"), (axes[2], "w4")):
        for name, values in series.items():
            if name.startswith(prefix) and values:
                ordered = sorted(values)
                ys = [i / len(ordered) for i in range(len(ordered))]
                ax.plot(ordered, ys, label=name)
        ax.set_xscale("log")
        ax.set_xlabel("ms")
        ax.set_ylabel("fraction of requests")
        ax.set_title("ack latency (workload 2)" if prefix == "w2" else "end to end (workload 4)")
        if ax.get_legend_handles_labels()[0]:  # a workload left out draws no line
            ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
