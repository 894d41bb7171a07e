"""SLA: due times by priority and business calendar, clocks paused while pending, warnings and breaches (pure)

Pure functions of a ticket's facts, its status changes and `now`. A clock counts business time
(or wall time for 24x7 priorities) from the ticket's creation, minus the time it spent pending on
the requester; the first-response clock stops at the first agent response, the resolution clock
at resolution.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pipeline.vocabulary import CLOCKS, TIERS


@dataclass(frozen=True, slots=True, kw_only=True)
class Calendar:
    """Working hours in a time zone; `always` means 24x7."""

    timezone: str = "UTC"
    always: bool = True
    start: time = time(8, 0)
    end: time = time(18, 0)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    holidays: frozenset[date] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaPolicy:
    """Targets in hours by priority, the calendar, and which priorities run 24x7."""

    first_response_hours: Mapping[str, float]
    resolution_hours: Mapping[str, float]
    default_priority: str
    calendar: Calendar
    always_on: frozenset[str] = frozenset({"P1"})
    warn_before: timedelta = timedelta(minutes=30)
    escalate_first_response: frozenset[str] = frozenset({"P1"})
    """Priorities whose missed first response moves the ticket up (the others tell the tier)."""

    def escalates(self, clock: str, priority: str | None) -> bool:
        """A missed resolution target always escalates; a missed first response by priority."""
        if clock != "first_response":
            return True
        return (priority or self.default_priority) in self.escalate_first_response

    def calendar_for(self, priority: str | None) -> Calendar:
        """The priority's calendar: 24x7 for always-on priorities, the business calendar otherwise."""
        if (priority or self.default_priority) in self.always_on or self.calendar.always:
            return Calendar(timezone=self.calendar.timezone, always=True)
        return self.calendar

    def target(self, clock: str, priority: str | None) -> timedelta:
        """The promised duration of a clock for a priority."""
        table = self.first_response_hours if clock == "first_response" else self.resolution_hours
        return timedelta(hours=float(table[priority or self.default_priority]))


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockFacts:
    """What the clocks need to know about a ticket."""

    created_at: datetime
    priority: str | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    changes: tuple[tuple[datetime, str, str], ...] = ()  # (at, from_status, to_status), in order


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockView:
    """One clock at `now`: when it is due, whether it stopped, how much is left."""

    clock: str
    due: datetime | None  # None while paused with time left (pending)
    stopped_at: datetime | None
    paused: bool
    remaining: timedelta  # business time left (negative when breached)

    @property
    def breached(self) -> bool:
        """True when the clock ran past its target (stopped late, or still running past due)."""
        return self.remaining < timedelta(0)

    @property
    def state(self) -> str:
        """met | breached | paused | running: the one wording of a clock's state."""
        if self.stopped_at and not self.breached:
            return "met"
        if self.breached:
            return "breached"
        return "paused" if self.paused else "running"


def business_time(start: datetime, end: datetime, calendar: Calendar) -> timedelta:
    """Business time between two instants (wall time when the calendar is 24x7)."""
    if end <= start:
        return timedelta(0)
    if calendar.always:
        return end - start
    total = timedelta(0)
    for open_at, close_at in _working_spans(start, calendar):
        if open_at >= end:
            break
        total += max(timedelta(0), min(close_at, end) - max(open_at, start))
    return total


def add_business_time(start: datetime, amount: timedelta, calendar: Calendar) -> datetime:
    """The instant when `amount` of business time has passed since `start`."""
    if calendar.always:
        return start + amount
    left = amount
    for open_at, close_at in _working_spans(start, calendar):
        begin = max(open_at, start)
        if close_at <= begin:
            continue
        if begin + left <= close_at:
            return begin + left
        left -= close_at - begin
    raise ValueError("calendar has no working time")  # unreachable: spans never end


def _working_spans(start: datetime, calendar: Calendar) -> Iterator[tuple[datetime, datetime]]:
    """Working periods (aware, in UTC-comparable form) from the day of `start` onwards."""
    zone = ZoneInfo(calendar.timezone)
    day = start.astimezone(zone).date()
    idle_days = 0
    while idle_days < 800:  # a calendar with no working day at all would loop forever
        if day.weekday() in calendar.weekdays and day not in calendar.holidays:
            idle_days = 0
            yield (
                datetime.combine(day, calendar.start, zone),
                datetime.combine(day, calendar.end, zone),
            )
        else:
            idle_days += 1
        day += timedelta(days=1)


