"""A regex searched only from the positions where a match can start (pure)

``re`` tries a pattern at every position of the text. When the pattern starts with a literal or
a character class, it first skips, in C, to a position holding one of the characters a match can
start with; a pattern that starts with ``\\b`` (every cue does) gets no such skip, so each of
its dozens of branches is tried at every position of every mail.

``Gated`` restores the skip: the characters a match can start with are read off the parsed
pattern, and the gate is ``[those](?<=(?=(pattern)).)``: it stops only at such a character,
looks back one character, and there runs the whole pattern as a lookahead whose group 1 holds
the match. The lookahead takes the first match the pattern finds at that position, as ``search``
does, and positions are tried left to right, so the gate finds what ``search`` finds.

When the pattern's start cannot be read (a construct not handled below, a class that is
negated, a start that can be any word character), ``Gated`` searches the pattern itself.

Pure module: no I/O, no clock, no environment.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["Gated", "start_class"]

_NO_GAIN = object()  # a start that can be (nearly) any character: no gate


class _Unreadable(Exception):
    """The pattern holds a construct whose first characters are not worked out here."""


def start_class(source: str, flags: int = 0) -> str | None:
    """The character class (``[...]`` body) of the characters a match of the pattern ``source``
    can start with, or None when there is none worth a gate (unreadable, empty matches, any
    character)."""
    try:
        from re import _constants as c  # type: ignore[attr-defined]
        from re import _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(source, flags)
        items, nullable = _first_of_sequence(list(parsed), c)
    except (_Unreadable, ImportError, AttributeError, re.error):
        return None
    if nullable or not items or _NO_GAIN in items:
        return None
    return "".join(sorted(str(item) for item in items))


def _first_of_sequence(sequence: list[tuple[Any, Any]], c: Any) -> tuple[set[object], bool]:
    """(class items a match of the sequence can start with, whether it can match empty)."""
    found: set[object] = set()
    for op, av in sequence:
        items, nullable = _first_of_item(op, av, c)
        found |= items
        if not nullable:
            return found, False
    return found, True


def _first_of_item(op: Any, av: Any, c: Any) -> tuple[set[object], bool]:
    if op is c.LITERAL:
        return {re.escape(chr(av))}, False
    if op is c.IN:
        return _first_of_class(av, c), False
    if op is c.SUBPATTERN:
        return _first_of_sequence(list(av[-1]), c)
    if op is c.ATOMIC_GROUP:
        return _first_of_sequence(list(av), c)
    if op is c.BRANCH:
        found: set[object] = set()
        nullable = False
        for branch in av[1]:
            items, empty = _first_of_sequence(list(branch), c)
            found |= items
            nullable = nullable or empty
        return found, nullable
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        low, _high, body = av
        items, empty = _first_of_sequence(list(body), c)
        return items, empty or low == 0
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return set(), True  # zero width: the next item starts the match
    raise _Unreadable(str(op))


_CATEGORIES = {"CATEGORY_DIGIT": r"\d", "CATEGORY_SPACE": r"\s"}


def _first_of_class(items: list[tuple[Any, Any]], c: Any) -> set[object]:
    found: set[object] = set()
    for op, av in items:
        if op is c.LITERAL:
            found.add(re.escape(chr(av)))
        elif op is c.RANGE:
            found.add(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif op is c.CATEGORY and getattr(av, "name", "") in _CATEGORIES:
            found.add(_CATEGORIES[av.name])  # Unicode digits and spaces too, as the pattern has
        elif op is c.CATEGORY:
            found.add(_NO_GAIN)  # \w and the negated categories: about any character
        else:
            raise _Unreadable(str(op))  # NEGATE and the like
    return found


class Gated:
    """A pattern (source and flags, or compiled), searched from the positions where a match can
    start (see the module). Compiled on first use: a one-mail run uses few of the breach rules."""

    __slots__ = ("_compiled", "flags", "source")

    def __init__(self, pattern: str | re.Pattern[str], flags: int = 0) -> None:
        if isinstance(pattern, re.Pattern):
            self.source, self.flags = pattern.pattern, pattern.flags
        else:
            self.source, self.flags = pattern, flags
        self._compiled: tuple[re.Pattern[str], int] | None = None  # (regex, group of the match)

    def _compile(self) -> tuple[re.Pattern[str], int]:
        starts = start_class(self.source, self.flags)
        if starts is None:
            self._compiled = (re.compile(self.source, self.flags), 0)
        else:
            gate = f"[{starts}](?<=(?=({self.source})).)"
            self._compiled = (re.compile(gate, self.flags | re.DOTALL), 1)
        return self._compiled

    @property
    def gated(self) -> bool:
        """Whether the gate is in use (else the pattern is searched itself)."""
        return (self._compiled or self._compile())[1] == 1

    def find(self, text: str) -> tuple[int, str] | None:
        """Where the pattern's first match in ``text`` starts and its text (what ``search``
        finds), or None."""
        regex, group = self._compiled or self._compile()
        match = regex.search(text)
        return (match.start(), match.group(group)) if match else None

    def first(self, text: str) -> str:
        """The text of the pattern's first match in ``text``, "" if none."""
        found = self.find(text)
        return found[1] if found else ""
