"""Every use of aiohttp's private internals, in one module, checked against the aiohttp installed.

aiohttp's server has no public hook for what the gateway needs of it in a few places:
reading a connection's bytes before the parser does (the ingress fast path and its
overload refusal), deadlines for slow clients, connections closed again as a shutdown
starts, answers without the ``Server`` header, a listener that accepts greedily. Those
reach into aiohttp's classes, here and nowhere else; the rest of the gateway uses what
this module exposes.

Each private name relied on is declared once, in :data:`REQUIRED` (and
:data:`SERVER_ATTRIBUTES`): :func:`require` runs as this module is imported, so an aiohttp
that renamed or dropped one stops the gateway at start-up with one line naming it, and
tests/unit/test_aiohttp_internals.py fails naming it. Hooks the gateway overrides are
listed too: an override of a method that a release renamed would silently never run.
pyproject.toml bounds aiohttp to the releases this list was checked against.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any, Final

import aiohttp
from aiohttp import base_protocol, hdrs, helpers, http_parser, web, web_protocol, web_runner
from aiohttp.http_exceptions import HttpProcessingError

__all__ = [
    "REQUIRED",
    "SERVER_ATTRIBUTES",
    "SINGLETON_HEADERS",
    "AiohttpInternalsMissing",
    "ConnectionHandler",
    "HandlerRunner",
    "HttpProcessingError",
    "ResponseWithoutServer",
    "SiteBase",
    "http_date",
    "missing",
    "require",
]

_Handler = web_protocol.RequestHandler

REQUIRED: Final[tuple[tuple[Any, str], ...]] = (
    # the connection's state that the ingress connection handler reads (ConnectionHandler)
    (base_protocol.BaseProtocol, "_loop"),
    (base_protocol.BaseProtocol, "_reading_paused"),
    (base_protocol.BaseProtocol, "_buffer_paused"),  # aiohttp >= 3.14.4
    (base_protocol.BaseProtocol, "writing_paused"),
    (_Handler, "_request_count"),
    (_Handler, "_messages"),
    (_Handler, "_waiter"),
    (_Handler, "_close"),
    (_Handler, "_force_close"),
    (_Handler, "_keepalive_handle"),
    (_Handler, "_keepalive_timeout"),
    (_Handler, "_next_keepalive_close_time"),
    (_Handler, "_process_keepalive"),
    # the connection handler's hooks that the gateway overrides
    (_Handler, "connection_made"),
    (_Handler, "connection_lost"),
    (_Handler, "data_received"),
    (_Handler, "finish_response"),
    (_Handler, "handle_error"),
    (_Handler, "log_exception"),
    (_Handler, "shutdown"),
    # a runner's server, served by another connection handler (HandlerRunner)
    (web_runner.AppRunner, "_make_server"),
    # an answer's headers, as aiohttp prepares them (ResponseWithoutServer)
    (web.StreamResponse, "_prepare_headers"),
    # a site that accepts connections itself (SiteBase)
    (web_runner.BaseSite, "_runner"),
    (web_runner.BaseSite, "_ssl_context"),
    (web_runner.BaseSite, "_backlog"),
    (web_runner.BaseSite, "_server"),
    # what the answers from a request's bytes must agree with
    (helpers, "rfc822_formatted_time"),  # the Date of aiohttp's answers
    (http_parser, "SINGLETON_HEADERS"),  # fields a second copy of is its 400 (>= 3.13.5)
)
"""``(owner, attribute)``: every private (or overridden) name this module relies on."""

SERVER_ATTRIBUTES: Final = ("_loop", "_kwargs")
"""What a ``web.Server`` sets on itself (no slots to find them on the class)."""


class AiohttpInternalsMissing(RuntimeError):
    """The installed aiohttp lacks something the gateway relies on (named in the message)."""


def missing() -> list[str]:
    """The required names the installed aiohttp lacks, as ``module.Owner.attribute``."""
    absent = [_shown(owner, name) for owner, name in REQUIRED if not hasattr(owner, name)]
    try:
        probe = web.Server(_no_handler, loop=_NO_LOOP)  # type: ignore[arg-type]
    except Exception as exc:  # a constructor that changed is as bad as a missing name
        return [*absent, f"aiohttp.web.Server(): {type(exc).__name__}: {exc}"]
    absent += [f"aiohttp.web.Server().{n}" for n in SERVER_ATTRIBUTES if not hasattr(probe, n)]
    return absent


def require() -> None:
    """Raise :class:`AiohttpInternalsMissing`, naming each absent name, if any is."""
    absent = missing()
    if absent:
        raise AiohttpInternalsMissing(
            f"aiohttp {aiohttp.__version__} lacks what the gateway relies on: "
            f"{', '.join(absent)} (see pyproject.toml for the versions it supports)"
        )


def _shown(owner: Any, name: str) -> str:
    where = owner.__name__ if isinstance(owner, type) else ""
    module = owner.__module__ if isinstance(owner, type) else owner.__name__
    return ".".join(filter(None, (module, where, name)))


async def _no_handler(request: web.BaseRequest) -> web.StreamResponse:  # pragma: no cover
    raise NotImplementedError


_NO_LOOP = object()

require()

SINGLETON_HEADERS: Final[frozenset[str]] = http_parser.SINGLETON_HEADERS
"""The fields aiohttp's parsers take once: a second one is answered 400."""