def active_spans(facts: ClockFacts, now: datetime) -> list[tuple[datetime, datetime]]:
    """Periods when the clocks run: from creation to now, minus time spent pending."""
    spans = []
    running_since: datetime | None = facts.created_at
    for at, _from, to in facts.changes:
        if to == "pending" and running_since is not None:
            spans.append((running_since, max(running_since, at)))
            running_since = None
        elif to != "pending" and running_since is None:
            running_since = at
    if running_since is not None:
        spans.append((running_since, max(running_since, now)))
    return spans


def clock_view(clock: str, facts: ClockFacts, policy: SlaPolicy, now: datetime) -> ClockView:
    """The state of one clock at `now`."""
    calendar = policy.calendar_for(facts.priority)
    target = policy.target(clock, facts.priority)
    stop = facts.first_response_at if clock == "first_response" else facts.resolved_at
    horizon = min(now, stop) if stop else now
    spans = active_spans(facts, horizon)
    used = sum((business_time(a, b, calendar) for a, b in spans), timedelta(0))
    remaining = target - used
    paused = stop is None and not _running(facts)
    if remaining < timedelta(0):
        due = _breach_instant(spans, target, calendar)
    elif stop is None and not paused:
        due = add_business_time(horizon, remaining, calendar)
    else:
        due = None
    return ClockView(clock=clock, due=due, stopped_at=stop, paused=paused, remaining=remaining)


def _running(facts: ClockFacts) -> bool:
    return not facts.changes or facts.changes[-1][2] != "pending"


def _breach_instant(
    spans: list[tuple[datetime, datetime]], target: timedelta, calendar: Calendar
) -> datetime | None:
    """When the used time crossed the target, walking the active spans."""
    left = target
    for a, b in spans:
        chunk = business_time(a, b, calendar)
        if chunk >= left:
            return add_business_time(a, left, calendar)
        left -= chunk
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaAction:
    """Something the SLA job must do for a ticket: warn the tier, or record a breach and escalate."""

    clock: str
    kind: str  # warning | breach
    tier: str
    escalate_to: str | None
    due: datetime | None


def next_tier(tier: str) -> str | None:
    """L1 -> L2 -> L3 -> None."""
    index = TIERS.index(tier) if tier in TIERS else 0
    return TIERS[index + 1] if index + 1 < len(TIERS) else None


def sla_actions(
    facts: ClockFacts,
    tier: str,
    status: str,
    done: frozenset[tuple[str, str, str]],
    policy: SlaPolicy,
    now: datetime,
    tier_since: datetime | None = None,
) -> list[SlaAction]:
    """Warnings and breaches not yet acted on (done holds (clock, kind, tier) already recorded).

    Each tier gets the priority's targets from the moment it received the ticket (`tier_since`;
    L1 from creation). A warning goes to the tier once per clock, `warn_before` ahead of its due
    time; a missed target is recorded once per clock and tier and moves the ticket one tier up.
    """
    if status in ("resolved", "closed"):
        return []
    if tier_since is not None and tier_since > facts.created_at:
        facts = ClockFacts(
            created_at=tier_since,
            priority=facts.priority,
            first_response_at=facts.first_response_at,
            resolved_at=facts.resolved_at,
            changes=tuple(c for c in facts.changes if c[0] >= tier_since),
        )
    actions = []
    for clock in CLOCKS:
        view = clock_view(clock, facts, policy, now)
        if view.stopped_at is not None or view.paused:
            continue
        if view.breached and (clock, "breach", tier) not in done:
            up = next_tier(tier) if policy.escalates(clock, facts.priority) else None
            actions.append(
                SlaAction(clock=clock, kind="breach", tier=tier, escalate_to=up, due=view.due)
            )
            if up is not None:
                break  # one escalation step per run
            continue
        if (
            not view.breached
            and view.remaining <= policy.warn_before
            and (clock, "warning", tier) not in done
        ):
            actions.append(
                SlaAction(clock=clock, kind="warning", tier=tier, escalate_to=None, due=view.due)
            )
    return actions
