"""Gated finds what ``search`` finds, from the characters a match can start with."""

from __future__ import annotations

import random
import re

import pytest

from classifiers import breach, cues
from classifiers.gated import Gated, start_class


@pytest.mark.parametrize(
    ("pattern", "inside", "outside"),
    [
        (r"\bcat", "c", "atx "),
        (r"\b(?:cat|dog)s?\b", "cd", "sat"),
        (r"(?:the\s+)?(?:cat|dog)", "cdt", "hs "),
        (r"\b(?:\d{2,}|dozens)\s+users", "1٣d", "ou"),  # Unicode digits, as the pattern has
        (r"^[ \t]*(?:--|regards)", " \t-r", "e\n"),
        (r"(?<!no\s)(?=\w)x+", "x", "n"),
        (r"[a-c]y|z", "abcz", "dy"),
        (r"(?>ab|cd)e", "ac", "bde"),
        (r"(a)\1", "a", "1"),
        (r"(?:\w+\s+)?down", None, None),  # a start that can be any word character: no gain
        (r"x?", None, None),  # matches empty: no gate
        (r"[^a]b", None, None),  # a negated class is not read
        (r".b", None, None),
    ],
)
def test_start_class(pattern: str, inside: str | None, outside: str | None) -> None:
    starts = start_class(pattern)
    if inside is None or outside is None:
        assert starts is None
        return
    assert starts is not None
    gate = re.compile(f"[{starts}]")
    assert all(gate.match(c) for c in inside) and not any(gate.match(c) for c in outside)


PATTERNS = [
    r"\bcat",
    r"\b(?:cat|category|dog)s?\b",
    r"\b(?:the\s+)?(?:\w+\s+)?(?:cat|dog)\s+(?:is|was)\s+down\b",
    r"\b(?:\d{2,}|dozens\s+of)\s+users\b",
    r"^[ \t]*(?:--\s*$|regards,?\s*$)",
    r"(?<!no\s)\bcat(?:s|\s+food)?",
    r"\b(?:a|ab|abc)(?=c)",
    r"x?",
]
ALPHABET = ["cat", "cats", "dog", "is", "was", "down", "the", "no", " ", "  ", "\n", "12",
            "٣٣", "dozens", "of", "users", "--", "regards", ",", "a", "ab", "abc", "c", "food",
            "\t", "x", "İ", "category"]  # fmt: skip


def test_find_is_search_on_random_texts() -> None:
    """Over random texts, for gated and ungated patterns alike: the same start and text."""
    rng = random.Random(11)
    compiled = [re.compile(p, re.MULTILINE) for p in PATTERNS]
    gated = [Gated(p) for p in compiled]
    assert sum(g.gated for g in gated) == 6  # the last two cannot be gated
    for _ in range(3_000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30)))
        for pattern, gate in zip(compiled, gated, strict=True):
            match = pattern.search(text)
            assert gate.find(text) == (match and (match.start(), match.group(0))), (pattern, text)


def test_the_hot_patterns_are_gated() -> None:
    """Every cue pattern but one (its start is any word) and every breach rule is gated, so a
    change to a pattern or to Python's re that turns the gate off shows here, not as a slowdown."""
    cue_patterns = [
        cues._IMPACT_MEDIUM, cues._IMPACT_LOW, cues._URGENCY_HIGH, cues._URGENCY_LOW,
        cues._URGENCY_MEDIUM, cues._HARD_FAULT, cues._FAULT, cues._ASK,
        *(part for part, _ in cues._IMPACT_HIGH.parts),
    ]  # fmt: skip
    assert [g.gated for g in cue_patterns].count(False) == 1
    assert all(g.gated for _, g, _ in breach._WHOLE)
    assert all(a is None or a.gated for _, _, a in breach._WHOLE)
