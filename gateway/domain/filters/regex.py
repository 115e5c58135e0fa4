"""``$regex``: one small dialect, read the same by PostgreSQL and by the gateway.

A filter's pattern is evaluated by PostgreSQL (``like_regex``, its ARE engine) when
events are routed and by Python when an event's page explains why it was not; Convoy's
users wrote theirs for Go's RE2. The three differ (``\\b``, ``\\d`` beyond ASCII, ``.``
and newlines, ``$`` before a final newline, POSIX classes, lazy quantifiers), so a
pattern is parsed here into a tree of the few constructs all read alike, and each
evaluator gets that tree, not the text:

- literal characters; ``\\`` before a punctuation character makes it literal; ``\\n``
  ``\\t`` ``\\r`` ``\\f`` ``\\v``;
- ``.`` (any character, a newline included); ``[...]`` and ``[^...]`` with single
  characters and ranges; ``\\d`` ``\\w`` ``\\s`` (ASCII: ``[0-9]``, ``[A-Za-z0-9_]``,
  space and ``\\t\\n\\r\\f\\v``) and their negations ``\\D`` ``\\W`` ``\\S``;
- ``^`` and ``$``: the start and the end of the text (never of a line);
- ``(...)`` and ``(?:...)``, ``|``; ``*`` ``+`` ``?`` ``{n}`` ``{n,}`` ``{n,m}`` (n, m at
  most 100).

Anything else is refused with its position. A pattern is searched for (unanchored), case
sensitive. Python never backtracks over it: :class:`Matcher` runs it as an automaton, in
time linear in the text, so a pattern cannot make an explanation (or the gateway) spin.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Iterable

__all__ = [
    "MAX_COUNT",
    "MAX_LENGTH",
    "MAX_SIZE",
    "Matcher",
    "Pattern",
    "RegexError",
    "literal_are",
    "parse_regex",
]

MAX_LENGTH = 256
MAX_COUNT = 100
MAX_SIZE = 1000
"""The most characters a pattern may stand for once its counted repeats are spelled out
(``a{3}`` is three): it keeps PostgreSQL's compiled pattern well within its limits."""
_MAX_DEPTH = 20
_MAX_CHAR = 0x10FFFF
_PUNCTUATION = frozenset(string.punctuation)
_CONTROL = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}
_DIGIT = ((ord("0"), ord("9")),)
_WORD = ((ord("0"), ord("9")), (ord("A"), ord("Z")), (ord("_"), ord("_")), (ord("a"), ord("z")))
_SPACE = tuple((ord(c), ord(c)) for c in " \t\n\r\f\v")
_CLASSES = {"d": _DIGIT, "w": _WORD, "s": _SPACE}


class RegexError(ValueError):
    """A pattern outside the dialect: what, and where (0-based)."""

    def __init__(self, position: int, message: str) -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position
        self.message = message


@dataclasses.dataclass(frozen=True, slots=True)
class Chars:
    """One character out of ``ranges`` (inclusive code points), or out of none of them."""

    ranges: tuple[tuple[int, int], ...]
    negated: bool = False

    def __contains__(self, char: str) -> bool:
        code = ord(char)
        return any(lo <= code <= hi for lo, hi in self.ranges) != self.negated


@dataclasses.dataclass(frozen=True, slots=True)
class Anchor:
    at_end: bool  # False: ``^``, True: ``$``


