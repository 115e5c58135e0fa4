"""The connection pool, and the one place driver errors become store errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson

from gateway.store.errors import Conflict, InvalidData, StoreError, StoreUnavailable
from gateway.store.sql import QUERIES

__all__ = ["Connection", "Database", "StoreError", "translate_errors"]

Connection = asyncpg.Connection
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.PostgresConnectionError,
    # A connection left in a broken state by a crashed server ("cannot switch to state
    # 15; another operation is in progress"): transient like the rest, never fatal.
    asyncpg.exceptions.InternalClientError,
)


@contextlib.contextmanager
def translate_errors() -> Any:
    """Map asyncpg and socket errors to the store's own exceptions."""
    try:
        yield
    except asyncpg.exceptions.UniqueViolationError as exc:
        raise Conflict(f"already exists ({exc.constraint_name})") from exc
    except asyncpg.exceptions.DataError as exc:
        raise InvalidData(f"value not accepted: {type(exc).__name__}") from exc
    except _UNAVAILABLE as exc:
        raise StoreUnavailable(f"database unavailable: {type(exc).__name__}") from exc
    except asyncpg.PostgresError as exc:
        raise StoreError(f"database error: {exc.sqlstate} {type(exc).__name__}") from exc


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        format="text",
    )


class Database:
    """An asyncpg pool that runs named queries from ``queries.sql``."""

    def __init__(self, pool: asyncpg.Pool, url: str, stateful: set[int] | None = None) -> None:
        self.pool = pool
        self.url = url
        self._stateful = stateful if stateful is not None else set()

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        min_size: int = 2,
        max_size: int = 10,
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
        generic_plans: bool = False,
        name: str = "webhook-gateway",
    ) -> Database:
        """A pool on ``url``; ``name`` is its connections' ``application_name``.

        ``generic_plans``: plan each prepared statement once (``plan_cache_mode =
        force_generic_plan``). Right for fixed-shape statements over arrays, such as
        the group-commit insert, which PostgreSQL would otherwise plan again on every
        run (its array sizes change); wrong for queries with optional filters.
        """
        stateful: set[int] = set()

        async def reset(conn: asyncpg.Connection) -> None:
            # asyncpg has already ended any transaction; the full reset (advisory locks,
            # settings, LISTEN) is one more round trip, paid only by a session() that
            # may have left such state behind, not by every query of the hot paths.
            if stateful:
                pid = conn.get_server_pid()
                if pid in stateful:
                    stateful.discard(pid)
                    await conn.execute(conn.get_reset_query())

        with translate_errors():
            pool = await asyncpg.create_pool(
                url,
                min_size=min_size,
                max_size=max_size,
                timeout=connect_timeout,
                command_timeout=command_timeout,
                init=_init_connection,
                reset=reset,
                server_settings={"application_name": name}
                | ({"plan_cache_mode": "force_generic_plan"} if generic_plans else {}),
            )
        return cls(pool, url, stateful)

    async def close(self) -> None:
        await self.pool.close()

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection for work that sets session state (advisory locks,
        ``set_config(..., false)``); the pool resets it fully when it comes back.

        Every other use of the pool must leave no session state behind: queries and
        transactions (``SET LOCAL``, ``set_config(..., true)``) are fine.
        """
        with translate_errors():
            async with self.pool.acquire() as conn:
                self._stateful.add(conn.get_server_pid())
                yield conn

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        with translate_errors():
            async with self.pool.acquire() as conn, conn.transaction():
                yield conn

    async def fetch(self, name: str, *args: Any) -> list[asyncpg.Record]:
        with translate_errors():
            rows: list[asyncpg.Record] = await self.pool.fetch(QUERIES[name], *args)
            return rows

    async def fetchrow(self, name: str, *args: Any) -> asyncpg.Record | None:
        with translate_errors():
            return await self.pool.fetchrow(QUERIES[name], *args)

    async def fetchval(self, name: str, *args: Any) -> Any:
        with translate_errors():
            return await self.pool.fetchval(QUERIES[name], *args)

    async def listen(self, channel: str, callback: Any) -> asyncpg.Connection:
        """A dedicated connection listening on ``channel``; the caller closes it."""
        with translate_errors():
            conn: asyncpg.Connection = await asyncpg.connect(
                self.url, timeout=5.0, server_settings={"application_name": "gateway-listen"}
            )
            await conn.add_listener(channel, callback)
            return conn

    @property
    def in_use(self) -> int:
        return int(self.pool.get_size()) - int(self.pool.get_idle_size())
