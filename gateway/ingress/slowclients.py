"""Close ingress connections whose clients are too slow to say what they want (slowloris).

aiohttp's server has no header-read timeout: a client that sends its request line and
headers one byte at a time, or opens a connection and says nothing, holds a connection
and a file descriptor until the keep-alive timeout, and one that sends a body at a
trickle holds it for as long as it likes. The ingress listener therefore serves its
connections with :class:`GuardedRequestHandler`, which adds three bounds:

- **request head**: the request line and headers must be complete ``header_timeout``
  seconds after their first byte arrived (for a new connection: after it opened).
  A client that is late gets ``408 Request Timeout`` and the connection is closed.
- **request body**: while a body is arriving, ``header_timeout`` seconds without a byte
  close the connection, and so does a body slower than :data:`MIN_BODY_RATE` on average
  (it has ``header_timeout`` seconds, plus one second per ``MIN_BODY_RATE`` bytes that
  arrived). Time in which the gateway itself stopped reading does not count.
- **idle keep-alive**: ``keepalive_timeout`` seconds after the last answer without a
  new request close the connection (aiohttp's own timer, set from the config).

The checks are timers armed per connection; nothing is polled. The handler can also be
given ``answer_early`` (ingress/early.py): a function shown each chunk of bytes that
starts a request while no other is in hand, before aiohttp parses it, which may return
a complete answer to write instead (the overload 503,
:class:`gateway.ingress.shedding.EarlyRefusal`), or a pending one, written once its
future is done (a webhook stored by :class:`gateway.ingress.fastpath.FastIngest`).
While an answer is pending, the connection reads nothing more, its keep-alive timer
waits, and bytes already read wait their turn; the shutdown writes it before it closes.
The connection then stays open for the next request. A chunk starts a request only if every
chunk before it was parsed into one whole request: after anything else (a request in
parts, pipelined requests, a chunked body) aiohttp's parser may hold part of the next
one, and the connection is left to aiohttp for good. A request so malformed
that aiohttp answers 400 before any handler runs, or a client gone before aiohttp could
write to it, is logged at DEBUG, without the traceback aiohttp would log at ERROR: from
the internet both are routine, and a traceback each would let anyone flood the logs.
aiohttp's own answers go without its ``Server`` header, as every ingress answer does.
As on every listener, a connection closes once more as the shutdown starts
(:mod:`gateway.http.closing`). What the handler reads and sets of aiohttp's connection
state, it does through :class:`gateway.http.internals.ConnectionHandler`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import StreamReader, web

from gateway.http.closing import ClosingRequestHandler, ClosingRunner
from gateway.http.internals import HttpProcessingError
from gateway.http.wire import encode_answer
from gateway.ingress.early import AnswerEarly, Peer, Pending
from gateway.ingress.serverheader import anonymous

__all__ = ["MIN_BODY_RATE", "GuardedRequestHandler", "GuardedRunner"]


MIN_BODY_RATE = 1024
"""Bytes per second a request body must average (a 1 MiB body may take 17 minutes)."""

_TIMEOUT_TEXT = b"the request head was not sent in time\n"


class GuardedRequestHandler(ClosingRequestHandler):
    """aiohttp's connection handler with a deadline for request heads and body stalls."""

    __slots__ = (
        "_answer_early",
        "_body",
        "_body_deadline",
        "_body_timer",
        "_head_started",
        "_head_timer",
        "_held",
        "_kept_open",
        "_last_read",
        "_limit",
        "_peer",
        "_pending",
        "_reading_held",
        "_stopping",
        "_whole",
    )

    def __init__(
        self,
        manager: web.Server,
        *,
        header_timeout: float,
        answer_early: AnswerEarly | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(manager, **kwargs)
        self._limit = header_timeout
        self._answer_early = answer_early
        # Every chunk so far was one whole request: aiohttp's parser holds nothing.
        self._whole = answer_early is not None
        self._kept_open = 0  # answers aiohttp sent that left the connection open
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_started = False
        self._body: StreamReader | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_deadline = 0.0
        self._last_read = 0.0
        self._peer: Peer | None = None
        self._pending: Pending | None = None  # an early answer waiting to be written
        self._held: list[bytes] = []  # bytes that arrived meanwhile (pipelined)
        self._reading_held = False  # reading paused while an early answer is pending
        self._stopping = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._last_read = self.event_loop.time()
        self._arm_head()  # a new connection must send its first request in time

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # (aiohttp itself passes b"" on, to parse what it holds)
        if self._pending is not None:  # an early answer is in hand: the rest waits
            if data:
                self._held.append(data)
            return
        if data and self._answer_early is not None and self._between_requests():
            answer = self._answer_early(data, self._peer or self._find_peer())
            if isinstance(answer, Pending):
                self._hold(answer)
                return
            if answer is not None:
                self._answered(answer)
                return
        parsed = self.requests_parsed
        super().data_received(data)
        if self._whole and data:
            self._whole = self.requests_parsed == parsed + 1 and self._was_one_request(data)
        if data:
            self._last_read = self.event_loop.time()
            self._body_deadline += len(data) / MIN_BODY_RATE
        if self.requests_parsed != parsed:
            self._head_complete()
        elif data and self.awaiting_request:
            self._head_started = True
            if self._head_timer is None:
                self._arm_head()

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        """Malformed requests (answered 400 by aiohttp itself), and failures to write to a
        client that has gone (e.g. ``100 Continue`` to one that hung up), at DEBUG."""
        error = kwargs.get("exc_info")
        malformed = isinstance(error, HttpProcessingError) and 400 <= (error.code or 400) < 500
        gone = isinstance(error, ConnectionResetError) and (
            self.transport is None or self.transport.is_closing()
        )
        if malformed or gone:
            template = args[0] if args and isinstance(args[0], str) else "malformed request"
            self.logger.debug(template + ": %s", *args[1:], error)
            return
        super().log_exception(*args, **kwargs)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's own answer (400 to a request it could not parse, 500), without the
        ``Server`` header no other ingress answer has (ingress/serverheader.py)."""
        answer = super().handle_error(request, status, exc, message)
        return anonymous(answer) if isinstance(answer, web.Response) else answer

    def _was_one_request(self, data: bytes) -> bool:
        """Whether ``data``, which aiohttp just parsed into one request, was all of it and
        nothing more: its head and its whole ``Content-Length`` body (no chunks, no
        upgrade). aiohttp's own parse says what the request is; only the length is ours."""
        parsed = self.last_parsed()
        if parsed is None:
            return False
        message, payload = parsed  # the message may be aiohttp's record of a malformed one
        if getattr(message, "chunked", True) or message.upgrade:
            return False
        if not payload.is_eof():
            return False
        length = message.headers.get("Content-Length")
        return len(data) == data.find(b"\r\n\r\n") + 4 + (int(length) if length else 0)

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        result = await super().finish_response(request, resp, start_time)
        if not result[1] and resp.keep_alive:  # sent, and the connection stays open
            self._kept_open += 1
        return result

    def _between_requests(self) -> bool:
        """Every request aiohttp parsed has been answered on an open connection, and it
        holds no part of another: the bytes that arrive start a request, and an answer
        to it comes after every earlier one. Not while the transport has asked for
        writing to pause (a client that does not read its answers)."""
        return (
            self._whole
            and not self._stopping
            and self._kept_open == self.requests_parsed
            and self.transport is not None
            and not self.writing_paused
            and not self.closing
        )

    async def shutdown(self, timeout: float | None = 15.0) -> None:
        """As aiohttp's, but an early answer in hand is written first (as aiohttp waits
        for a handler under way), and nothing after it is answered early."""
        self._stopping = True
        pending = self._pending
        if pending is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await asyncio.wait([pending.future])  # its answer is written first
        await super().shutdown(timeout)

    def _find_peer(self) -> Peer:
        """The connection's peer and TLS, as aiohttp's requests read them."""
        assert self.transport is not None
        peername = self.transport.get_extra_info("peername")
        if isinstance(peername, (list, tuple)):
            remote: str | None = str(peername[0])
        else:
            remote = None if peername is None else str(peername)
        self._peer = Peer(remote, self.transport.get_extra_info("sslcontext") is not None)
        return self._peer

    def _hold(self, pending: Pending) -> None:
        """An early answer that waits for its future: the head deadline ends, the
        connection is not idle meanwhile, and what the client sends next waits."""
        assert self.transport is not None
        self._pending = pending
        self._head_complete()
        self.stop_keepalive()
        if not self.reading_paused:
            self.transport.pause_reading()
            self._reading_held = True
        pending.future.add_done_callback(self._pending_done)

    def _pending_done(self, future: asyncio.Future[Any]) -> None:
        pending, self._pending = self._pending, None
        assert pending is not None
        try:
            answer = pending.finish(future)  # counted and logged even if the client has gone
        except Exception:  # a bug, not the client's doing: no answer rather than a wrong one
            self.logger.exception("writing an early answer failed")
            self.force_close()
            return
        if self.transport is None or self.transport.is_closing():
            self._held.clear()
            return
        self._answered(answer)
        if self._reading_held:
            self._reading_held = False
            self.transport.resume_reading()
        held, self._held = self._held, []
        for data in held:  # in order; another early answer holds the rest again
            self.data_received(data)

    def _answered(self, answer: bytes) -> None:
        """After an early answer: no head is pending, and the connection is idle from now
        (aiohttp's keep-alive timer counts from here, as after an answer of its own)."""
        assert self.transport is not None
        self.transport.write(answer)
        self._head_complete()
        now = self.event_loop.time()
        self._last_read = now
        self.idle_from(now)

    def _arm_head(self) -> None:
        self._head_timer = self.event_loop.call_later(self._limit, self._head_expired)

    def _head_complete(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._head_started = False
        parsed = self.last_parsed()
        payload = parsed[1] if parsed is not None else None
        if isinstance(payload, StreamReader) and not payload.is_eof():
            self._body = payload
            self._body_deadline = self.event_loop.time() + self._limit
            if self._body_timer is None:
                self._body_timer = self.event_loop.call_later(self._limit, self._body_check)

    def _head_expired(self) -> None:
        self._head_timer = None
        if not self.awaiting_request:
            return
        if self._head_started and self.transport is not None:
            self.transport.write(
                encode_answer(408, "text/plain; charset=utf-8", _TIMEOUT_TEXT, close=True)
            )
        self.force_close()

    def _body_check(self) -> None:
        self._body_timer = None
        body = self._body
        if body is None or body.is_eof() or self.transport is None:
            self._body = None
            return
        now = self.event_loop.time()
        if self.reading_paused:
            # The gateway is not reading: not the client's delay.
            self._last_read = now
            self._body_deadline = max(self._body_deadline, now + self._limit)
        if now - self._last_read >= self._limit or now >= self._body_deadline:
            self._body = None
            self.force_close()  # the handler's read fails; nothing is answered
            return
        due = min(self._last_read + self._limit, self._body_deadline)
        self._body_timer = self.event_loop.call_at(due, self._body_check)

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None
        self._body = None


class GuardedRunner(ClosingRunner):
    """An ``AppRunner`` for the ingress listener: slow clients are disconnected.

    ``keepalive_timeout`` bounds idle keep-alive connections, ``header_timeout`` request
    heads and body stalls (see the module docstring); ``answer_early`` may answer a
    request from its bytes alone.
    """

    def __init__(
        self,
        app: web.Application,
        *,
        header_timeout: float,
        keepalive_timeout: float,
        answer_early: AnswerEarly | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, keepalive_timeout=keepalive_timeout, **kwargs)
        self.header_timeout = header_timeout
        self.answer_early = answer_early

    def make_handler(self, server: web.Server, **options: Any) -> GuardedRequestHandler:
        return GuardedRequestHandler(
            server, header_timeout=self.header_timeout, answer_early=self.answer_early, **options
        )
