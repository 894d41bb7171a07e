"""Tests for classifiers.phrases: the word-lookup scan finds what the regex alternation finds."""

from __future__ import annotations

import random
import re

import pytest

from classifiers.features import _GLOSSARY, _GLOSSARY_PATTERN, _translate_malay
from classifiers.labelling import _PATTERNS, KEY_PHRASES, _score
from classifiers.phrases import is_word_text, phrase_index, phrase_matches

PHRASES = ("log in", "log", "login", "account locked", "locked out", "wi fi", "fi", "a b c", "b")
CASES = [
    "log in now",  # the first alternative wins: "log in", not "log"
    "login log inbox",  # whole words only
    "account locked out",  # no overlap: "locked out" starts inside the first match
    "wi fi fi",
    "a b a b c b",
    "",
    "log",
]


def _regex(phrases: tuple[str, ...], text: str) -> list[str]:
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\b")
    return pattern.findall(text)


def _scan(phrases: tuple[str, ...], text: str) -> list[str]:
    found = phrase_matches(text.split(), phrase_index([("k", phrases)]))
    return [phrase for _, _, phrase in found.get("k", [])]


@pytest.mark.parametrize("text", CASES)
def test_scan_finds_what_findall_finds(text: str) -> None:
    assert _scan(PHRASES, text) == _regex(PHRASES, text)


def _word_texts(vocabulary: list[str], n: int) -> list[str]:
    rng = random.Random(7)  # fixed: the same texts every run
    return [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 30))) for _ in range(n)]


def test_category_scores_equal_the_regex_scores() -> None:
    words = sorted({w for ps in KEY_PHRASES.values() for p in ps for w in p.split()} | {"the", "x"})
    for text in _word_texts(words, 3000):
        expected = {c: len(set(p.findall(text))) for c, p in _PATTERNS.items() if p.search(text)}
        assert _score(text) == expected
        assert list(_score(text)) == list(expected)


def test_glossary_translation_equals_the_regex_substitution() -> None:
    words = sorted({w for src in _GLOSSARY for w in src.split()} | {"the", "x", "mels"})
    for text in _word_texts(words, 3000):
        assert _translate_malay(text) == _GLOSSARY_PATTERN.sub(
            lambda m: _GLOSSARY[m.group(1)], text
        )


@pytest.mark.parametrize(
    ("text", "ok"),
    [("a b", True), (" a b ", True), ("", True), ("a  b", False), ("a-b", False), ("A b", False)],
)
def test_word_text(text: str, ok: bool) -> None:
    assert is_word_text(text) is ok
