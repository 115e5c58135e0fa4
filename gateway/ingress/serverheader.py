"""Ingress answers name no software: aiohttp's ``Server: Python/3.x aiohttp/3.x`` is left off.

A sender needs no version to send a webhook, and a version tells a scanner which known
flaws to try. aiohttp adds the header to every answer it prepares; on the ingress
listener :func:`drop_server_header` (the app's ``on_response_prepare`` signal, which runs
after aiohttp has set its headers) takes it off the app's answers, and :func:`anonymous`
off those aiohttp gives by itself (to a request it could not parse). The answers written
from a request's bytes (gateway/http/wire.py) never had it, so every
ingress answer carries the same headers whichever path wrote it.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from gateway.http.internals import ResponseWithoutServer

__all__ = ["anonymous", "drop_server_header"]


async def drop_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the answer goes without aiohttp's ``Server`` header."""
    response.headers.popall(hdrs.SERVER, None)


def anonymous(answer: web.Response) -> web.Response:
    """``answer`` (not yet sent) as it is, less the ``Server`` header aiohttp adds as it
    prepares it, for answers that no app's signal sees."""
    copy = ResponseWithoutServer(
        status=answer.status,
        body=answer.body,
        content_type=answer.content_type,
        charset=answer.charset,
    )
    if answer.keep_alive is False:
        copy.force_close()
    return copy
