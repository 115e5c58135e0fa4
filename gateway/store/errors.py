"""Storage errors. Driver exceptions are translated into these at the store boundary.

StoreError
├── StoreUnavailable   the database cannot be reached right now (retry later)
├── NotFound           no row with that id
├── Conflict           a unique constraint or a state guard refused the change
└── InvalidData        a value the database cannot hold (a NUL character, a bad encoding)
"""

from __future__ import annotations

__all__ = ["Conflict", "InvalidData", "NotFound", "StoreError", "StoreUnavailable"]


class StoreError(Exception):
    """A storage operation failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class StoreUnavailable(StoreError):
    """The database is unreachable."""


class NotFound(StoreError):
    """No such record."""


class Conflict(StoreError):
    """The change conflicts with the stored state."""


class InvalidData(StoreError):
    """A value cannot be stored or searched for as given."""
