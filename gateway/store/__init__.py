"""The only package that speaks SQL. Everything else sees records and store errors."""

from gateway.store.database import Database
from gateway.store.errors import Conflict, InvalidData, NotFound, StoreError, StoreUnavailable

__all__ = ["Conflict", "Database", "InvalidData", "NotFound", "StoreError", "StoreUnavailable"]
