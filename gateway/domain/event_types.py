"""Event-type patterns: globs such as ``orders/*``, matched in SQL with LIKE and in Python."""

from __future__ import annotations

import re

__all__ = ["glob_to_like", "glob_to_regex", "matches"]

_GLOB_CHARS = re.compile(r"[\\%_*?]")


def glob_to_like(pattern: str) -> str:
    r"""Translate a glob (``*`` any run, ``?`` one character) into a LIKE pattern.

    LIKE's own wildcards ``%`` and ``_`` (and the escape ``\``) are escaped so they
    match only themselves.
    """

    def repl(match: re.Match[str]) -> str:
        char = match.group(0)
        return {"*": "%", "?": "_"}.get(char, "\\" + char)

    return _GLOB_CHARS.sub(repl, pattern)


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """The same glob as an anchored regular expression (``[`` is literal, as in LIKE)."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def matches(patterns: list[str] | tuple[str, ...], event_type: str | None) -> bool:
    """The rule SQL applies: no patterns match everything; else any glob matches."""
    if not patterns:
        return True
    if event_type is None:
        return False
    return any(glob_to_regex(p).match(event_type) for p in patterns)
