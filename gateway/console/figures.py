"""Numbers the overview draws: the per-minute chart (as SVG geometry, no chart library)
and the ack latency p99 estimated from this process's histogram."""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Sequence

from prometheus_client import Histogram

from gateway.store.console import Minute

__all__ = ["Chart", "Line", "chart", "histogram_quantile"]

WIDTH, HEIGHT = 720.0, 200.0
LEFT, RIGHT, TOP, BOTTOM = 56.0, 8.0, 10.0, 22.0


@dataclasses.dataclass(frozen=True, slots=True)
class Line:
    name: str
    css: str
    points: str  # the ``points`` of an SVG polyline
    total: int


@dataclasses.dataclass(frozen=True, slots=True)
class Chart:
    width: float
    height: float
    lines: list[Line]
    y_ticks: list[tuple[float, str]]  # (y, label)
    x_ticks: list[tuple[float, str, str]]  # (x, label, text-anchor)
    left: float = LEFT
    right: float = WIDTH - RIGHT
    bottom: float = HEIGHT - BOTTOM


def _ceiling(value: int) -> int:
    """A round upper bound for the axis: 1, 2 or 5 times a power of ten."""
    if value <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(value)))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def _anchor(i: int, n: int) -> str:
    """Labels at the ends of the axis stay inside the drawing."""
    return "start" if i == 0 else "end" if i == n - 1 else "middle"


def chart(minutes: Sequence[Minute]) -> Chart:
    """Events received and delivered per minute, oldest minute at the left."""
    top = _ceiling(max([m.received for m in minutes] + [m.delivered for m in minutes] + [1]))
    step = (WIDTH - LEFT - RIGHT) / max(len(minutes) - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y(value: float) -> float:
        return round(TOP + (1 - value / top) * (HEIGHT - TOP - BOTTOM), 1)

    def line(name: str, css: str, values: list[int]) -> Line:
        points = " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values))
        return Line(name, css, points, sum(values))

    return Chart(
        width=WIDTH,
        height=HEIGHT,
        lines=[
            line("received", "received", [m.received for m in minutes]),
            line("delivered", "delivered", [m.delivered for m in minutes]),
        ],
        y_ticks=[(y(v), str(v)) for v in sorted({0, top // 2, top})],
        x_ticks=[
            (x(i), m.minute.strftime("%H:%M"), _anchor(i, len(minutes)))
            for i, m in enumerate(minutes)
            if i % 15 == 0 or i == len(minutes) - 1
        ],
    )


def histogram_quantile(q: float, histogram: Histogram) -> tuple[float | None, int]:
    """The ``q`` quantile of every series of ``histogram`` together, interpolated within
    its bucket as Prometheus does, and how many observations it rests on."""
    buckets: dict[float, float] = defaultdict(float)
    for metric in histogram.collect():
        for sample in metric.samples:
            if sample.name.endswith("_bucket"):
                buckets[float(sample.labels["le"])] += sample.value
    total = buckets.get(math.inf, 0.0)
    if total == 0:
        return None, 0
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in sorted(buckets):
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower, int(total)  # beyond the last bucket: its bound, at least
            share = (rank - below) / (count - below) if count > below else 1.0
            return lower + (bound - lower) * share, int(total)
        lower, below = bound, count
    return lower, int(total)
