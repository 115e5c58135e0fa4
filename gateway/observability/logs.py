"""Structured logging: JSON lines (or text for a terminal) on stderr, secrets redacted."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.domain.privacy import is_secret_header

__all__ = ["REDACTED", "configure_logging", "log_event", "logging_settings"]

REDACTED = "[redacted]"
_configured = ["INFO", "json"]


def _safe_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Fields as given, except that a key naming a credential never shows its value (the
    rule that hides secret headers everywhere, gateway.domain.privacy)."""
    return {k: REDACTED if is_secret_header(k) else v for k, v in fields.items()}


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(_safe_fields(fields))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _safe_fields(getattr(record, "fields", None) or {})
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        line = (
            f"{self.formatTime(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        )
        line = f"{line} {extra}" if extra else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _OneLineFailure(logging.Filter):
    """The database driver's pool logs every failed reconnection with its traceback; the
    cause is the database (down, restarting, dropped), not this code, so it is one line:
    the error's type and message as ``error``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            fields = dict(getattr(record, "fields", None) or {})
            fields["error"] = f"{type(exc).__name__}: {exc}".strip()
            record.fields = fields
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """One handler on stderr; JSON lines for machines, or text for a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    pool = logging.getLogger("asyncpg.pool")
    if not any(isinstance(f, _OneLineFailure) for f in pool.filters):
        pool.addFilter(_OneLineFailure())
    _configured[:] = [level, fmt]


def logging_settings() -> tuple[str, str]:
    """The level and format :func:`configure_logging` was last given (a child process
    logs as its parent does)."""
    return _configured[0], _configured[1]


def log_event(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    """Log ``msg`` with structured ``fields`` (cheap when the level is disabled)."""
    if logger.isEnabledFor(level):
        logger.log(level, msg, extra={"fields": fields})
