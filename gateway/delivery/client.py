"""The one outbound HTTP client: pooled keep-alive, no redirects, no cookies, bounded reads.

Every connection goes through :class:`GuardedResolver`: the name is resolved once, every
address checked against the :class:`AddressPolicy`, and aiohttp connects to the checked
address (the host name is kept for TLS). ``resolver`` swaps the DNS lookup underneath
(tests answer public-looking names with private addresses through it).

Through a proxy (``[egress]``, gateway.delivery.egress) the guarantee is the same: the
gateway resolves and checks the name itself, then asks the proxy for the checked address,
never for the name (``CONNECT 203.0.113.7:443``, the name kept for TLS and ``Host``), so
the proxy has no name to resolve to another address after the check. Proxied requests
have a session of their own, whose connector resolves only proxies' names, unguarded: a
proxy's address is the operator's, and is typically internal.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver

from gateway.delivery.egress import Egress, Route, UnknownRoute
from gateway.delivery.ssrf import AddressBlocked, AddressPolicy, GuardedResolver, ip_literal
from gateway.domain.destination import Destination, InvalidDestination, parse_destination
from gateway.store.records import AttemptResult

__all__ = ["OutboundClient"]

DNS_TTL_SECONDS = 60  # how long a checked name's address is kept (aiohttp's cache too)


class OutboundClient:
    """Posts deliveries. One ``ClientSession`` per process (and one for proxied requests),
    connections reused per host, proxy and TLS context."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        max_connections: int = 256,
        connect_timeout: float = 5.0,
        snippet_bytes: int = 2048,
        user_agent: str = "webhook-gateway",
        resolver: AbstractResolver | None = None,
        egress: Egress | None = None,
    ) -> None:
        self.policy = policy
        self.egress = egress or Egress()
        self.connect_timeout = connect_timeout
        self.snippet_bytes = snippet_bytes
        # One (immutable) ClientTimeout per distinct subscriber timeout.
        self._timeout = functools.lru_cache(maxsize=256)(self._make_timeout)
        self.session = _session(GuardedResolver(policy, resolver), max_connections, user_agent)
        self._guard = GuardedResolver(policy, resolver)  # for proxied requests' destinations
        self._checked: dict[str, tuple[float, str]] = {}
        self.proxied: aiohttp.ClientSession | None = None
        if self.egress.proxies:  # its connector resolves proxies' names only, unguarded
            inner = resolver or aiohttp.DefaultResolver()
            self.proxied = _session(inner, max_connections, user_agent)

    async def close(self) -> None:
        await self.session.close()
        if self.proxied is not None:
            await self.proxied.close()
        await self._guard.close()

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout: float,
        *,
        https_only: bool = False,
        proxy: str | None = None,
        tls: str | None = None,
    ) -> AttemptResult:
        """Send one attempt; never raises for network or HTTP failures.

        ``proxy`` and ``tls`` name the subscriber's ``[egress]`` tables (unset: the
        section's default proxy, the system's TLS settings). Only the first
        ``snippet_bytes`` of the answer are read; a longer body is not downloaded (the
        connection is closed instead of drained).
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
            route = self.egress.route(proxy, tls)
            if route.proxy is None:
                request = self.session.post(
                    target.url, data=body, headers=headers, ssl=route.ssl, **self._options(timeout)
                )
            else:
                request = await self._through_proxy(target, route, body, headers, timeout)
            async with request as response:
                snippet = await self._snippet(response)
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except (AddressBlocked, InvalidDestination, UnknownRoute) as exc:
            return result("blocked", error=str(exc))
        except TimeoutError:
            return result("timeout", error=f"no response within {timeout:g}s")
        except aiohttp.ClientHttpProxyError as exc:
            refused = f"the proxy refused the request: HTTP {exc.status} {exc.message}"
            return result("connection_error", error=refused)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            https = url.startswith("https:")
            tls_failure = _tls_failure(exc, https)
            if tls_failure is not None:
                return result("tls_error", error=tls_failure)
            return result("connection_error", error=_describe(exc, https))
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

    def _options(self, timeout: float) -> dict[str, Any]:
        return {"allow_redirects": False, "timeout": self._timeout(timeout)}

    async def _through_proxy(
        self,
        target: Destination,
        route: Route,
        body: bytes,
        headers: Mapping[str, str],
        timeout: float,
    ) -> Any:
        """The request to ``target`` through ``route.proxy`` by ``CONNECT address:port``,
        the address checked, TLS and ``Host`` with the name. Plain http is refused: a proxy
        would send the address it is asked for as the ``Host`` (RFC 9112 §3.2.2)."""
        assert self.proxied is not None and route.proxy is not None
        if target.scheme != "https":
            raise AddressBlocked(
                "a proxy carries https:// deliveries only (plain http would name the address"
                ' to it, not the host); use an https:// URL, or proxy = "direct"'
            )
        async with asyncio.timeout(min(self.connect_timeout, timeout)):
            address = await self._checked_address(target.host, target.port)
        return self.proxied.post(
            target.url.with_host(address),
            data=body,
            headers={**headers, "Host": target.url.host_port_subcomponent or target.host},
            proxy=route.proxy,
            ssl=route.ssl,
            server_hostname=target.host,
            **self._options(timeout),
        )

    async def _checked_address(self, host: str, port: int) -> str:
        """The address ``host`` resolves to, every one of its addresses checked against the
        policy (an IP literal is judged as it is, by ``policy.check``); kept a minute."""
        if ip_literal(host) is not None:
            return host
        now = time.monotonic()
        known = self._checked.get(host)
        if known is not None and known[0] > now:
            return known[1]
        results = await self._guard.resolve(host, port, socket.AF_UNSPEC)
        address = results[0]["host"]
        if len(self._checked) >= 10_000:
            self._checked.clear()
        self._checked[host] = (now + DNS_TTL_SECONDS, address)
        return address

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


def _session(
    resolver: AbstractResolver, max_connections: int, user_agent: str
) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=max_connections,
        limit_per_host=0,
        resolver=resolver,
        ttl_dns_cache=DNS_TTL_SECONDS,
        enable_cleanup_closed=True,
    )
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": user_agent},
        auto_decompress=False,
        skip_auto_headers=("Content-Type",),
        # A subscriber's Set-Cookie is never kept nor sent back: every delivery stands
        # alone, and no jar grows with the subscribers (nor is consulted per request).
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def _tls_failure(exc: BaseException, https: bool) -> str | None:
    """What went wrong in TLS, if ``exc`` (or what caused it) is a TLS failure: the peer's
    certificate not trusted, or the peer refusing ours (or our lack of one)."""
    if (
        https
        and isinstance(exc, aiohttp.ClientConnectorError)
        and isinstance(exc.os_error, ConnectionResetError)
    ):
        return f"TLS: {_DROPPED_IN_HANDSHAKE}"
    seen: BaseException | None = exc
    found: ssl.SSLError | None = None
    while seen is not None:
        if isinstance(seen, aiohttp.ClientConnectorCertificateError):
            return f"TLS: the server's certificate is not trusted: {seen.certificate_error}"[:500]
        if isinstance(seen, ssl.SSLError):
            found = seen
            if getattr(seen, "reason", None):  # OpenSSL's own error, not aiohttp's wrapper
                break
        seen = seen.__cause__ or seen.__context__
    return None if found is None else f"TLS: {_ssl_reason(found)}"[:500]


def _ssl_reason(exc: ssl.SSLError) -> str:
    reason = getattr(exc, "reason", None) or str(exc)
    if "CERTIFICATE_REQUIRED" in reason:
        return f"the server requires a client certificate ({reason})"
    if ("ALERT" in reason and "CERTIFICATE" in reason) or "UNKNOWN_CA" in reason:
        return f"the server refused the client certificate ({reason})"
    if "HANDSHAKE_FAILURE" in reason:
        return f"the server refused the handshake: a client certificate it demands? ({reason})"
    if "VERSION" in reason:
        return f"no TLS version both sides accept ({reason})"
    return reason


def _describe(exc: BaseException, https: bool = False) -> str:
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, AddressBlocked):
        return str(cause)
    text = str(exc) or type(exc).__name__
    dropped = isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError)
    if https and dropped and not isinstance(exc, aiohttp.ClientConnectorError):
        # TLS 1.3 refuses a client certificate after the handshake: the client often sees
        # the connection dropped rather than the server's alert.
        text += _DROPPED_OVER_TLS
    return f"{type(exc).__name__}: {text}"[:500]


_DROPPED_IN_HANDSHAKE = (
    "the server dropped the connection during the handshake: it refuses the TLS version"
    " (see min_version) or the client certificate (or its lack: see the subscriber's tls"
    " profile)"
)
_DROPPED_OVER_TLS = (
    " (over TLS 1.3 this is also how a server that demands a client certificate refuses"
    " the one sent, or the lack of one: see the subscriber's tls profile)"
)


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
