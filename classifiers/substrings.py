"""Which of a fixed set of strings occur in a text, read off the text's words (pure)

The rules' prefilters (``breach.BreachRule.needs``, the cues' words) ask ``word in text`` for a few
hundred words per mail; each test scans the whole text (~1 us per KB), which made the breach prefilter
alone a tenth of triage. A string without white space can only occur inside one white-space-separated
token of the text, and mails share most of their tokens: ``SubstringIndex.present`` answers all the
strings at once from the text's distinct tokens, each token's answer worked out once per process and
kept (up to ``MAX_KEPT`` tokens). It answers exactly what ``word in text`` answers, for every string.

Pure module: no I/O, no clock, no environment (the kept answers are a cache of a pure function).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["MAX_KEPT", "SubstringIndex"]

MAX_KEPT = 50_000  # tokens whose answer is kept (~6 MB); the cache starts afresh beyond it
_LONG = 100  # longer tokens (base64, URLs) are worked out each time, not kept


class SubstringIndex:
    """A fixed set of strings; ``present(text)`` is the frozenset of those that occur in ``text``."""

    def __init__(self, strings: Iterable[str]) -> None:
        unique = sorted(set(strings))
        # a string with white space: each of its parts occurs in the text first (a cheap test)
        self._spaced = tuple((s, frozenset(s.split())) for s in unique if _has_space(s) or not s)
        words = sorted({s for s in unique if not _has_space(s)} | _parts(self._spaced))
        by_pair: dict[str, list[str]] = {}
        for word in words:
            if len(word) > 1:
                by_pair.setdefault(word[:2], []).append(word)
        self._by_pair = {pair: tuple(group) for pair, group in by_pair.items()}
        self._single = tuple(word for word in words if len(word) == 1)
        self._seen: set[str] = set()  # tokens worked out, with or without a string in them
        self._found: dict[str, frozenset[str]] = {}  # those with: the strings they hold

    def present(self, text: str, tokens: Sequence[str] | None = None) -> frozenset[str]:
        """The strings that occur in ``text`` (``s in text`` for each), and maybe parts of them (each
        one a string of the set or not, in the answer only if it occurs). ``tokens``: ``text.split()``,
        when the caller has it."""
        tokens = text.split() if tokens is None else tokens
        # a reset replaces the two (never empties them): these stay whole for this call
        seen, kept = self._seen, self._found
        found: set[str] = set()
        if not seen.issuperset(tokens):
            found.update(self._learn(set(tokens) - seen))
        for token in kept.keys() & tokens:
            found.update(kept[token])
        found.update(s for s, parts in self._spaced if found.issuperset(parts) and s in text)
        return frozenset(found)

    def _learn(self, new: set[str]) -> set[str]:
        """The strings in the ``new`` tokens; each token's answer is kept, but for long ones."""
        if len(self._seen) + len(new) > MAX_KEPT:
            self._seen, self._found = set(), {}
        found: set[str] = set()
        for token in new:
            contained = self._contained(token)
            found.update(contained)
            if len(token) <= _LONG:
                self._remember(token, contained)
        return found

    def _remember(self, token: str, contained: frozenset[str]) -> None:
        if contained:
            self._found[token] = contained
        self._seen.add(token)

    def _contained(self, token: str) -> frozenset[str]:
        """The strings without white space that occur in ``token`` (which has none): each starts
        with one of the token's character pairs, or is one character."""
        by_pair = self._by_pair
        pairs = {token[i : i + 2] for i in range(len(token) - 1)}
        out = {s for pair in pairs & by_pair.keys() for s in by_pair[pair] if s in token}
        out.update(s for s in self._single if s in token)
        return frozenset(out)


def _parts(spaced: Iterable[tuple[str, frozenset[str]]]) -> set[str]:
    return {part for _, parts in spaced for part in parts}


def _has_space(s: str) -> bool:
    return any(c.isspace() for c in s)
