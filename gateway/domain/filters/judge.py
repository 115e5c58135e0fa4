"""The ingress's verdicts: the content filters in force, compiled once, judging each event
of a batch before the fan-out statement stores it.

The statement takes a verdict for a subscriber only while the subscriber's filter is
still the version the verdict was made by (``insert_events`` in queries.sql); where there
is none, PostgreSQL evaluates the filter itself. So a verdict may always be left out,
and is wherever the ingress cannot be sure to decide as PostgreSQL would: a body that
orjson does not read (PostgreSQL decides what it makes of it), a float compared as a
number (:class:`~gateway.domain.filters.compiled.Unsure`), a filter this code does not
compile to the path that PostgreSQL holds, and a body that PostgreSQL might read as
``null`` where orjson read it (:func:`reads_alike`) when that would change a verdict: it
would not when no filter holds on the body as read and none could on ``null``.

Most filters route by a field's value (``shipping_address.country_code $in [DE, AT]``);
such a test, standing alone or first in an ``$and``, is the filter's *gate*: the filter
can only hold when the field holds one of those strings. The filters of one source are
indexed by their gates, so an event costs one look-up of each gated field, whatever the
number of filters, and only the filters whose gate it passes are evaluated in full.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import orjson

from gateway.domain.filters.compiled import Check, Reach, Unsure, compile_check, reach_of
from gateway.domain.filters.syntax import All, AnyOf, Filter, Key, Step, Test
from gateway.domain.operational import takes_source

__all__ = [
    "NONE_HOLD",
    "FilterInForce",
    "Judge",
    "Verdicts",
    "gate",
    "may_hold_on_null",
    "reads_alike",
]

_NUMERIC = bytes(
    ord("0") if chr(c).isdigit() and c < 128 else ord("e") if chr(c) in "eE" else ord(" ")
    for c in range(256)
)
_SMALL = 15_000  # a body this short holds no number numeric cannot (see reads_alike)


@dataclasses.dataclass(frozen=True, slots=True)
class FilterInForce:
    """A subscriber's filter as it stands, which the ingress judges events by."""

    subscriber_id: str
    version: int
    sources: tuple[str, ...]
    node: Filter | None  # None: no verdicts for it (PostgreSQL evaluates it)


class Verdicts(NamedTuple):
    """A judge's verdicts on one event: the positions (in :attr:`Judge.subscriber_ids`)
    of the filters that hold on it, and of those it could not decide. Every other filter
    it judged does not hold."""

    holding: tuple[int, ...]
    undecided: tuple[int, ...]


NONE_HOLD = Verdicts((), ())


class Judge:
    """Verdicts on events by the filters in force when it was made.

    :attr:`subscriber_ids` and :attr:`versions` are what the verdicts were made by, in the
    order of an event's verdicts; :attr:`outdated` is set when the fan-out finds that
    they are no longer the filters in force.
    """

    def __init__(self, filters: Sequence[FilterInForce] = ()) -> None:
        self.subscriber_ids = [f.subscriber_id for f in filters]
        self.versions = [f.version for f in filters]
        self.outdated = False
        self._filters = tuple(filters)
        self._by_source: dict[str, _SourceFilters | None] = {}

    def verdicts(
        self,
        source: str,
        event_id: str,
        event_type: str | None,
        headers_json: str,
        body: bytes,
        body_view: str | None,
    ) -> Verdicts:
        """The verdicts of the filters that judge ``source``'s events on this one."""
        if source in self._by_source:
            filters = self._by_source[source]
        else:
            filters = self._by_source[source] = _SourceFilters.of(self._filters, source)
        if filters is None:
            return NONE_HOLD
        if body_view is not None:
            content = orjson.loads(body_view)
        else:
            try:
                content = orjson.loads(body)
            except orjson.JSONDecodeError:
                return filters.undecided
        document = _Document(body=content, type=event_type, source=source, id=event_id)
        document.headers_json = headers_json
        verdicts = filters.judge(document)
        if body_view is None and (verdicts is not NONE_HOLD or filters.null_may_hold):
            return verdicts if reads_alike(body) else filters.undecided
        return verdicts


def reads_alike(body: bytes) -> bool:
    """Whether PostgreSQL reads ``body``, which orjson read, as the same JSON.

    What orjson reads and ``jsonb`` refuses: a ``\\u0000``, and numbers beyond
    ``numeric`` (more than 16,383 digits after the point, or 131,072 before it), which
    need an exponent of four digits or more, or a body longer than 15,000 bytes with a
    thousand digits in a row. Either is taken as a sign (also in a string): no verdict.
    """
    if b"\\" in body and b"\\u0000" in body:
        return False
    numeric = body.translate(_NUMERIC, b"+-")
    if b"e0000" in numeric:
        return False
    return len(body) <= _SMALL or b"0" * 1000 not in numeric


