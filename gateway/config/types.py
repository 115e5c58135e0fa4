"""What the configuration's sections share: their base, and constrained value types."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from gateway.domain.validation import FINITE

__all__ = ["AtLeastOne", "FilePath", "NonNegative", "Port", "Positive", "Section"]

Port = Annotated[int, Meta(ge=0, le=65535)]
AtLeastOne = Annotated[int, Meta(ge=1)]
Positive = Annotated[float, Meta(gt=0, le=FINITE, description="a positive number")]
NonNegative = Annotated[float, Meta(ge=0, le=FINITE, description="0 or a positive number")]
FilePath = Annotated[str, Meta(min_length=1, description="a file; leave unset for none")]


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A table of the file: frozen, and a key it does not know is an error."""
