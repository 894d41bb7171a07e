"""SubstringIndex answers ``s in text`` for every string of its set, from the text's tokens."""

from __future__ import annotations

import random

import classifiers.substrings as substrings
from classifiers.breach import BREACH_RULES, NEEDED
from classifiers.substrings import SubstringIndex

STRINGS = ["a", "ab", "b c", "c  a", "'", " ", "", "\n", "İx", "ca'b", "abcab", "x y z"]


def test_present_is_in_for_every_string() -> None:
    rng = random.Random(3)
    alphabet = "ab c\n\tİx'yz"
    strings = STRINGS + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(40)
    ]
    index = SubstringIndex(strings)
    for round_ in range(5_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        found = index.present(text) if round_ % 2 else index.present(text, text.split())
        assert {s for s in found if s in strings} == {s for s in strings if s in text}
        assert all(s in text for s in found)


def test_answers_hold_across_a_reset() -> None:
    """Beyond MAX_KEPT tokens the kept answers start afresh, and the answer is still whole."""
    index = SubstringIndex(["ab", "cd"])
    old, substrings.MAX_KEPT = substrings.MAX_KEPT, 3
    try:
        assert index.present("ab x y") == {"ab"}
        assert index.present("ab cd p q r s") == {"ab", "cd"}
        assert index.present("xab") == {"ab"}
    finally:
        substrings.MAX_KEPT = old


def test_long_tokens_are_answered_but_not_kept() -> None:
    index = SubstringIndex(["needle"])
    token = "x" * 500 + "needle"
    assert index.present(f"a {token} b") == {"needle"}
    assert token not in index._seen


def test_breach_rules_admit_what_possible_admits() -> None:
    rng = random.Random(9)
    words = [w for rule in BREACH_RULES for group in rule.needs for w in group]
    for _ in range(2_000):
        whole = " ".join(
            rng.choice(words + ["x", "the", "it's"]) for _ in range(rng.randint(0, 12))
        )
        present = NEEDED.present(whole)
        for rule in BREACH_RULES:
            assert rule.admits(present) == rule.possible(whole)