class _Document(dict[str, Any]):
    """An event's document whose headers are read only if a filter looks at them."""

    __slots__ = ("headers_json",)
    headers_json: str

    def __missing__(self, key: str) -> Any:
        if key != "headers":
            raise KeyError(key)
        headers = self["headers"] = orjson.loads(self.headers_json)
        return headers


_Judged = tuple[tuple[int, Check], ...]


@dataclasses.dataclass(frozen=True, slots=True)
class _SourceFilters:
    """The filters that judge one source's events, indexed by their gates."""

    gates: tuple[tuple[Reach, Mapping[str, _Judged]], ...]
    others: _Judged
    never: tuple[int, ...]  # the filters it may not judge by: always undecided
    undecided: Verdicts  # all of them undecided
    null_may_hold: bool  # whether one of them may hold on a null body

    @classmethod
    def of(cls, filters: Sequence[FilterInForce], source: str) -> _SourceFilters | None:
        gated: dict[tuple[str, tuple[Step, ...]], dict[str, list[tuple[int, Check]]]] = {}
        others: list[tuple[int, Check]] = []
        never: list[int] = []
        judging: list[int] = []
        null_may_hold = False
        for at, one in enumerate(filters):
            if not takes_source(one.sources, source):
                continue
            judging.append(at)
            if one.node is None:
                never.append(at)
                continue
            null_may_hold = null_may_hold or may_hold_on_null(one.node)
            check = compile_check(one.node)
            found = gate(one.node)
            if found is None:
                others.append((at, check))
                continue
            path, texts = found
            table = gated.setdefault(path, {})
            for text in texts:
                table.setdefault(text, []).append((at, check))
        if not judging:
            return None
        gates = tuple(
            (reach_of(root, steps), {text: tuple(judged) for text, judged in table.items()})
            for (root, steps), table in gated.items()
        )
        undecided = Verdicts((), tuple(judging))
        return cls(gates, tuple(others), tuple(never), undecided, null_may_hold)

    def judge(self, document: Mapping[str, Any]) -> Verdicts:
        holding: list[int] = []
        undecided = list(self.never)
        judged: set[int] = set()
        for reach, table in self.gates:
            for item in reach(document):
                for value in item if isinstance(item, list) else (item,):
                    if isinstance(value, str) and value in table:
                        for at, check in table[value]:
                            if at not in judged:
                                judged.add(at)
                                _decide(at, check, document, holding, undecided)
        for at, check in self.others:
            _decide(at, check, document, holding, undecided)
        if holding or undecided:
            return Verdicts(tuple(holding), tuple(undecided))
        return NONE_HOLD


def _decide(
    at: int,
    check: Check,
    document: Mapping[str, Any],
    holding: list[int],
    undecided: list[int],
) -> None:
    try:
        if check(document):
            holding.append(at)
    except Unsure:
        undecided.append(at)


def gate(node: Filter) -> tuple[tuple[str, tuple[Step, ...]], frozenset[str]] | None:
    """A field and the strings of which it must hold one for ``node`` to hold, if any:
    an equality to strings (``$eq``, ``$in`` a list of strings); the first of an
    ``$and`` that has one; an ``$or`` whose parts all have one on the same field."""
    if isinstance(node, Test):
        if node.op == "$eq" and isinstance(node.operand, str):
            return (node.root, node.steps), frozenset((node.operand,))
        texts = node.operand if node.op == "$in" and isinstance(node.operand, tuple) else ()
        if texts and all(isinstance(v, str) for v in texts):
            return (node.root, node.steps), frozenset(texts)  # type: ignore[arg-type]
        return None
    if isinstance(node, All):
        return next((g for part in node.parts if (g := gate(part)) is not None), None)
    if isinstance(node, AnyOf):
        gates = [gate(part) for part in node.parts]
        paths = {g[0] for g in gates if g is not None}
        if None in gates or len(paths) != 1:
            return None
        return paths.pop(), frozenset().union(*(g[1] for g in gates if g is not None))
    return None


def may_hold_on_null(node: Filter) -> bool:
    """Whether ``node`` may hold on an event whose body is ``null`` (a path through a
    field of the body reaches nothing in it, so a test that needs a value fails)."""
    if isinstance(node, Test):
        if node.root != "body" or node.op in ("$neq", "$nin"):
            return True
        if node.op == "$exist" and not node.operand:
            return True
        return not any(isinstance(step, Key) for step in node.steps)
    if isinstance(node, All):
        return all(may_hold_on_null(part) for part in node.parts)
    if isinstance(node, AnyOf):
        return any(may_hold_on_null(part) for part in node.parts)
    return True
