"""The one outbound HTTP client: pooled keep-alive, no redirects, no cookies, bounded reads.

Every connection goes through :class:`GuardedResolver`: the name is resolved once, every
address checked against the :class:`AddressPolicy`, and aiohttp connects to the checked
address (the host name is kept for TLS). ``resolver`` swaps the DNS lookup underneath
(tests answer public-looking names with private addresses through it).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from aiohttp.abc import AbstractResolver

from gateway.delivery.ssrf import AddressBlocked, AddressPolicy, GuardedResolver
from gateway.domain.destination import InvalidDestination, parse_destination
from gateway.store.records import AttemptResult

__all__ = ["OutboundClient"]


class OutboundClient:
    """Posts deliveries. One ``ClientSession`` per process, connections reused per host."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        max_connections: int = 256,
        connect_timeout: float = 5.0,
        snippet_bytes: int = 2048,
        user_agent: str = "webhook-gateway",
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.policy = policy
        self.connect_timeout = connect_timeout
        self.snippet_bytes = snippet_bytes
        # One (immutable) ClientTimeout per distinct subscriber timeout.
        self._timeout = functools.lru_cache(maxsize=256)(self._make_timeout)
        connector = aiohttp.TCPConnector(
            limit=max_connections,
            limit_per_host=0,
            resolver=GuardedResolver(policy, resolver),
            ttl_dns_cache=60,
            enable_cleanup_closed=True,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": user_agent},
            auto_decompress=False,
            skip_auto_headers=("Content-Type",),
            # A subscriber's Set-Cookie is never kept nor sent back: every delivery stands
            # alone, and no jar grows with the subscribers (nor is consulted per request).
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        await self.session.close()

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout: float,
        *,
        https_only: bool = False,
    ) -> AttemptResult:
        """Send one attempt; never raises for network or HTTP failures.

        Only the first ``snippet_bytes`` of the answer are read; a longer body is not
        downloaded (the connection is closed instead of drained).
        """
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()

        def result(outcome: str, **kw: object) -> AttemptResult:
            ms = (time.perf_counter() - t0) * 1000
            return AttemptResult(started_at, ms, outcome, **kw)  # type: ignore[arg-type]

        try:
            target = parse_destination(url)  # as registration read it
            if https_only and target.scheme != "https":
                raise AddressBlocked("this subscriber accepts https:// URLs only")
            self.policy.check(target.host)
            async with self.session.post(
                target.url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=self._timeout(timeout),
            ) as response:
                snippet = await self._snippet(response)
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except (AddressBlocked, InvalidDestination) as exc:
            return result("blocked", error=str(exc))
        except TimeoutError:
            return result("timeout", error=f"no response within {timeout:g}s")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return result("connection_error", error=_describe(exc))
        if 200 <= status < 300:
            return result("success", status_code=status, response_snippet=snippet)
        outcome = "redirect" if 300 <= status < 400 else "http_error"
        return result(
            outcome,
            status_code=status,
            error=f"HTTP {status}",
            response_snippet=snippet,
            retry_after_seconds=retry_after,
        )

    def _make_timeout(self, total: float) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=total, sock_connect=min(self.connect_timeout, total))

    async def _snippet(self, response: aiohttp.ClientResponse) -> str | None:
        """Read at most ``snippet_bytes`` of the answer; the rest is not downloaded."""
        data = b""
        try:
            async with asyncio.timeout(5.0):
                while len(data) < self.snippet_bytes:
                    chunk = await response.content.read(self.snippet_bytes - len(data))
                    if not chunk:
                        break
                    data += chunk
        except (TimeoutError, aiohttp.ClientError):
            pass
        if not response.content.at_eof():
            response.close()  # drop the connection rather than read the rest
        return data.decode("utf-8", "replace") if data else None


def _describe(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, AddressBlocked):
        return str(cause)
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
