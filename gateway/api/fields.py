"""Field types shared by the API's bodies, carrying what the OpenAPI document should say."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta

__all__ = ["Timestamp"]

Timestamp = Annotated[datetime, Meta(extra_json_schema={"format": "date-time"})]
"""An RFC 3339 date-time (``2026-11-28T06:00:00Z``)."""
