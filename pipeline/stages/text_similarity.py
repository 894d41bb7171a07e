"""Text similarity: cheap token sets and IDF-weighted cosine, shared by bursts and known fixes (pure)

A text becomes a frozenset of normalised tokens (lower case, letters and digits, stop words of
English, Malay and mail small talk removed, a plural "s" folded). Two sets compare by the cosine of
their binary vectors weighted by inverse document frequency: words every mail uses weigh little,
the name of a system or a symptom weighs a lot. No scikit-learn: the sets are small and the
frequencies are a Counter the caller keeps (a sliding window, a folder of articles).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

WORD = re.compile(r"[a-z0-9][a-z0-9\-]*[a-z0-9]|[a-z]", re.IGNORECASE)

STOP_WORDS = frozenset(
    """
    a about above after again all also am an and any are as at be because been before being
    below between both but by can cannot could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours out over own
    same she should so some such than that the their them then there these they this those
    through to too under until up very was we were what when where which while who whom why
    will with would you your yours yourself hi hello dear team thanks thank regards kind best
    please pls help helpdesk support morning afternoon evening today since still again get got
    know let us am pm sent iphone re fw fwd urgent asap issue problem
    saya kami kita anda tuan puan encik cik sila mohon terima kasih dan yang untuk dengan di ke
    dari ini itu ada tidak boleh sudah telah akan pada atau juga dalam kerana sejak hari pagi
    tadi petang salam sejahtera selamat hormat assalamualaikum harap bantuan segera tolong
    """.split()
)


def tokens(text: str, limit: int = 600) -> frozenset[str]:
    """The distinct content words of the first `limit` characters of a text."""
    found = set()
    for word in WORD.findall(text[:limit].lower()):
        if word in STOP_WORDS or len(word) < 2 or word.isdigit():
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.add(word)
    return frozenset(found)


def idf_weight(frequency: int, documents: int) -> float:
    """Squared IDF weight of a word in `frequency` of `documents` texts: (log((N+1)/(df+1)) + 1)^2."""
    return (math.log((documents + 1) / (frequency + 1)) + 1.0) ** 2


def idf_weights(
    document_frequency: Mapping[str, int], documents: int, words: Iterable[str]
) -> dict[str, float]:
    """Squared IDF weight of each word."""
    return {w: idf_weight(document_frequency.get(w, 0), documents) for w in words}


def cosine(a: frozenset[str], b: frozenset[str], weight: Mapping[str, float]) -> float:
    """IDF-weighted cosine of two token sets (0 when either is empty); `weight` covers a and b."""
    if not a or not b:
        return 0.0
    shared = sum(map(weight.__getitem__, a & b))
    if not shared:
        return 0.0
    return shared / math.sqrt(weight_sum(a, weight) * weight_sum(b, weight))


def weight_sum(words: frozenset[str], weight: Mapping[str, float]) -> float:
    """The summed weight of a token set (cosine's norm, squared)."""
    return sum(map(weight.__getitem__, words))  # a third faster than a generator, same order


def cosine_if_close(
    a: frozenset[str],
    b: frozenset[str],
    weight: Mapping[str, float],
    threshold: float,
    a_sum: float,
) -> float:
    """cosine(a, b), or 0.0 when it is certainly below `threshold` (`a_sum`: weight_sum(a)).

    b's sum is at least the shared words' sum, so the cosine is at most sqrt(shared / a_sum):
    most pairs are ruled out without summing b (the burst detector compares every new ticket
    with its whole window). The margin keeps float rounding from ruling out a pair at the
    threshold itself."""
    if not a or not b:
        return 0.0
    shared = sum(map(weight.__getitem__, a & b))
    if not shared or shared < threshold * threshold * a_sum * (1 - 1e-9):
        return 0.0
    return shared / math.sqrt(a_sum * weight_sum(b, weight))


def document_frequency(sets: Iterable[frozenset[str]]) -> Counter[str]:
    """How many of the sets hold each word."""
    counts: Counter[str] = Counter()
    for words in sets:
        counts.update(words)
    return counts
