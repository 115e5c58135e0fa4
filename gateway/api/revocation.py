"""The revoked tokens every request is checked against: a set in memory, per process.

The set holds the ``jti`` of every revoked token that may still be presented (a few, at
most the revocations of one token lifetime). Each process reloads it from the database
several times within ``api.revocation_refresh_seconds``, so a token revoked anywhere
(another replica, the CLI) is refused here within that time; the process that revokes a
token adds it at once.

When the set could not be reloaded for ``revocation_refresh_seconds`` (the database is
away), it may miss a revocation: every token is then refused with 503 until a reload
succeeds. Failing closed costs little, as every API route and console page needs the
database anyway; a token known to be revoked is still refused with 401.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from gateway.config import ApiConfig
from gateway.lifecycle.tasks import cancel_and_wait
from gateway.observability import log_event
from gateway.store import StoreError, StoreUnavailable
from gateway.store import tokens as store
from gateway.store.database import Database

__all__ = ["MAX_JTI_LENGTH", "MAX_REASON_LENGTH", "RELOADS_PER_REFRESH", "RevokedTokens"]

log = logging.getLogger("gateway.api")
MAX_JTI_LENGTH = 256  # as the table's checks say
MAX_REASON_LENGTH = 500
RELOADS_PER_REFRESH = 3
"""Reloads within one ``revocation_refresh_seconds``: one that fails costs no 503."""


class RevokedTokens:
    """Answers "is this jti revoked?" from memory; a background task keeps it current."""

    def __init__(
        self,
        db: Database,
        refresh_seconds: float,
        leeway_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.refresh_seconds = refresh_seconds
        self.leeway_seconds = leeway_seconds
        self._clock = clock
        self._jtis: frozenset[str] = frozenset()
        self._loaded_at: float | None = None  # when the last good reload's query began
        self._added: dict[str, float] = {}  # revoked here, by when: kept across a reload
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    @classmethod
    def from_config(cls, db: Database, api: ApiConfig) -> RevokedTokens:
        return cls(db, api.revocation_refresh_seconds, api.jwt_leeway_seconds)

    def is_revoked(self, jti: str) -> bool:
        """Whether ``jti`` is revoked; ``StoreUnavailable`` when the set is too old to say."""
        if jti in self._jtis:
            return True
        loaded = self._loaded_at
        if loaded is None or self._clock() - loaded > self.refresh_seconds:
            raise StoreUnavailable("the list of revoked tokens could not be reloaded")
        return False

    def add(self, jti: str) -> None:
        """Refuse ``jti`` from now on (it was just revoked in the database)."""
        self._added[jti] = self._clock()
        self._jtis = self._jtis | {jti}

    async def reload(self) -> None:
        """Read the set again; raises ``StoreError`` when the database cannot answer."""
        started = self._clock()
        try:
            async with asyncio.timeout(self.refresh_seconds / RELOADS_PER_REFRESH):
                jtis = await store.revoked_jtis(self.db, self.leeway_seconds)
        except TimeoutError:
            raise StoreUnavailable("reading the revoked tokens timed out") from None
        # a revocation added here after the query began may be missing from its answer
        self._added = {jti: at for jti, at in self._added.items() if at >= started}
        self._jtis = jtis | self._added.keys()
        self._loaded_at = started

    async def start(self) -> None:
        """Load the set (a failure is logged: tokens get 503 until a reload works), then
        keep reloading it in the background."""
        await self._try_reload()
        self._task = asyncio.create_task(self._run(), name="revoked-tokens")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def lifespan(self, _: web.Application) -> AsyncIterator[None]:
        """For ``app.cleanup_ctx``: running while the app serves."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds / RELOADS_PER_REFRESH)
            await self._try_reload()

    async def _try_reload(self) -> None:
        """Reload; a failure is logged once (a warning) until a reload works again."""
        try:
            await self.reload()
        except StoreError as exc:
            level = logging.DEBUG if self._failing else logging.WARNING
            log_event(log, level, "could not reload the revoked tokens", error=str(exc))
            self._failing = True
            return
        except Exception:  # never let one bad reload end the reloading for good
            log.exception("could not reload the revoked tokens")
            self._failing = True
            return
        if self._failing:
            log.info("the revoked tokens are reloaded again")
            self._failing = False
