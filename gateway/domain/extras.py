"""Optional extras: a feature whose library is not installed says what to install."""

from __future__ import annotations

import importlib.util

__all__ = ["missing_extra"]


def missing_extra(module: str, extra: str, feature: str) -> str | None:
    """What to install for ``feature`` when ``module`` (of the ``extra``) is not installed;
    ``None`` when it is."""
    if importlib.util.find_spec(module) is not None:
        return None
    return f"{feature} needs {module}: pip install 'webhook-gateway[{extra}]'"
