"""Read a gateway's ``/metrics`` the way Prometheus does, and the metric names a rule names."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from testkit.polling import until

_HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")
_METRIC_NAME = re.compile(r"\bgateway_[a-z0-9_]+\b")


@dataclasses.dataclass(frozen=True)
class Scrape:
    families: dict[str, str]  # exported name (counters with _total) -> type
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when the series does not exist (yet)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def by(self, name: str, label: str, **labels: str) -> dict[str, float]:
        """Values of ``name`` matching ``labels``, keyed by ``label``."""
        wanted = set(labels.items())
        return {
            dict(key)[label]: value
            for (sample, key), value in self.samples.items()
            if sample == name and wanted <= key and label in dict(key)
        }

    def exports(self, name: str) -> bool:
        """Whether a PromQL metric name (``x_total``, ``x_bucket`` …) is in this scrape."""
        if name in self.families or any(s[0] == name for s in self.samples):
            return True
        return any(
            name.endswith(suffix) and self.families.get(name.removesuffix(suffix)) == "histogram"
            for suffix in _HISTOGRAM_SERIES
        )


def parse(text: str) -> Scrape:
    """A ``/metrics`` text exposition, parsed."""
    families: dict[str, str] = {}
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        exported = family.name + ("_total" if family.type == "counter" else "")
        families[exported] = family.type
        if family.type == "info":
            families[family.name + "_info"] = family.type
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return Scrape(families, samples)


async def scrape(http: aiohttp.ClientSession, admin_url: str) -> Scrape:
    """The gateway's ``/metrics`` now (a Prometheus text answer)."""
    async with http.get(f"{admin_url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return parse(await response.text())


async def scrape_until(
    http: aiohttp.ClientSession,
    admin_url: str,
    done: Callable[[Scrape], bool],
    timeout: float = 20.0,
) -> Scrape:
    """Scrape until ``done`` holds (bounded in time); that scrape."""

    async def current() -> Scrape | None:
        taken = await scrape(http, admin_url)
        return taken if done(taken) else None

    return await until(current, timeout, 0.1, what=f"a scrape of {admin_url} that passes")


def metric_names(text: str) -> set[str]:
    """Every ``gateway_…`` metric name an alert rule or a dashboard mentions."""
    return set(_METRIC_NAME.findall(text))
