"""Digest: the managers' daily figures, computed from plain rows and `now` (pure)

The edge (digest_job.py) runs the aggregate queries and hands this module frozen rows of plain
values; `build_digest` turns them into one frozen DigestFigures that both templates and
`tiket report --json` show. No database, clock or environment here: the day, its time zone and
`now` are parameters.

Definitions (the figures' contract):
- The reported day is a calendar day in the desk's time zone, [00:00, 24:00) local, as UTC bounds.
- First response is measured on the tickets *created* that day: time = first_response_at -
  created_at. Median and p90 are over the answered tickets; the share within target counts a
  ticket still unanswered at `now` as missed once its target has passed (it is "awaiting" before).
- Resolution is measured on the tickets *resolved* that day: time = resolved_at - created_at,
  against the desk's goal (24 h on average) and, per priority, against [sla] resolution_hours.
- Tickets without a priority count against the default priority's targets.
- p90 is the nearest-rank percentile (the smallest observed value with at least 90 % of the
  values at or below it), so every figure is a time that really happened; the median averages
  the two middle values of an even count.
- The backlog is every ticket whose status is not resolved/closed, aged at `now`.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pipeline.stages.screening import ACK_HELD_RULES
from pipeline.vocabulary import PRIORITIES, TIERS

if TYPE_CHECKING:  # only the type: settings.py reads the environment, this module must not
    from pipeline.settings import Settings

"""Every state but resolved/closed (lifecycle.STATES); a positive list so an index can serve it."""
RESOLUTION_GOAL_HOURS = 24.0
TREND_DAYS = 7
LIST_LIMIT = 15
"""At most this many tickets are listed per section (the counts are always complete)."""

BACKLOG_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<4 h", 0.0),
    ("4-24 h", 4.0),
    ("1-3 d", 24.0),
    ("3-7 d", 72.0),
    (">7 d", 168.0),
)
"""(label, lower bound in hours of age), youngest first; a ticket belongs to the last bucket whose
lower bound its age reaches."""


# -- inputs: plain rows the edge loads -------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Targets:
    """The promises: hours by priority, the fallback priority, the resolution goal."""

    first_response_hours: tuple[tuple[str, float], ...]
    resolution_hours: tuple[tuple[str, float], ...]
    default_priority: str
    resolution_goal_hours: float = RESOLUTION_GOAL_HOURS


Sample = tuple[tuple[str | None, float], ...]
"""(priority or None, hours) pairs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DaySample:
    """One local day of the trend window, as loaded by the edge.

    first_response: (priority, hours to first response) of the day's answered new tickets;
    unanswered: (priority, age in hours at `now`) of the day's new tickets without one;
    resolution: (priority, hours from creation) of the tickets resolved that day.
    """

    day: date
    first_response: Sample = ()
    unanswered: Sample = ()
    resolution: Sample = ()
    breaches: int = 0
    escalations: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketMix:
    """How many tickets of the reported day share these four attributes (a GROUP BY row)."""

    kind: str | None
    category: str | None
    priority: str | None
    mailbox: str
    count: int
    needs_review: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class BacklogCell:
    """Open tickets of one tier in one age bucket (index into BACKLOG_BUCKETS)."""

    tier: str
    bucket: int
    count: int
    flagged: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaBreach:
    """An SLA breach event with its ticket."""

    ref: str
    subject: str
    clock: str
    tier: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalation:
    """An `escalated` audit event; detail reads "L1 -> L2: <reason>"."""

    ref: str
    subject: str
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FlaggedTicket:
    """A ticket flagged as a suspected data breach."""

    ref: str
    subject: str
    status: str
    tier: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SuggestionCount:
    """Suggestions of one head for the day's tickets, and how many were applied automatically."""

    head: str
    total: int
    applied: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionPair:
    """L1 decisions of one head where the model said `suggested` and L1 chose `chosen`."""

    head: str
    suggested: str | None
    chosen: str
    count: int
    applied: bool = False  # the suggestion had been auto-applied before the agent looked


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundCount:
    """Mails received that day with this disposition and screening rule."""

    disposition: str
    rule: str | None
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MajorItem:
    """A major incident detected on the reported day: start, members, time to detection and to
    resolution (minutes; None while unresolved)."""

    ref: str
    subject: str
    status: str
    started_at: datetime
    members: int
    detection_minutes: float
    resolution_minutes: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestInput:
    """Everything build_digest needs; times are aware UTC."""

    day: date
    timezone: str
    now: datetime
    targets: Targets
    days: tuple[DaySample, ...] = ()
    mix: tuple[TicketMix, ...] = ()
    backlog: tuple[BacklogCell, ...] = ()
    breaches: tuple[SlaBreach, ...] = ()
    escalations: tuple[Escalation, ...] = ()
    flagged: tuple[FlaggedTicket, ...] = ()
    suggestions: tuple[SuggestionCount, ...] = ()
    decisions: tuple[DecisionPair, ...] = ()
    inbound: tuple[InboundCount, ...] = ()
    outbox_failed: tuple[tuple[str, int], ...] = ()
    major_incidents: tuple[MajorItem, ...] = ()
    self_served: int = 0  # tickets the requester resolved with #solved