http_date: Final[Callable[[], str]] = helpers.rfc822_formatted_time
"""The ``Date`` of an answer written now, as aiohttp writes it (cached per second)."""


class ConnectionHandler(web_protocol.RequestHandler):
    """aiohttp's connection handler, with its private state read and set by name."""

    __slots__ = ()

    @property
    def event_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def requests_parsed(self) -> int:
        """Requests aiohttp's parser made of the connection's bytes so far."""
        return self._request_count

    def last_parsed(self) -> tuple[Any, Any] | None:
        """The last request parsed and not yet taken by a handler: ``(message, payload)``,
        the message being aiohttp's record of a malformed request if it was one."""
        return self._messages[-1] if self._messages else None

    @property
    def awaiting_request(self) -> bool:
        """Between requests: no request is being handled, none waits to be."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and self.transport is not None

    @property
    def closing(self) -> bool:
        """The connection is to close (after the request in hand, or at once)."""
        return self._force_close or self._close

    @property
    def reading_paused(self) -> bool:
        """Reading stopped by aiohttp: its buffer or its queue of requests is full."""
        return self._reading_paused or self._buffer_paused

    def stop_keepalive(self) -> None:
        """The connection is not idle: aiohttp's keep-alive timer waits."""
        if self._keepalive_handle is not None:
            self._keepalive_handle.cancel()
            self._keepalive_handle = None

    def idle_from(self, now: float) -> None:
        """The connection is idle from ``now``, as after an answer of aiohttp's own: its
        keep-alive timer closes it ``keepalive_timeout`` seconds later without a request."""
        if self._keepalive_timeout <= 0:
            return
        self._next_keepalive_close_time = now + self._keepalive_timeout
        if self._keepalive_handle is None:
            self._keepalive_handle = self._loop.call_at(
                self._next_keepalive_close_time, self._process_keepalive
            )


MakeHandler = Callable[..., web_protocol.RequestHandler]
"""Makes a connection handler: ``make(server, loop=..., **aiohttp's options)``."""


class _HandlerServer(web.Server):
    """aiohttp's low-level server (``plain``, as a runner made it), serving its
    connections with handlers from ``make``."""

    def __init__(self, plain: web.Server, make: MakeHandler) -> None:
        super().__init__(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            **plain._kwargs,
        )
        self._make = make

    def __call__(self) -> web_protocol.RequestHandler:
        return self._make(self, loop=self._loop, **self._kwargs)


class HandlerRunner(web.AppRunner):
    """An ``AppRunner`` whose connections are served by :meth:`make_handler`'s handlers."""

    def make_handler(self, server: web.Server, **options: Any) -> web_protocol.RequestHandler:
        """A handler for one connection (aiohttp's own by default); ``options`` are
        aiohttp's (the loop, timeouts, loggers)."""
        return web_protocol.RequestHandler(server, **options)

    async def _make_server(self) -> web.Server:
        return _HandlerServer(await super()._make_server(), self.make_handler)


class ResponseWithoutServer(web.Response):
    """A response that goes without the ``Server`` header aiohttp adds as it prepares it."""

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        self.headers.popall(hdrs.SERVER, None)


class SiteBase(web.BaseSite):
    """A site that makes its own listening server (``start`` calls :meth:`serving`)."""

    __slots__ = ()

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self._ssl_context

    @property
    def backlog(self) -> int:
        return self._backlog

    @property
    def server(self) -> asyncio.AbstractServer | None:
        """The listening server, once started."""
        return self._server

    def protocol_factory(self) -> Callable[[], asyncio.BaseProtocol]:
        """What serves each accepted connection (the runner's server)."""
        factory = self._runner.server
        assert factory is not None  # BaseSite refuses a runner that was not set up
        return factory

    def serving(self, server: asyncio.AbstractServer) -> None:
        """``server`` listens for this site (the runner closes it as the site stops)."""
        self._server = server
