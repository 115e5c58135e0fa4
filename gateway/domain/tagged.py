"""A table that is one of several kinds, its ``kind`` key saying which (a msgspec tagged
union): a broker, where a source reads from."""

from __future__ import annotations

from typing import Generic, TypeVar, cast

import msgspec

__all__ = ["Tagged"]

K = TypeVar("K", bound=str)


class Tagged(
    msgspec.Struct,
    Generic[K],
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="kind",
):
    """The base of each kind's Struct (declared with ``tag="<kind>"``); ``K`` is the
    Literal of the kinds."""

    @property
    def kind(self) -> K:
        """The table's ``kind``."""
        tag = self.__struct_config__.tag
        assert isinstance(tag, str)
        return cast(K, tag)
