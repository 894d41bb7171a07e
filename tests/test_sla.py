"""SLA clocks as pure functions: business hours, time zones, holidays, pauses, warnings, breaches."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from pipeline.stages.sla import (
    Calendar,
    ClockFacts,
    SlaPolicy,
    add_business_time,
    business_time,
    clock_view,
    next_tier,
    sla_actions,
)

KL = "Asia/Kuala_Lumpur"  # UTC+8, no DST
BUSINESS = Calendar(
    timezone=KL, always=False, start=time(9), end=time(17), holidays=frozenset({date(2026, 12, 25)})
)
POLICY = SlaPolicy(
    first_response_hours={"P1": 1, "P2": 2, "P3": 3, "P4": 3},
    resolution_hours={"P1": 4, "P2": 8, "P3": 24, "P4": 72},
    default_priority="P3",
    calendar=BUSINESS,
    escalate_first_response=frozenset({"P1", "P2", "P3", "P4"}),
)


def kl(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A Kuala Lumpur wall-clock time in 2026 as an aware UTC datetime."""
    return (
        datetime(2026, month, day, hour - 8, minute, tzinfo=UTC)
        if hour >= 8
        else datetime(2026, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)
    )


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (kl(26, 10), kl(26, 12), 2),  # Thursday inside working hours
        (kl(26, 16), kl(27, 10), 2),  # over the night: 1 h Thu + 1 h Fri
        (kl(27, 16), kl(30, 10), 2),  # over the weekend (Fri -> Mon)
        (kl(26, 6), kl(26, 8), 0),  # before opening
        (kl(24, 16, month=12), kl(28, 10, month=12), 2),  # Christmas (Fri 25th) and the weekend
    ],
)
def test_business_time(start: datetime, end: datetime, hours: float) -> None:
    """Business time counts only working hours of working days in the desk's time zone."""
    assert business_time(start, end, BUSINESS) == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (kl(26, 10), 3, kl(26, 13)),
        (kl(26, 16), 3, kl(27, 11)),
        (kl(27, 16), 3, kl(30, 11)),  # Friday afternoon -> Monday
        (kl(28, 12), 1, kl(30, 10)),  # arrives on Saturday -> Monday 10:00
    ],
)
def test_add_business_time(start: datetime, hours: float, due: datetime) -> None:
    """Due times skip nights, weekends and holidays."""
    assert add_business_time(start, timedelta(hours=hours), BUSINESS) == due


def test_p1_runs_24x7() -> None:
    """A P1 created on Saturday night is due an hour later, calendar or not."""
    facts = ClockFacts(
        created_at=kl(28, 22), priority="P1", first_response_at=None, resolved_at=None
    )
    assert clock_view("first_response", facts, POLICY, kl(28, 22, 30)).due == kl(28, 23)


@pytest.mark.parametrize(
    ("changes", "now", "remaining_h", "paused"),
    [
        ((), kl(26, 11), 2, False),
        (((kl(26, 10, 30), "open", "pending"),), kl(26, 16), 2.5, True),
        (
            ((kl(26, 10, 30), "open", "pending"), (kl(26, 14), "pending", "open")),
            kl(26, 15),
            1.5,
            False,
        ),
    ],
)
def test_pending_pauses_the_clock(
    changes: tuple, now: datetime, remaining_h: float, paused: bool
) -> None:
    """Time spent pending on the requester does not count against the target."""
    facts = ClockFacts(
        created_at=kl(26, 10),
        priority="P3",
        first_response_at=None,
        resolved_at=None,
        changes=changes,
    )
    view = clock_view("first_response", facts, POLICY, now)
    assert view.remaining == timedelta(hours=remaining_h) and view.paused is paused


def test_first_response_stops_the_clock_and_late_response_is_a_breach() -> None:
    """A response after the due time leaves a breached, stopped clock."""
    facts = ClockFacts(
        created_at=kl(26, 10), priority="P2", first_response_at=kl(26, 13), resolved_at=None
    )
    view = clock_view("first_response", facts, POLICY, kl(26, 16))
    assert view.stopped_at == kl(26, 13) and view.breached and view.due == kl(26, 12)


@pytest.mark.parametrize(
    ("now", "done", "expected"),
    [
        (kl(26, 11), frozenset(), []),
        (kl(26, 12, 40), frozenset(), [("first_response", "warning", "L1", None)]),
        (kl(26, 12, 40), frozenset({("first_response", "warning", "L1")}), []),
        (kl(26, 13, 5), frozenset(), [("first_response", "breach", "L1", "L2")]),
        (kl(26, 13, 5), frozenset({("first_response", "breach", "L1")}), []),
    ],
)
def test_sla_actions_warn_then_breach_once_per_step(
    now: datetime, done: frozenset, expected: list
) -> None:
    """The SLA job warns before, escalates on a breach, and never repeats a step."""
    facts = ClockFacts(
        created_at=kl(26, 10), priority="P3", first_response_at=None, resolved_at=None
    )
    actions = sla_actions(facts, "L1", "open", done, POLICY, now)
    assert [(a.clock, a.kind, a.tier, a.escalate_to) for a in actions] == expected


def test_resolved_tickets_have_no_actions_and_tiers_stop_at_l3() -> None:
    """Nothing to do for resolved tickets; L3 has no next tier."""
    facts = ClockFacts(
        created_at=kl(1, 10), priority="P3", first_response_at=None, resolved_at=None
    )
    assert sla_actions(facts, "L1", "resolved", frozenset(), POLICY, kl(26, 10)) == []
    assert (next_tier("L1"), next_tier("L2"), next_tier("L3")) == ("L2", "L3", None)


def test_each_tier_gets_its_own_window_before_the_next_escalation() -> None:
    """Breached at L1 and escalated at 13:05: L2 is not escalated at once, only 3 h later."""
    facts = ClockFacts(
        created_at=kl(26, 10), priority="P3", first_response_at=None, resolved_at=None
    )
    done = frozenset({("first_response", "breach", "L1")})
    assert sla_actions(facts, "L2", "open", done, POLICY, kl(26, 13, 10), kl(26, 13, 5)) == []
    [late] = sla_actions(facts, "L2", "open", done, POLICY, kl(26, 16, 10), kl(26, 13, 5))
    assert (late.kind, late.tier, late.escalate_to) == ("breach", "L2", "L3")


@pytest.mark.parametrize(
    ("priority", "clock_hours", "expected"),
    [
        ("P3", 3, ("first_response", "breach", "L1", None)),  # the desk default: tell L1
        ("P1", 1, ("first_response", "breach", "L1", "L2")),  # P1 escalates on both clocks
    ],
)
def test_a_missed_first_response_escalates_only_where_the_desk_says(
    priority: str, clock_hours: int, expected: tuple[str, str, str, str | None]
) -> None:
    """Default policy: a missed first response warns the tier, except P1, which escalates."""
    policy = replace(POLICY, escalate_first_response=frozenset({"P1"}))
    facts = ClockFacts(
        created_at=kl(26, 10), priority=priority, first_response_at=None, resolved_at=None
    )
    late = kl(26, 10 + clock_hours, 5)
    actions = sla_actions(facts, "L1", "open", frozenset(), policy, late)
    assert [(a.clock, a.kind, a.tier, a.escalate_to) for a in actions][:1] == [expected]
