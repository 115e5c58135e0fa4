"""Subscribers' transforms: JavaScript in a closed QuickJS, bounded per call.

:class:`TransformEngine` is the interface; :func:`read_output` says what a handler may
answer (``output.py``); ``sandbox.py`` is where the code runs, in worker processes
(``worker.py``, ``protocol.py``).
"""

from gateway.delivery.transforms.engine import TransformEngine, Unparsed
from gateway.delivery.transforms.output import Cancel, Reshaped, read_output
from gateway.delivery.transforms.sandbox import Bounds, Failure

__all__ = [
    "Bounds",
    "Cancel",
    "Failure",
    "Reshaped",
    "TransformEngine",
    "Unparsed",
    "read_output",
]
