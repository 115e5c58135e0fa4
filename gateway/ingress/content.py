"""What a webhook's body may come as: its media type and its content coding.

A source may list the media types it accepts (``content_types``); a body comes as is or in
one layer of ``gzip`` or ``deflate``, which aiohttp decodes within the body limit. Anything
else is a 415 that names what is accepted.
"""

from __future__ import annotations

from multidict import CIMultiDictProxy

from gateway.config import SourceConfig
from gateway.domain.media import media_type
from gateway.http.problems import Problem

__all__ = ["check_content"]

# One layer of these, decoded by aiohttp within the body limit; "" and identity: as is.
_ACCEPTED_CODINGS = frozenset({"", "identity", "gzip", "deflate"})


def check_content(headers: CIMultiDictProxy[str], cfg: SourceConfig) -> None:
    """415 unless the body comes as is or in one coding that aiohttp decodes, and its media
    type is one the source lists, if it lists any.

    A Content-Type that is not ASCII is no media type at all (and could not be stored or
    sent on): 415 whatever the source lists.
    """
    _check_content_encoding(headers)
    given = headers.get("Content-Type", "")
    if not given.isascii():
        raise Problem(415, "the content type is not ASCII", kind="unsupported-media-type")
    if not cfg.content_types:
        return
    given = media_type(given)
    if given not in {media_type(accepted) for accepted in cfg.content_types}:
        shown = repr(given[:100]) if given else "none"
        raise Problem(
            415,
            f"content type {shown} is not accepted; send {' or '.join(cfg.content_types)}",
            kind="unsupported-media-type",
        )


def _check_content_encoding(headers: CIMultiDictProxy[str]) -> None:
    """aiohttp decodes one ``gzip`` or ``deflate`` layer and passes anything else through
    still encoded (``gzip, gzip``, ``x-gzip``, a second Content-Encoding line): that would
    be stored and sent on as if it were the body, so it is a 415 naming what is accepted."""
    codings = headers.getall("Content-Encoding", ())
    if not codings or (len(codings) == 1 and codings[0].strip().lower() in _ACCEPTED_CODINGS):
        return
    shown = ", ".join(codings)[:100]
    raise Problem(
        415,
        f"content encoding {shown!r} is not accepted; send the body unencoded or in one layer"
        " of gzip or deflate",
        kind="unsupported-content-encoding",
        headers={"Accept-Encoding": "gzip, deflate"},
    )