# -- outputs ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Count:
    """A label and how many; `share` of the section's total (0 when the total is 0)."""

    label: str
    count: int
    share: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeStats:
    """Durations in hours (None when there is nothing to measure) and the share within target."""

    priority: str
    target_hours: float
    measured: int
    within: int
    missed_unanswered: int
    awaiting: int
    median_hours: float | None
    p90_hours: float | None
    mean_hours: float | None
    share_within: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class IntakeFigures:
    """Tickets in on the reported day, by attribute."""

    total: int
    needs_review: int
    by_kind: tuple[Count, ...]
    by_category: tuple[Count, ...]
    by_priority: tuple[Count, ...]
    by_mailbox: tuple[Count, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolution:
    """Tickets resolved on the reported day against the goal, overall and per priority."""

    overall: TimeStats
    by_priority: tuple[TimeStats, ...]
    mean_within_goal: bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BreachItem:
    ref: str
    subject: str
    clock: str
    tier: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationItem:
    ref: str
    subject: str
    from_tier: str
    to_tier: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BacklogRow:
    """Open tickets of one tier, per age bucket (same order as BACKLOG_BUCKETS)."""

    tier: str
    counts: tuple[int, ...]
    total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Backlog:
    total: int
    buckets: tuple[Count, ...]
    rows: tuple[BacklogRow, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadReview:
    """One triage head: auto-apply rate on the day's tickets, agreement with L1 on the day's decisions."""

    head: str
    suggested: int
    applied: int
    apply_rate: float | None
    decided: int
    agreed: int
    agreement: float | None
    applied_checked: int = 0  # auto-applied suggestions an agent later confirmed or changed
    applied_confirmed: int = 0
    applied_precision: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Correction:
    """The model said `suggested`, L1 chose `chosen`, `count` times."""

    head: str
    suggested: str
    chosen: str
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    heads: tuple[HeadReview, ...]
    decided: int
    agreed: int
    agreement: float | None
    corrected_categories: tuple[Count, ...]
    corrections: tuple[Correction, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """IntakeFigures health on the reported day."""

    received: int
    tickets_created: int
    replies: int
    screened: int
    screened_by_rule: tuple[Count, ...]
    duplicates: int
    quarantined: int
    pending: int
    outbox_failed: int
    outbox_failed_by_template: tuple[Count, ...]
    acks_held: int = 0  # tickets recorded without an acknowledgement by a flood cap or loop guard


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendDay:
    """One day of the trailing trend."""

    day: date
    tickets_in: int
    first_response_share: float | None
    first_response_median_hours: float | None
    resolved: int
    resolution_mean_hours: float | None
    breaches: int
    escalations: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestFigures:
    """Every figure of one digest; the templates and `tiket report --json` show exactly these."""

    day: date
    timezone: str
    generated_at: datetime
    window_start: datetime
    window_end: datetime
    intake: IntakeFigures
    first_response: tuple[TimeStats, ...]
    first_response_overall: TimeStats
    resolution: Resolution
    breaches: tuple[BreachItem, ...]
    breach_count: int
    breaches_by_tier: tuple[Count, ...]
    escalations: tuple[EscalationItem, ...]
    escalation_count: int
    escalations_by_tier: tuple[Count, ...]
    backlog: Backlog
    flagged: tuple[FlaggedTicket, ...]
    flagged_count: int
    open_flagged: int
    review: Review
    health: Health
    trend: tuple[TrendDay, ...]
    bucket_labels: tuple[str, ...] = tuple(label for label, _ in BACKLOG_BUCKETS)
    major_incidents: tuple[MajorItem, ...] = ()
    self_served: int = 0

    @property
    def empty(self) -> bool:
        """True when nothing happened that day (no tickets in, none resolved, no mail)."""
        return (
            self.intake.total == 0
            and self.resolution.overall.measured == 0
            and self.health.received == 0
        )


# -- the day ---------------------------------------------------------------------------------------
def day_window(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day as aware UTC datetimes (23 or 25 h across DST)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def default_report_day(now: datetime, tz: str) -> date:
    """Yesterday in the desk's time zone."""
    return now.astimezone(ZoneInfo(tz)).date() - timedelta(days=1)


def digest_due(settings: Settings, now: datetime, last_sent_date: date | None) -> bool:
    """True when the scheduled digest should go out now.

    Due once per local day, at or after [digest] send_at, when managers are configured and the
    digest of yesterday (its report day) is not `last_sent_date`. An empty send_at disables it.
    """
    section = settings.section("digest")
    send_at = str(section["send_at"]).strip()
    if not send_at or not tuple(section["managers"]):
        return False
    hour, minute = (int(part) for part in send_at.split(":"))
    local = now.astimezone(ZoneInfo(settings.desk.timezone))
    if local.time() < time(hour, minute):
        return False
    return last_sent_date != local.date() - timedelta(days=1)


def targets_from(settings: Settings) -> Targets:
    """The SLA promises of the settings as a plain record."""
    return Targets(
        first_response_hours=tuple(sorted(settings.sla.first_response_hours.items())),
        resolution_hours=tuple(sorted(settings.sla.resolution_hours.items())),
        default_priority=settings.sla.default_priority,
        resolution_goal_hours=float(settings.section("digest")["resolution_goal_hours"]),
    )


# -- statistics ------------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float | None:
    """The middle value (mean of the two middle ones for an even count); None when empty."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile: the ceil(pct/100 * n)-th smallest value; None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ratio(part: int, whole: int) -> float | None:
    """part / whole rounded to 4 places, None when whole is 0 (no division by zero)."""
    return None if whole == 0 else round(part / whole, 4)


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def bucket_of(age_hours: float) -> int:
    """Index of the backlog bucket for an age in hours."""
    index = 0
    for i, (_, lower) in enumerate(BACKLOG_BUCKETS):
        if age_hours >= lower:
            index = i
    return index


def _counts(pairs: Iterable[tuple[str, int]], order: Sequence[str] = ()) -> tuple[Count, ...]:
    """Counts summed by label, in `order` first then by count descending; shares of their total."""
    totals: Counter[str] = Counter()
    for label, n in pairs:
        totals[label] += n
    whole = sum(totals.values())
    known = [label for label in order if label in totals]
    rest = sorted(
        (label for label in totals if label not in order), key=lambda label: (-totals[label], label)
    )
    return tuple(
        Count(label=label, count=totals[label], share=ratio(totals[label], whole) or 0.0)
        for label in known + rest
    )


# -- figures ---------------------------------------------------------------------------------------
def first_response_stats(
    hours: Sequence[float], ages: Sequence[float], target: float, priority: str
) -> TimeStats:
    """First-response figures: answered `hours`, unanswered tickets' `ages`, against `target`."""
    missed = sum(age > target for age in ages)
    within = sum(h <= target for h in hours)
    return TimeStats(
        priority=priority,
        target_hours=target,
        measured=len(hours),
        within=within,
        missed_unanswered=missed,
        awaiting=len(ages) - missed,
        median_hours=_hours(median(hours)),
        p90_hours=_hours(percentile(hours, 90)),
        mean_hours=_hours(sum(hours) / len(hours)) if hours else None,
        share_within=ratio(within, len(hours) + missed),
    )


def resolution_stats(hours: Sequence[float], target: float, priority: str) -> TimeStats:
    """Resolution figures of resolved tickets' `hours` against `target`."""
    within = sum(h <= target for h in hours)
    return TimeStats(
        priority=priority,
        target_hours=target,
        measured=len(hours),
        within=within,
        missed_unanswered=0,
        awaiting=0,
        median_hours=_hours(median(hours)),
        p90_hours=_hours(percentile(hours, 90)),
        mean_hours=_hours(sum(hours) / len(hours)) if hours else None,
        share_within=ratio(within, len(hours)),
    )


def _by_priority(pairs: Sample, default: str) -> dict[str, list[float]]:
    grouped: dict[str, list[float]] = defaultdict(list)
    for priority, hours in pairs:
        grouped[priority or default].append(hours)
    return grouped


def _first_response(sample: DaySample, targets: Targets) -> tuple[tuple[TimeStats, ...], TimeStats]:
    """Per priority (each against its own target) and all together."""
    answered = _by_priority(sample.first_response, targets.default_priority)
    waiting = _by_priority(sample.unanswered, targets.default_priority)
    goal = dict(targets.first_response_hours)
    rows = tuple(first_response_stats(answered[p], waiting[p], goal[p], p) for p in PRIORITIES)
    hours = [h for _, h in sample.first_response]
    within, missed = sum(r.within for r in rows), sum(r.missed_unanswered for r in rows)
    overall = TimeStats(
        priority="all",
        target_hours=0.0,
        measured=len(hours),
        within=within,
        missed_unanswered=missed,
        awaiting=sum(r.awaiting for r in rows),
        median_hours=_hours(median(hours)),
        p90_hours=_hours(percentile(hours, 90)),
        mean_hours=_hours(sum(hours) / len(hours)) if hours else None,
        share_within=ratio(within, len(hours) + missed),
    )
    return rows, overall


def _resolution(sample: DaySample, targets: Targets) -> Resolution:
    goal = targets.resolution_goal_hours
    per_priority = dict(targets.resolution_hours)
    grouped = _by_priority(sample.resolution, targets.default_priority)
    overall = resolution_stats([h for _, h in sample.resolution], goal, "all")
    return Resolution(
        overall=overall,
        by_priority=tuple(resolution_stats(grouped[p], per_priority[p], p) for p in PRIORITIES),
        mean_within_goal=None if overall.mean_hours is None else overall.mean_hours <= goal,
    )


def _intake(mix: Sequence[TicketMix], targets: Targets) -> IntakeFigures:
    def label(value: str | None) -> str:
        return value or "(none)"

    return IntakeFigures(
        total=sum(r.count for r in mix),
        needs_review=sum(r.needs_review for r in mix),
        by_kind=_counts((label(r.kind), r.count) for r in mix),
        by_category=_counts((label(r.category), r.count) for r in mix),
        by_priority=_counts(
            [(r.priority or f"(none: {targets.default_priority})", r.count) for r in mix],
            order=PRIORITIES,
        ),
        by_mailbox=_counts((r.mailbox, r.count) for r in mix),
    )


def parse_escalation(detail: str) -> tuple[str, str, str]:
    """("L1", "L2", reason) from "L1 -> L2: reason"; unknown parts are "?"."""
    tiers, _, reason = detail.partition(":")
    source, arrow, target = tiers.partition("->")
    if not arrow:
        return "?", "?", detail.strip()
    return source.strip() or "?", target.strip() or "?", reason.strip()


def _backlog(cells: Sequence[BacklogCell]) -> Backlog:
    grid: dict[str, list[int]] = {}
    for cell in cells:
        grid.setdefault(cell.tier, [0] * len(BACKLOG_BUCKETS))[cell.bucket] += cell.count
    tiers = [t for t in TIERS if t in grid] + sorted(t for t in grid if t not in TIERS)
    rows = tuple(BacklogRow(tier=t, counts=tuple(grid[t]), total=sum(grid[t])) for t in tiers)
    total = sum(r.total for r in rows)
    buckets = tuple(
        Count(label=label, count=n, share=ratio(n, total) or 0.0)
        for label, n in zip(
            (b[0] for b in BACKLOG_BUCKETS),
            (sum(r.counts[i] for r in rows) for i in range(len(BACKLOG_BUCKETS))),
        )
    )
    return Backlog(total=total, buckets=buckets, rows=rows)


def _review(suggestions: Sequence[SuggestionCount], decisions: Sequence[DecisionPair]) -> Review:
    decided: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    checked: Counter[str] = Counter()
    confirmed: Counter[str] = Counter()
    wrong: Counter[tuple[str, str, str]] = Counter()
    for pair in decisions:  # one decision is one field an agent looked at (corrected or accepted)
        if pair.suggested is None:  # the model gave no label: nothing to agree or disagree with
            continue
        decided[pair.head] += pair.count
        if pair.applied:
            checked[pair.head] += pair.count
        if pair.suggested == pair.chosen:
            agreed[pair.head] += pair.count
            if pair.applied:
                confirmed[pair.head] += pair.count
        else:
            wrong[(pair.head, pair.suggested, pair.chosen)] += pair.count
    totals = {s.head: s for s in suggestions}
    heads = tuple(
        HeadReview(
            head=head,
            suggested=totals[head].total if head in totals else 0,
            applied=totals[head].applied if head in totals else 0,
            apply_rate=ratio(totals[head].applied, totals[head].total) if head in totals else None,
            decided=decided[head],
            agreed=agreed[head],
            agreement=ratio(agreed[head], decided[head]),
            applied_checked=checked[head],
            applied_confirmed=confirmed[head],
            applied_precision=ratio(confirmed[head], checked[head]),
        )
        for head in sorted(set(totals) | set(decided))
    )
    corrections = tuple(
        Correction(head=h, suggested=s, chosen=c, count=n)
        for (h, s, c), n in sorted(wrong.items(), key=lambda kv: (-kv[1], kv[0]))[:LIST_LIMIT]
    )
    categories = _counts((s, n) for (h, s, _), n in wrong.items() if h == "category")
    return Review(
        heads=heads,
        decided=sum(decided.values()),
        agreed=sum(agreed.values()),
        agreement=ratio(sum(agreed.values()), sum(decided.values())),
        corrected_categories=categories[:5],
        corrections=corrections,
    )


def _health(inbound: Sequence[InboundCount], outbox_failed: Sequence[tuple[str, int]]) -> Health:
    by_disposition: Counter[str] = Counter()
    for row in inbound:
        by_disposition[row.disposition] += row.count
    screened = [
        (row.rule or "(no rule)", row.count) for row in inbound if row.disposition == "screened"
    ]
    failed = _counts(outbox_failed)
    return Health(
        received=sum(by_disposition.values()),
        tickets_created=by_disposition["ticket_created"],
        replies=by_disposition["reply_added"],
        screened=by_disposition["screened"],
        screened_by_rule=_counts(screened),
        duplicates=by_disposition["duplicate"],
        quarantined=by_disposition["quarantined"],
        pending=by_disposition["pending"],
        outbox_failed=sum(c.count for c in failed),
        outbox_failed_by_template=failed,
        acks_held=sum(row.count for row in inbound if row.rule in ACK_HELD_RULES),
    )


def _trend(inp: DigestInput) -> tuple[TrendDay, ...]:
    samples = {sample.day: sample for sample in inp.days}
    trend = []
    for n in range(TREND_DAYS - 1, -1, -1):
        day = inp.day - timedelta(days=n)
        sample = samples.get(day, DaySample(day=day))
        _, first = _first_response(sample, inp.targets)
        resolved = resolution_stats(
            [h for _, h in sample.resolution], inp.targets.resolution_goal_hours, "all"
        )
        trend.append(
            TrendDay(
                day=day,
                tickets_in=len(sample.first_response) + len(sample.unanswered),
                first_response_share=first.share_within,
                first_response_median_hours=first.median_hours,
                resolved=resolved.measured,
                resolution_mean_hours=resolved.mean_hours,
                breaches=sample.breaches,
                escalations=sample.escalations,
            )
        )
    return tuple(trend)


def build_digest(inp: DigestInput) -> DigestFigures:
    """All figures of the reported day (and the trailing trend) from the loaded rows.

    `inp.days` holds the trend window (a missing day counts as empty); breaches and escalations
    are the reported day's. Lists are capped at LIST_LIMIT entries while their counts stay complete.
    """
    start, end = day_window(inp.day, inp.timezone)
    sample = next((d for d in inp.days if d.day == inp.day), DaySample(day=inp.day))
    fr_rows, fr_overall = _first_response(sample, inp.targets)
    parsed = [(e, parse_escalation(e.detail)) for e in inp.escalations]
    return DigestFigures(
        day=inp.day,
        timezone=inp.timezone,
        generated_at=inp.now,
        window_start=start,
        window_end=end,
        intake=_intake(inp.mix, inp.targets),
        first_response=fr_rows,
        first_response_overall=fr_overall,
        resolution=_resolution(sample, inp.targets),
        breaches=tuple(
            BreachItem(ref=b.ref, subject=b.subject, clock=b.clock, tier=b.tier)
            for b in inp.breaches[:LIST_LIMIT]
        ),
        breach_count=len(inp.breaches),
        breaches_by_tier=_counts([(b.tier, 1) for b in inp.breaches], order=TIERS),
        escalations=tuple(
            EscalationItem(ref=e.ref, subject=e.subject, from_tier=src, to_tier=dst, reason=why)
            for e, (src, dst, why) in parsed[:LIST_LIMIT]
        ),
        escalation_count=len(inp.escalations),
        escalations_by_tier=_counts([(dst, 1) for _, (_, dst, _) in parsed], order=TIERS),
        backlog=_backlog(inp.backlog),
        flagged=inp.flagged[:LIST_LIMIT],
        flagged_count=len(inp.flagged),
        open_flagged=sum(c.flagged for c in inp.backlog),
        review=_review(inp.suggestions, inp.decisions),
        health=_health(inp.inbound, inp.outbox_failed),
        trend=_trend(inp),
        major_incidents=inp.major_incidents[:LIST_LIMIT],
        self_served=inp.self_served,
    )


# -- JSON ------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def figures_to_dict(figures: DigestFigures) -> dict[str, Any]:
    """The JSON form of the figures (the contract of `tiket report --json`)."""
    data: dict[str, Any] = _plain(asdict(figures))
    data["empty"] = figures.empty
    return data
