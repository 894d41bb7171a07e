"""Whole-phrase search on word text: what ``\\b(?:p1|p2|...)\\b`` finds, by one lookup per word (pure)

Prepared text (``features.normalise_text``) is words of a-z separated by single spaces. On such text a
regex alternation of phrases opening with ``\\b`` is tried at every character, which made the glossary
and the category rules a third of the triage time. Here each word is looked up once in an index of the
phrases' first words; only phrases starting with that word are compared, word by word.

It finds what ``re.finditer`` finds with the alternation, on word text only (``is_word_text``): matches
start at a word, the first phrase in alternation order that matches there wins, and the next match starts
after it (a phrase in the alternation matches only whole words, as ``\\b`` on both sides requires).

Pure module: no I/O, no clock, no environment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["PhraseIndex", "is_word_text", "phrase_index", "phrase_matches"]

# first word -> (key, the phrase's words, the phrase), in key order and then each key's phrase order
PhraseIndex = Mapping[str, tuple[tuple[str, tuple[str, ...], str], ...]]

_WORD_TEXT = re.compile(r"[a-z ]*")


def is_word_text(text: str) -> bool:
    """``text`` is words of a-z separated by single spaces (one space may lead or trail)."""
    return _WORD_TEXT.fullmatch(text) is not None and "  " not in text


def phrase_index(groups: Iterable[tuple[str, Sequence[str]]]) -> PhraseIndex:
    """Index of the phrases (words of a-z and single spaces) of each key, each key an alternation."""
    index: dict[str, list[tuple[str, tuple[str, ...], str]]] = {}
    for key, phrases in groups:
        for phrase in phrases:
            if not is_word_text(phrase) or not phrase.strip() or phrase != phrase.strip():
                raise ValueError(f"not a phrase of words: {phrase!r}")
            words = tuple(phrase.split(" "))
            index.setdefault(words[0], []).append((key, words, phrase))
    return {word: tuple(entries) for word, entries in index.items()}


def phrase_matches(
    words: Sequence[str], index: PhraseIndex
) -> dict[str, list[tuple[int, int, str]]]:
    """Per key with a match, its matches in ``" ".join(words)`` as (first word, word after the last,
    phrase): those of ``re.finditer(r"\\b(?:" + "|".join(key's phrases) + r")\\b", ...)``, in order."""
    found: dict[str, list[tuple[int, int, str]]] = {}
    resume: dict[str, int] = {}  # per key: the first word its next match may start at
    for i, word in enumerate(words):
        for key, phrase_words, phrase in index.get(word, ()):
            end = i + len(phrase_words)
            if i >= resume.get(key, 0) and tuple(words[i:end]) == phrase_words:
                found.setdefault(key, []).append((i, end, phrase))
                resume[key] = end
    return found
