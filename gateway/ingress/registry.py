"""Every source the ingress serves: the config file's, and those made through the API.

API-managed sources live in the database. Each process keeps them in memory and reloads
them every ``refresh_seconds``; a name it does not know is looked up on its own, so a
source made a moment ago is found on its first webhook.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping

import msgspec

from gateway.config import ConfigError, SourceConfig, validate_source
from gateway.ingress.schemes import apply_preset, build_verifier
from gateway.ingress.source import Source
from gateway.lifecycle.tasks import cancel_and_wait
from gateway.store import NotFound, StoreError
from gateway.store import sources as store
from gateway.store.database import Database

__all__ = ["SourceRegistry", "find_source", "source_from_spec"]

log = logging.getLogger("gateway.ingress")
MISS_REFRESH_SECONDS = 1.0
MAX_REMEMBERED_MISSES = 10_000


def source_from_spec(spec: dict[str, object]) -> Source:
    """A stored spec made usable; raises ``ValueError`` if it cannot serve."""
    try:
        config = msgspec.convert(spec, SourceConfig)
        validate_source(config)
    except (msgspec.ValidationError, ConfigError) as exc:
        raise ValueError(str(exc)) from None
    config = apply_preset(config)
    return Source(config, build_verifier(config))


class SourceRegistry(Mapping[str, Source]):
    def __init__(
        self, declared: Mapping[str, Source], db: Database, refresh_seconds: float = 5.0
    ) -> None:
        self.declared = dict(declared)
        self.db = db
        self.refresh_seconds = refresh_seconds
        self._managed: dict[str, Source] = {}
        self._misses: dict[str, float] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def __getitem__(self, name: str) -> Source:
        found = self.declared.get(name) or self._managed.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter({**self._managed, **self.declared})

    def __len__(self) -> int:
        return len({**self._managed, **self.declared})

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="source-registry")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def find_missing(self, name: str) -> Source | None:
        """Look a name not known yet up in the database (unknown names are remembered
        for a second, so a flood of bad names costs one query per name per second)."""
        now = time.monotonic()
        if now - self._misses.get(name, -MISS_REFRESH_SECONDS) < MISS_REFRESH_SECONDS:
            return None
        try:
            row = await store.get_source(self.db, name)
        except NotFound:
            row = None
        except StoreError as exc:
            log.warning("could not look up source %s: %s", name, exc)
            return None
        if row is None or row.managed_by != "api":
            if len(self._misses) >= MAX_REMEMBERED_MISSES:
                self._misses.clear()
            self._misses[name] = now
            return None
        try:
            source = source_from_spec(row.spec)
        except ValueError as exc:
            log.error("source %s cannot serve: %s", name, exc)
            return None
        self._managed = {**self._managed, name: source}
        return source

    async def refresh(self) -> None:
        async with self._lock:
            try:
                rows = await store.list_sources(self.db)
            except StoreError as exc:
                log.warning("could not reload sources: %s", exc)
                return
            managed: dict[str, Source] = {}
            for row in rows:
                if row.managed_by != "api" or row.name in self.declared:
                    continue
                try:
                    managed[row.name] = source_from_spec(row.spec)
                except ValueError as exc:
                    log.error("source %s cannot serve: %s", row.name, exc)
            self._managed = managed

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            await self.refresh()


async def find_source(sources: Mapping[str, Source], name: str) -> Source | None:
    found = sources.get(name)
    if found is None and isinstance(sources, SourceRegistry):
        found = await sources.find_missing(name)
    return found
