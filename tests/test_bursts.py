"""The burst detector (pure): table-driven scenarios on a simulated clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.jobs.major_incident import ticket_words
from pipeline.stages.bursts import (
    BurstDetector,
    BurstPolicy,
    KnownPattern,
    Sighting,
    compatible,
    poisson_tail,
    signature,
)
from pipeline.stages.text_similarity import cosine, cosine_if_close, weight_sum

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
OUTAGE = ("PayMaster 502 bad gateway", "PayMaster shows 502 Bad Gateway on the login page.")
OTHER = (
    ("Printer jam on floor 3", "Paper stuck in the printer on floor 3."),
    ("Need a second monitor", "Could I get a second monitor for my desk?"),
    ("Excel crashes on start", "Excel closes when I open a workbook."),
    ("Mailbox full", "Outlook says my mailbox is full."),
    ("Laptop slow", "My laptop takes ten minutes to start."),
)


@dataclass(frozen=True)
class Mail:
    minute: float
    sender: str
    text: tuple[str, str] = OUTAGE
    category: str | None = None


def run(mails: list[Mail], policy: BurstPolicy | None = None, patterns=()) -> list[str]:  # type: ignore[no-untyped-def]
    detector = BurstDetector(policy or BurstPolicy())
    actions = []
    for n, mail in enumerate(mails):
        decision = detector.observe(
            Sighting(
                ticket_id=n,
                at=T0 + timedelta(minutes=mail.minute),
                requester=mail.sender,
                category=mail.category,
                words=ticket_words(*mail.text),
            ),
            patterns,
        )
        actions.append(decision.action)
    return actions


def senders(k: int, every: float = 2.0, **kw: object) -> list[Mail]:
    return [Mail(minute=i * every, sender=f"u{i}@example.com", **kw) for i in range(k)]  # type: ignore[arg-type]


CASES = [
    (
        "five requesters in ten minutes: proposed at the fifth",
        senders(5),
        ["none"] * 4 + ["propose"],
    ),
    ("four are not enough", senders(4), ["none"] * 4),
    (
        "one requester five times is not a burst",
        [Mail(i, "same@example.com") for i in range(5)],
        ["none"] * 5,
    ),
    ("spread over two hours: never five in the window", senders(5, every=20), ["none"] * 5),
    (
        "different categories never join",
        [Mail(i, f"u{i}@x", category="printing" if i % 2 else "network") for i in range(6)],
        ["none"] * 6,
    ),
    (
        "unknown category joins a known one",
        [Mail(i, f"u{i}@x", category=None if i % 2 else "business_apps") for i in range(5)],
        ["none"] * 4 + ["propose"],
    ),
    (
        "unrelated mails do not cluster",
        [Mail(i, f"u{i}@x", text=OTHER[i]) for i in range(5)],
        ["none"] * 5,
    ),
    (
        "mails from two mailboxes, read out of arrival order, still make the burst",
        [Mail(m, f"u{m}@x") for m in (8, 2, 6, 0, 4)],
        ["none"] * 4 + ["propose"],
    ),
    (
        "after a proposal, the next similar mail is not a new burst",
        senders(7),
        ["none"] * 4 + ["propose", "none", "none"],
    ),
]


@pytest.mark.parametrize(("scenario", "mails", "expected"), CASES, ids=[c[0] for c in CASES])
def test_detector(scenario: str, mails: list[Mail], expected: list[str]) -> None:
    """Each scenario's actions, mail by mail."""
    assert run(mails) == expected


def test_open_pattern_links_and_rejected_pattern_suppresses_until_it_expires() -> None:
    """An accepted pattern links a matching mail; a rejected one suppresses it until `until`."""
    words = ticket_words(*OUTAGE)
    accepted = KnownPattern(major_id=7, status="accepted", category=None, words=words)
    assert run(senders(1), patterns=[accepted]) == ["link"]
    rejected = KnownPattern(
        major_id=8, status="rejected", category=None, words=words, until=T0 + timedelta(minutes=30)
    )
    assert run(senders(5), patterns=[rejected]) == ["suppressed"] * 5
    late = [Mail(40 + i, f"u{i}@x") for i in range(5)]
    assert run(late, patterns=[rejected]) == ["none"] * 4 + ["propose"]


def test_a_topic_that_is_common_every_day_needs_a_real_surge() -> None:
    """With a baseline where this mail is 10 % of traffic, five in a busy window are ordinary."""
    detector = BurstDetector(BurstPolicy())
    start = T0 - timedelta(hours=20)
    for n in range(400):  # one mail every 3 minutes, every tenth like the outage
        text = OUTAGE if n % 10 == 0 else OTHER[n % len(OTHER)]
        detector.remember(
            Sighting(
                ticket_id=-1 - n,
                at=start + timedelta(minutes=3 * n),
                requester=f"b{n}@x",
                category=None,
                words=ticket_words(*text),
            )
        )
    actions = []
    for i in range(60):  # a busy half hour: 60 mails, 6 like the outage (10 %)
        text = OUTAGE if i % 10 == 0 else OTHER[i % len(OTHER)]
        actions.append(
            detector.observe(
                Sighting(
                    ticket_id=i,
                    at=T0 + timedelta(seconds=30 * i),
                    requester=f"w{i}@x",
                    category=None,
                    words=ticket_words(*text),
                )
            ).action
        )
    assert "propose" not in actions


@pytest.mark.parametrize(
    ("count", "expected", "below"),
    [(5, 0.0, 1e-9), (5, 0.1, 1e-5), (5, 2.0, 0.06), (0, 1.0, 1.0000001), (12, 3.0, 1e-4)],
)
def test_poisson_tail(count: int, expected: float, below: float) -> None:
    """P(X >= count) for Poisson(expected), at known magnitudes."""
    assert 0.0 <= poisson_tail(count, expected) < below


def test_signature_and_categories() -> None:
    """The signature keeps words most members share; unknown categories are compatible."""
    sets = [
        frozenset({"vpn", "portal", "a"}),
        frozenset({"vpn", "portal", "b"}),
        frozenset({"vpn", "c"}),
    ]
    assert signature(sets) == frozenset({"vpn", "portal"})
    assert compatible(None, "email") and compatible("email", "email") and not compatible("a", "b")


@given(
    a=st.frozensets(st.sampled_from("abcdefghij"), max_size=8),
    b=st.frozensets(st.sampled_from("abcdefghij"), max_size=8),
    weights=st.lists(st.floats(0.01, 30.0), min_size=10, max_size=10),
    threshold=st.sampled_from([0.3, 0.5, 0.7, 0.9]),
)
def test_the_cosine_bound_rules_out_only_pairs_below_the_threshold(
    a: frozenset[str], b: frozenset[str], weights: list[float], threshold: float
) -> None:
    """cosine_if_close answers exactly as cosine for every pair at or above the threshold."""
    weight = dict(zip("abcdefghij", weights))
    full = cosine(a, b, weight)
    quick = cosine_if_close(a, b, weight, threshold, weight_sum(a, weight))
    assert (quick >= threshold) == (full >= threshold)
    if full >= threshold:
        assert quick == full