@dataclasses.dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Node, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Alt:
    branches: tuple[Node, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Repeat:
    item: Node
    least: int
    most: int | None  # None: no upper bound


Node = Chars | Anchor | Seq | Alt | Repeat


@dataclasses.dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed pattern: its text as written and its tree."""

    text: str
    tree: Node

    def are(self) -> str:
        """The pattern for PostgreSQL's ``like_regex`` (with ``flag "s"``)."""
        return _are(self.tree)


def parse_regex(text: str) -> Pattern:
    """Parse ``text``; :class:`RegexError` when it is outside the dialect or too big."""
    if not text:
        raise RegexError(0, "an empty pattern matches every text; leave the test out")
    if len(text) > MAX_LENGTH:
        raise RegexError(MAX_LENGTH, f"a pattern has at most {MAX_LENGTH} characters")
    parser = _Parser(text)
    tree = parser.alternation(0)
    if parser.pos < len(text):  # only a stray ")" stops the top level early
        raise RegexError(parser.pos, "unbalanced )")
    if _size(tree) > MAX_SIZE:
        raise RegexError(0, f"the pattern is too big once its repeats are counted (> {MAX_SIZE})")
    return Pattern(text, tree)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def fail(self, message: str, at: int | None = None) -> RegexError:
        return RegexError(self.pos if at is None else at, message)

    def alternation(self, depth: int) -> Node:
        if depth > _MAX_DEPTH:
            raise self.fail(f"groups nest at most {_MAX_DEPTH} deep")
        branches = [self.sequence(depth)]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence(depth))
        return branches[0] if len(branches) == 1 else Alt(tuple(branches))

    def sequence(self, depth: int) -> Node:
        start = self.pos
        items: list[Node] = []
        while self.peek() not in ("", "|", ")"):
            items.append(self.repeat(depth))
        if not items:
            raise self.fail("an empty alternative (or group) matches nothing useful", start)
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def repeat(self, depth: int) -> Node:
        start = self.pos
        item = self.atom(depth)
        bounds = self.quantifier()
        if bounds is None:
            return item
        if isinstance(item, Anchor):
            raise self.fail("^ and $ cannot be repeated", start)
        if self.peek() == "?":
            raise self.fail("lazy quantifiers are not supported")
        if self.peek() in ("*", "+") or (self.peek() == "{" and self._counted_ahead()):
            raise self.fail("a repeat cannot be repeated directly; use a group")
        return Repeat(item, *bounds)

    def quantifier(self) -> tuple[int, int | None] | None:
        char = self.peek()
        if char in ("*", "+", "?"):
            self.pos += 1
            return {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
        if char != "{":
            return None
        start = self.pos
        close = self.text.find("}", start)
        body = self.text[start + 1 : close] if close > 0 else ""
        least, comma, most = body.partition(",")
        if not least.isdigit() or not (most.isdigit() or most == "") or not body.isascii():
            raise self.fail("{ starts a count {n}, {n,} or {n,m}; write \\{ for the character")
        self.pos = close + 1
        low, high = int(least), (int(most) if most else None)
        if not comma:
            high = low
        if low > MAX_COUNT or (high is not None and high > MAX_COUNT):
            raise self.fail(f"a count is at most {MAX_COUNT}", start)
        if high is not None and high < low:
            raise self.fail("a count {n,m} needs n <= m", start)
        return low, high

    def _counted_ahead(self) -> bool:
        close = self.text.find("}", self.pos)
        return close > 0 and self.text[self.pos + 1 : close].replace(",", "").isdigit()

    def atom(self, depth: int) -> Node:
        char = self.peek()
        start = self.pos
        self.pos += 1
        if char == "(":
            if self.text.startswith("?:", self.pos):
                self.pos += 2
            elif self.peek() == "?":
                raise self.fail("only (...) and (?:...) groups are supported", start)
            inner = self.alternation(depth + 1)
            if self.peek() != ")":
                raise self.fail("unbalanced (", start)
            self.pos += 1
            return inner
        if char == "[":
            return self.bracket(start)
        if char == ".":
            return Chars((), negated=True)
        if char in ("^", "$"):
            return Anchor(at_end=char == "$")
        if char == "\\":
            return self.escape(start, in_bracket=False)
        if char in ("*", "+", "?"):
            raise self.fail(f"{char} repeats nothing", start)
        if char in ("{", "}", "]"):
            raise self.fail(f"write \\{char} for the character {char}", start)
        return _single(char)

    def escape(self, start: int, *, in_bracket: bool) -> Chars:
        char = self.peek()
        if not char:
            raise self.fail("a pattern cannot end with \\", start)
        self.pos += 1
        if char in _PUNCTUATION:
            return _single(char)
        if char in _CONTROL:
            return _single(_CONTROL[char])
        if char.lower() in _CLASSES:
            if in_bracket and char.isupper():
                raise self.fail(f"\\{char} cannot stand inside [...]", start)
            return Chars(_CLASSES[char.lower()], negated=char.isupper())
        raise self.fail(f"\\{char} is not supported (the dialects read it differently)", start)

    def bracket(self, start: int) -> Chars:
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while True:
            char = self.peek()
            if not char:
                raise self.fail("unbalanced [", start)
            if char == "]" and not first:
                self.pos += 1
                break
            if char == "]":
                raise self.fail("an empty [] matches nothing; write \\] for the character")
            if char == "[":
                raise self.fail("write \\[ for the character [ inside [...]")
            low = self.bracket_item(first)
            first = False
            if self.peek() == "-" and self.text[self.pos + 1 : self.pos + 2] not in ("]", ""):
                dash = self.pos
                self.pos += 1
                high = self.bracket_item(False)
                if not (_is_single(low) and _is_single(high)):
                    raise self.fail("a range goes from one character to another", dash)
                lo, hi = low.ranges[0][0], high.ranges[0][0]
                if hi < lo:
                    raise self.fail("a range goes from the lower character to the higher", dash)
                ranges.append((lo, hi))
            else:
                ranges.extend(low.ranges)
        return Chars(tuple(sorted(set(ranges))), negated)

    def bracket_item(self, first: bool) -> Chars:
        start = self.pos
        char = self.peek()
        self.pos += 1
        if char == "\\":
            return self.escape(start, in_bracket=True)
        if char == "-" and not first and self.peek() != "]":
            raise self.fail("write \\- for the character - inside [...]", start)
        return _single(char)


def _single(char: str) -> Chars:
    return Chars(((ord(char), ord(char)),))


def _is_single(chars: Chars) -> bool:
    return not chars.negated and len(chars.ranges) == 1 and chars.ranges[0][0] == chars.ranges[0][1]


def _size(node: Node) -> int:
    if isinstance(node, Chars | Anchor):
        return 1
    if isinstance(node, Seq | Alt):
        return sum(_size(n) for n in (node.items if isinstance(node, Seq) else node.branches))
    return _size(node.item) * (node.least + 1 if node.most is None else max(node.most, 1))


# PostgreSQL: every character but an ASCII letter or digit is written as a \u escape, so
# nothing in the text is read as syntax (in [...] either), whatever the character.


def _char_are(code: int) -> str:
    char = chr(code)
    if char.isascii() and char.isalnum():
        return char
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _chars_are(node: Chars) -> str:
    if node.negated and not node.ranges:
        return "."
    if not node.negated and len(node.ranges) == 1 and node.ranges[0][0] == node.ranges[0][1]:
        return _char_are(node.ranges[0][0])
    inside = "".join(
        _char_are(lo) if lo == hi else f"{_char_are(lo)}-{_char_are(hi)}" for lo, hi in node.ranges
    )
    return f"[{'^' if node.negated else ''}{inside}]"


def _are(node: Node) -> str:
    if isinstance(node, Chars):
        return _chars_are(node)
    if isinstance(node, Anchor):
        return "$" if node.at_end else "^"
    if isinstance(node, Seq):
        return "".join(_are(n) for n in node.items)
    if isinstance(node, Alt):
        return "(?:" + "|".join(_are(n) for n in node.branches) + ")"
    inner = _are(node.item)
    if not (isinstance(node.item, Chars) or inner.startswith("(?:")):
        inner = f"(?:{inner})"
    if (node.least, node.most) == (0, None):
        count = "*"
    elif (node.least, node.most) == (1, None):
        count = "+"
    elif (node.least, node.most) == (0, 1):
        count = "?"
    elif node.most is None:
        count = f"{{{node.least},}}"
    elif node.most == node.least:
        count = f"{{{node.least}}}"
    else:
        count = f"{{{node.least},{node.most}}}"
    return inner + count


def literal_are(text: str) -> str:
    """``text`` as a PostgreSQL pattern that matches exactly it."""
    return "".join(_char_are(ord(c)) for c in text)


# Python: a Thompson automaton, run as a DFA built lazily (each set of states met, and
# each step out of it, is computed once and remembered), so a search costs one
# dictionary look-up a character, however the pattern is written.

_CHAR, _SPLIT, _START, _END, _MATCH = range(5)


class Matcher:
    """Searches texts for one :class:`Pattern` in time linear in the text."""

    _CACHE_LIMIT = 4096

    def __init__(self, pattern: Pattern) -> None:
        self._kind: list[int] = []
        self._sets: list[Chars | None] = []
        self._next: list[list[int]] = []
        self._start = self._build(pattern.tree, self._state(_MATCH))
        self._steps: dict[tuple[frozenset[int], str], frozenset[int]] = {}
        self._first = self._closure([self._start], at_start=True)
        self._later = self._closure([self._start])

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text``."""
        current = self._first
        for char in text:
            if self._matched(current):
                return True
            key = (current, char)
            following = self._steps.get(key)
            if following is None:
                if len(self._steps) > self._CACHE_LIMIT:
                    self._steps.clear()
                following = self._steps[key] = self._step(current, char)
            current = following
        return self._matched(self._closure(current, at_start=not text, at_end=True))

    def _state(self, kind: int, chars: Chars | None = None, *targets: int) -> int:
        self._kind.append(kind)
        self._sets.append(chars)
        self._next.append(list(targets))
        return len(self._kind) - 1

    def _build(self, node: Node, then: int) -> int:
        """States for ``node`` that continue at ``then``; returns its entry."""
        if isinstance(node, Chars):
            return self._state(_CHAR, node, then)
        if isinstance(node, Anchor):
            return self._state(_END if node.at_end else _START, None, then)
        if isinstance(node, Seq):
            for item in reversed(node.items):
                then = self._build(item, then)
            return then
        if isinstance(node, Alt):
            return self._state(_SPLIT, None, *(self._build(b, then) for b in node.branches))
        if node.most is None:  # a loop after the copies that must be there
            entry = self._state(_SPLIT)
            self._next[entry] = [self._build(node.item, entry), then]
        else:  # the optional copies, each one leading to the next
            entry = then
            for _ in range(node.most - node.least):
                entry = self._state(_SPLIT, None, self._build(node.item, entry), then)
        for _ in range(node.least):
            entry = self._build(node.item, entry)
        return entry

    def _closure(
        self, states: Iterable[int], *, at_start: bool = False, at_end: bool = False
    ) -> frozenset[int]:
        """The states reachable from ``states`` without reading a character; ``^`` and
        ``$`` are passed only at the start and at the end of the text."""
        seen: set[int] = set()
        todo = list(states)
        while todo:
            state = todo.pop()
            if state in seen:
                continue
            seen.add(state)
            kind = self._kind[state]
            if kind == _SPLIT or (kind == _START and at_start) or (kind == _END and at_end):
                todo.extend(self._next[state])
        return frozenset(seen)

    def _step(self, current: frozenset[int], char: str) -> frozenset[int]:
        moved = [
            self._next[s][0]
            for s in current
            if self._kind[s] == _CHAR and char in self._sets[s]  # type: ignore[operator]
        ]
        return self._closure(moved) | self._later

    def _matched(self, states: frozenset[int]) -> bool:
        return any(self._kind[s] == _MATCH for s in states)
