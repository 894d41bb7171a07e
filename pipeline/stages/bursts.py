"""Bursts: finds major-incident candidates among new incident tickets on any clock (pure)

A burst is at least `min_mails` similar incidents from as many different requesters within
`window`, that is also a surprise: ordinary traffic would make that many with a probability
below `significance`. The expected count is the share of similar mails in the baseline (the
`baseline` before the window) times the window's total, and the probability is the Poisson tail
at that rate: at a busy hour the window holds more of everything, so the expected count grows
with it, and ordinary Monday-morning password resets do not look like an outage.

`BurstDetector` keeps the sliding history in memory; it never reads a clock: every sighting says
when it happened, so a benchmark replays a day in seconds and the daemon feeds it ticket rows.
Known patterns (open candidates and accepted major incidents, and rejected ones until their
suppression ends) are the caller's: a matching sighting is linked to its major incident, or
ignored for a rejected one, before any new burst is looked for.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.stages.text_similarity import cosine_if_close, idf_weight, weight_sum


@dataclass(frozen=True, slots=True, kw_only=True)
class BurstPolicy:
    """[major_incident]: how many, how fast, how similar, how unusual."""

    min_mails: int = 5
    window: timedelta = timedelta(minutes=30)
    similarity: float = 0.5
    significance: float = 1e-5
    baseline: timedelta = timedelta(hours=24)
    min_baseline: int = 50  # below this many baseline mails, any burst of min_mails counts


@dataclass(frozen=True, slots=True, kw_only=True)
class Sighting:
    """One new incident ticket as the detector sees it."""

    ticket_id: int
    at: datetime
    requester: str
    category: str | None
    words: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownPattern:
    """A major incident the detector must respect: candidate, accepted, or rejected until `until`."""

    major_id: int
    status: str  # candidate | accepted | rejected
    category: str | None
    words: frozenset[str]
    until: datetime | None = None
    examples: tuple[frozenset[str], ...] = ()  # members' words: a mail like any member matches


@dataclass(frozen=True, slots=True, kw_only=True)
class BurstDecision:
    """What a sighting means: nothing, a link to a known major incident, or a new candidate."""

    action: str  # none | link | suppressed | propose
    major_id: int | None = None
    members: tuple[int, ...] = ()
    requesters: int = 0
    words: frozenset[str] = frozenset()
    category: str | None = None
    expected: float = 0.0
    score: float = 0.0


NOTHING = BurstDecision(action="none")
PRIOR_DOCUMENTS = 100
MAX_CENTRES = 2  # bursts tried per sighting, largest first
SHARE_TTL = timedelta(minutes=10)


def poisson_tail(count: int, expected: float) -> float:
    """P(X >= count) for X ~ Poisson(expected): how likely ordinary traffic makes this many."""
    if expected <= 0:
        return 0.0 if count > 0 else 1.0
    term = math.exp(-expected)
    below = 0.0
    for k in range(count):
        below += term
        term *= expected / (k + 1)
    return max(0.0, 1.0 - below)


def compatible(a: str | None, b: str | None) -> bool:
    """Categories agree when both are known and equal, or when either is unknown."""
    return a is None or b is None or a == b


def signature(sets: Sequence[frozenset[str]]) -> frozenset[str]:
    """The words at least half of the members share (the burst's fingerprint)."""
    counts: Counter[str] = Counter()
    for words in sets:
        counts.update(words)
    need = max(2, (len(sets) + 1) // 2)
    core = frozenset(w for w, n in counts.items() if n >= need)
    return core or (sets[-1] if sets else frozenset())


class BurstDetector:
    """The sliding history of incident sightings and the burst rule over it."""

    def __init__(self, policy: BurstPolicy) -> None:
        self.policy = policy
        self.history: list[Sighting] = []  # by time (`at`), the order mails reached the server
        self.frequency: Counter[str] = Counter()
        self.linked: set[int] = set()
        self._weight = _Weights(self)
        self._shares: dict[int, tuple[datetime, float]] = {}

    # -- state ------------------------------------------------------------------------------
    def remember(self, sighting: Sighting) -> None:
        """Add a sighting to the history without deciding anything (catching up, warming up)."""
        self._prune(sighting.at)
        insort(self.history, sighting, key=_at)  # at the end, unless mails arrived out of order
        self.frequency.update(sighting.words)
        self._weight = _Weights(self)

    def mark_linked(self, ticket_ids: Sequence[int]) -> None:
        """These tickets belong to a major incident: never members of another burst."""
        self.linked.update(ticket_ids)

    def _prune(self, now: datetime) -> None:
        horizon = now - self.policy.baseline - self.policy.window
        gone = bisect_left(self.history, horizon, key=_at)
        for old in self.history[:gone]:
            self.frequency.subtract(old.words)
            self.linked.discard(old.ticket_id)
            self._shares.pop(old.ticket_id, None)
        del self.history[:gone]

    def since(self, start: datetime) -> list[Sighting]:
        """The sightings at or after `start`, oldest first (read out of arrival order, a mail
        that reached the server after the new one is in its window too)."""
        return self.history[bisect_left(self.history, start, key=_at) :]

    def weight(self, word: str) -> float:
        """A word's squared IDF weight over the history."""
        return self._weight[word]

    # -- decisions --------------------------------------------------------------------------
    def match_pattern(
        self, sighting: Sighting, patterns: Sequence[KnownPattern]
    ) -> tuple[KnownPattern, float] | None:
        """The most similar pattern that applies now (an open one, or a rejected one that still
        suppresses), or None."""
        best: tuple[KnownPattern, float] | None = None
        norm = weight_sum(sighting.words, self._weight)
        for pattern in patterns:
            if pattern.until is not None and sighting.at >= pattern.until:
                continue
            if not compatible(sighting.category, pattern.category):
                continue
            score = max(
                cosine_if_close(sighting.words, words, self._weight, self.policy.similarity, norm)
                for words in (pattern.words, *pattern.examples)
            )
            if score >= self.policy.similarity and (best is None or score > best[1]):
                best = (pattern, score)
        return best

    def observe(self, sighting: Sighting, patterns: Sequence[KnownPattern] = ()) -> BurstDecision:
        """Remember a sighting and decide what it means."""
        self.remember(sighting)
        known = self.match_pattern(sighting, patterns)
        if known is not None:
            pattern, score = known
            if pattern.status == "rejected":
                return BurstDecision(action="suppressed", major_id=pattern.major_id, score=score)
            self.linked.add(sighting.ticket_id)
            return BurstDecision(
                action="link",
                major_id=pattern.major_id,
                members=(sighting.ticket_id,),
                score=score,
            )
        decision = self._burst(sighting)
        if decision.action == "propose":
            self.linked.update(decision.members)
        return decision

    def _burst(self, new: Sighting) -> BurstDecision:
        """The burst around the new sighting: the window's free sightings similar to it."""
        policy = self.policy
        start = new.at - policy.window
        window = self.since(start)
        free = [s for s in window if s.ticket_id not in self.linked]
        # Bursts around earlier, more typical sightings were tried too (a mail in another
        # language completes them sooner) but made a false candidate in the benchmark: only the
        # new sighting is a centre.
        centres = [new]
        clusters = []
        for centre in centres:
            norm = weight_sum(centre.words, self._weight)
            members = [
                s
                for s in free
                if compatible(centre.category, s.category)
                and compatible(new.category, s.category)
                and self._similar(centre, s, norm)
            ]
            requesters = {s.requester for s in members}
            if new in members and len(requesters) >= policy.min_mails:
                clusters.append((len(requesters), centre, members))
        clusters.sort(key=lambda c: -c[0])
        quiet = NOTHING
        for count, centre, members in clusters[:MAX_CENTRES]:  # the baseline scan is the cost
            expected = self._expected(centre, start, len(window))
            if poisson_tail(count, expected) > policy.significance:
                quiet = BurstDecision(action="none", requesters=count, expected=expected)
                continue
            categories = Counter(s.category for s in members if s.category)
            return BurstDecision(
                action="propose",
                members=tuple(s.ticket_id for s in members),
                requesters=count,
                words=signature([s.words for s in members]),
                category=categories.most_common(1)[0][0] if categories else None,
                expected=expected,
            )
        return quiet

    def _similar(self, a: Sighting, b: Sighting, a_norm: float) -> bool:
        if a is b:
            return True
        threshold = self.policy.similarity
        return cosine_if_close(a.words, b.words, self._weight, threshold, a_norm) >= threshold

    def _expected(self, new: Sighting, window_start: datetime, window_total: int) -> float:
        """How many mails like this one the window would hold on an ordinary day."""
        return self._share(new, window_start) * window_total

    def _share(self, new: Sighting, window_start: datetime) -> float:
        """The share of mails like this one in the baseline (a day of traffic moves it little, so
        it is kept for SHARE_TTL per sighting: the scan of the baseline is the detector's cost)."""
        known = self._shares.get(new.ticket_id)
        if known is not None and window_start - known[0] < SHARE_TTL:
            return known[1]
        share = self._scan_share(new, window_start)
        self._shares[new.ticket_id] = (window_start, share)
        return share

    def _scan_share(self, new: Sighting, window_start: datetime) -> float:
        history = self.history
        first = bisect_left(history, new.at - self.policy.baseline - self.policy.window, key=_at)
        baseline = history[first : bisect_left(history, window_start, key=_at)]
        if len(baseline) < self.policy.min_baseline:
            return 0.0
        norm = weight_sum(new.words, self._weight)
        similar = sum(
            1
            for s in baseline
            if compatible(new.category, s.category) and self._similar(new, s, norm)
        )
        return (similar + 0.5) / len(baseline)  # +0.5: never certain it is rare


def _at(sighting: Sighting) -> datetime:
    return sighting.at


class _Weights(dict[str, float]):
    """Squared IDF weights, computed on first use and dropped when the history changes."""

    def __init__(self, detector: BurstDetector) -> None:
        super().__init__()
        self.frequency = detector.frequency
        # a young desk has few mails: count some unseen ones, so that a word every mail of a
        # burst shares does not weigh nothing just because the burst is all there is
        self.documents = len(detector.history) + 1 + PRIOR_DOCUMENTS
        self._by_frequency: dict[int, float] = {}  # most words share a few small frequencies

    def __missing__(self, word: str) -> float:
        frequency = self.frequency.get(word, 0)
        value = self._by_frequency.get(frequency)
        if value is None:
            value = self._by_frequency[frequency] = idf_weight(frequency, self.documents)
        self[word] = value
        return value
