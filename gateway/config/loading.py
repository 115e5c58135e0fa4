"""Read the configuration: the TOML file, ``${VAR}`` in its strings, then
``GATEWAY_<SECTION>__<KEY>`` overrides; validated once, by decoding into :class:`Config`."""

from __future__ import annotations

import os
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from gateway.config.errors import ConfigError, refused
from gateway.config.schema import Config

__all__ = ["ENV_PREFIX", "load_config"]

ENV_PREFIX = "GATEWAY_"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def load_config(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Load, merge and validate the configuration.

    ``path`` falls back to ``$GATEWAY_CONFIG``; with neither, built-in defaults apply.
    An invalid configuration raises :class:`ConfigError` naming the file (or the
    environment variable) and the key.
    """
    env = os.environ if env is None else env
    chosen = path if path is not None else env.get("GATEWAY_CONFIG")
    file = str(chosen) if chosen else "<defaults>"
    raw: dict[str, Any] = _read_toml(Path(chosen)) if chosen else {}
    raw = _expand(raw, env, file, "")
    origins = _apply_env(raw, env)
    raw["source_file"] = file
    try:
        return msgspec.convert(raw, Config, strict=True)
    except msgspec.ValidationError as exc:
        raise refused(exc, file, origins) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(str(path), "-", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "-", f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(str(path), "-", f"cannot be read: {exc.strerror}") from None


def _expand(value: Any, env: Mapping[str, str], file: str, key: str) -> Any:
    """Replace ``${NAME}`` in string values with the environment variable NAME.

    This keeps secrets out of the file (Kubernetes injects them from a Secret); an
    unset variable is an error, never an empty string.
    """
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(file, key or "-", f"environment variable {name} is not set")
            return env[name]

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, env, file, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, file, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Merge ``GATEWAY_SECTION__KEY`` variables into ``raw``; return key -> env var name."""
    origins: dict[str, str] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if not section or not key or section in {"sources", "subscribers", "source_file"}:
            continue
        target = raw.setdefault(section, {})
        if not isinstance(target, dict):
            continue
        target[key] = value if _is_text(section, key) else _env_value(value)
        origins[f"{section}.{key}"] = f"${name}"
    return origins


def _is_text(section: str, key: str) -> bool:
    """Whether ``section.key`` holds text only, so its env value is taken verbatim."""
    fields = {f.name: f.type for f in msgspec.structs.fields(Config)}
    section_type = fields.get(section)
    if not (isinstance(section_type, type) and issubclass(section_type, msgspec.Struct)):
        return False
    hints = typing.get_type_hints(section_type)
    if key not in hints:
        return False
    kinds = set(typing.get_args(hints[key])) or {hints[key]}
    kinds.discard(type(None))
    return bool(kinds) and all(k is str or typing.get_origin(k) is Literal for k in kinds)


def _env_value(value: str) -> Any:
    """Read an env value as a TOML value (numbers, booleans, arrays); else a plain string."""
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value
