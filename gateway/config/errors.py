"""A configuration that cannot be used, said as the operator wrote it: file, key, reason."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from gateway.domain.validation import describe

__all__ = ["ConfigError", "refused"]


class ConfigError(Exception):
    """The configuration is invalid; the message names the file, the key and the reason."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}")
        self.file = file
        self.key = key
        self.reason = reason


def refused(error: msgspec.ValidationError, file: str, origins: Mapping[str, str]) -> ConfigError:
    """The :class:`ConfigError` of a document msgspec refused.

    ``origins`` maps a ``section.key`` to the environment variable that set it: such a
    key is blamed on the variable, not on ``file``.
    """
    key, reason = describe(error, unknown_as_key=True)
    where = origins.get(key.split("[")[0], file)
    return ConfigError(where, key or "-", reason.replace("`", ""))
