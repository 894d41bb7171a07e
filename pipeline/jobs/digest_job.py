"""Digest job: load the day's aggregates, build the figures, render and queue the managers' mail (EDGE).

The queries aggregate in SQL where a figure allows (GROUP BY counts); durations for medians and p90
are loaded as raw (created, answered/resolved, priority) triples for the 7-day trend window only.
Rows are read through the raw cursor (peewee's per-value datetime parsing would dominate at 1 M
tickets). Works on SQLite and PostgreSQL. The Message-ID `<digest-YYYY-MM-DD@domain>` keys the
reported day, so sending the same day twice queues one mail.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from peewee import JOIN, SQL, Case, Database, PostgresqlDatabase, fn

from pipeline.app import desk_identity
from pipeline.edges import models as m
from pipeline.edges.proactive_store import digest_rows
from pipeline.edges.store import Store, naive
from pipeline.records import MailIntent, OutgoingMail
from pipeline.settings import Settings
from pipeline.stages.digest import (
    BACKLOG_BUCKETS,
    TREND_DAYS,
    BacklogCell,
    DaySample,
    DecisionPair,
    DigestFigures,
    DigestInput,
    Escalation,
    FlaggedTicket,
    InboundCount,
    SlaBreach,
    SuggestionCount,
    TicketMix,
    build_digest,
    day_window,
    default_report_day,
    digest_due,
    targets_from,
)
from pipeline.stages.rendering import render_mail
from pipeline.vocabulary import OPEN_STATES

log = logging.getLogger(__name__)
TEMPLATE = "digest"


def digest_message_id(day: date, domain: str) -> str:
    """The fixed Message-ID of the digest reporting on `day`."""
    return f"<digest-{day.isoformat()}@{domain}>"


# -- loading ---------------------------------------------------------------------------------------
def _rows(db: Database, query: Any) -> list[tuple[Any, ...]]:
    """Run a peewee query through the raw cursor: plain tuples, no per-value conversion."""
    sql, params = query.sql()
    return list(db.execute_sql(sql, params).fetchall())


def _between(field: Any, start: datetime, end: datetime) -> Any:
    return (field >= naive(start)) & (field < naive(end))


def _hours(db: Database, later: str, earlier: str) -> str:
    """SQL for the hours between two timestamp expressions (SQLite or PostgreSQL)."""
    if isinstance(db, PostgresqlDatabase):
        return f"CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS DOUBLE PRECISION) / 3600.0"
    return f"(julianday({later}) - julianday({earlier})) * 24.0"


def load_digest_input(db: Database, settings: Settings, day: date, now: datetime) -> DigestInput:
    """Every row build_digest needs for `day` (and its trailing trend), aggregated in SQL."""
    tz = settings.desk.timezone
    start, end = day_window(day, tz)
    days = tuple(_day_sample(db, day - timedelta(days=n), tz, now) for n in range(TREND_DAYS))
    majors, self_served = digest_rows(start, end)
    return DigestInput(
        major_incidents=majors,
        self_served=self_served,
        day=day,
        timezone=tz,
        now=now,
        targets=targets_from(settings),
        days=days,
        mix=_mix(db, start, end),
        backlog=_backlog(db, now),
        breaches=_breaches(db, start, end),
        escalations=_escalations(db, start, end),
        flagged=_flagged(db, start, end),
        suggestions=_suggestions(db, start, end),
        decisions=_decisions(db, start, end),
        inbound=_inbound(db, start, end),
        outbox_failed=_outbox_failed(db, start, end),
    )


def _day_sample(db: Database, day: date, tz: str, now: datetime) -> DaySample:
    """(priority, hours) pairs of one local day, durations computed by the database."""
    start, end = day_window(day, tz)
    T, q, p = m.Ticket, db.quote[0], db.param
    created, first, resolved = (
        f"{q}{name}{q}" for name in ("created_at", "first_response_at", "resolved_at")
    )
    at_now = f"CAST({p} AS TIMESTAMP)" if isinstance(db, PostgresqlDatabase) else p
    new = _rows(
        db,
        T.select(
            T.priority,
            SQL(_hours(db, first, created)),
            SQL(_hours(db, at_now, created), [naive(now)]),
        ).where(_between(T.created_at, start, end)),
    )
    done = _rows(
        db,
        T.select(T.priority, SQL(_hours(db, resolved, created))).where(
            _between(T.resolved_at, start, end)
        ),
    )
    S, A = m.SlaEvent, m.AuditRow
    breaches = _rows(
        db,
        S.select(fn.COUNT(SQL("*"))).where(
            (S.kind == "breach") & _between(S.created_at, start, end)
        ),
    )
    escalations = _rows(
        db,
        A.select(fn.COUNT(SQL("*"))).where(
            (A.action == "escalated") & _between(A.created_at, start, end)
        ),
    )
    return DaySample(
        day=day,
        first_response=tuple((pr, h) for pr, h, _ in new if h is not None),
        unanswered=tuple((pr, age) for pr, h, age in new if h is None),
        resolution=tuple((pr, h) for pr, h in done),
        breaches=int(breaches[0][0]),
        escalations=int(escalations[0][0]),
    )


def _flag(field: Any) -> Any:
    """SUM-able 1/0 of a boolean column (PostgreSQL cannot SUM booleans)."""
    return fn.SUM(Case(None, [(field == True, 1)], 0))


def _mix(db: Database, start: datetime, end: datetime) -> tuple[TicketMix, ...]:
    T = m.Ticket
    query = (
        T.select(
            T.kind, T.category, T.priority, T.mailbox, fn.COUNT(SQL("*")), _flag(T.needs_review)
        )
        .where(_between(T.created_at, start, end))
        .group_by(T.kind, T.category, T.priority, T.mailbox)
    )
    return tuple(
        TicketMix(kind=k, category=c, priority=p, mailbox=mb, count=n, needs_review=int(r or 0))
        for k, c, p, mb, n, r in _rows(db, query)
    )


def _backlog(db: Database, now: datetime) -> tuple[BacklogCell, ...]:
    T = m.Ticket
    # Oldest bucket first: CASE takes the first matching branch.
    branches = [
        (T.created_at <= naive(now - timedelta(hours=lower)), index)
        for index, (_, lower) in reversed(list(enumerate(BACKLOG_BUCKETS)))
        if lower > 0
    ]
    bucket = Case(None, branches, 0)
    # Bucket first: grouping by tier first makes SQLite walk the (tier, status) index and visit
    # every row; this order keeps it on the covering (status, tier, created_at, ...) index.
    query = (
        T.select(bucket, T.tier, fn.COUNT(SQL("*")), _flag(T.breach_suspected))
        .where(T.status.in_(OPEN_STATES))
        .group_by(bucket, T.tier)
    )
    return tuple(
        BacklogCell(tier=t, bucket=int(b), count=n, flagged=int(f or 0))
        for b, t, n, f in _rows(db, query)
    )


def _breaches(db: Database, start: datetime, end: datetime) -> tuple[SlaBreach, ...]:
    S, T = m.SlaEvent, m.Ticket
    query = (
        S.select(T.ref, T.subject, S.clock, S.tier)
        .join(T)
        .where((S.kind == "breach") & _between(S.created_at, start, end))
        .order_by(S.created_at, T.ref)
    )
    return tuple(SlaBreach(ref=r, subject=s, clock=c, tier=t) for r, s, c, t in _rows(db, query))


def _escalations(db: Database, start: datetime, end: datetime) -> tuple[Escalation, ...]:
    A, T = m.AuditRow, m.Ticket
    query = (
        A.select(T.ref, T.subject, A.detail)
        .join(T)
        .where((A.action == "escalated") & _between(A.created_at, start, end))
        .order_by(A.created_at, T.ref)
    )
    return tuple(Escalation(ref=r, subject=s, detail=d) for r, s, d in _rows(db, query))


def _flagged(db: Database, start: datetime, end: datetime) -> tuple[FlaggedTicket, ...]:
    T = m.Ticket
    query = (
        T.select(T.ref, T.subject, T.status, T.tier)
        .where((T.breach_suspected == True) & _between(T.created_at, start, end))
        .order_by(T.ref)
    )
    return tuple(
        FlaggedTicket(ref=r, subject=s, status=st, tier=t) for r, s, st, t in _rows(db, query)
    )


def _suggestions(db: Database, start: datetime, end: datetime) -> tuple[SuggestionCount, ...]:
    S, T = m.SuggestionRow, m.Ticket
    query = (
        S.select(S.head, fn.COUNT(SQL("*")), _flag(S.applied))
        .join(T)
        .where(_between(T.created_at, start, end))
        .group_by(S.head)
    )
    return tuple(
        SuggestionCount(head=h, total=n, applied=int(a or 0)) for h, n, a in _rows(db, query)
    )


def _decisions(db: Database, start: datetime, end: datetime) -> tuple[DecisionPair, ...]:
    D, S = m.Decision, m.SuggestionRow
    query = (
        D.select(D.head, S.label, D.label, S.applied, fn.COUNT(SQL("*")))
        .join(S, JOIN.LEFT_OUTER, on=(S.ticket == D.ticket) & (S.head == D.head))
        .where(_between(D.created_at, start, end))
        .group_by(D.head, S.label, D.label, S.applied)
    )
    return tuple(
        DecisionPair(head=h, suggested=s, chosen=c, applied=bool(a), count=n)
        for h, s, c, a, n in _rows(db, query)
    )


def _inbound(db: Database, start: datetime, end: datetime) -> tuple[InboundCount, ...]:
    inbound = m.Inbound
    query = (
        inbound.select(inbound.disposition, inbound.rule, fn.COUNT(SQL("*")))
        .where(_between(inbound.received_at, start, end))
        .group_by(inbound.disposition, inbound.rule)
    )
    return tuple(InboundCount(disposition=d, rule=r, count=n) for d, r, n in _rows(db, query))


def _outbox_failed(db: Database, start: datetime, end: datetime) -> tuple[tuple[str, int], ...]:
    outbox = m.OutboxRow
    query = (
        outbox.select(outbox.template, fn.COUNT(SQL("*")))
        .where((outbox.status == "failed") & _between(outbox.created_at, start, end))
        .group_by(outbox.template)
    )
    return tuple((t, int(n)) for t, n in _rows(db, query))


def compute_figures(
    store: Store, settings: Settings, day: date | None, now: datetime
) -> DigestFigures:
    """The figures for `day` (default: yesterday in the desk's time zone)."""
    day = day or default_report_day(now, settings.desk.timezone)
    return build_digest(load_digest_input(store.db, settings, day, now))


# -- rendering and sending -------------------------------------------------------------------------
def managers(settings: Settings) -> tuple[str, ...]:
    """The [digest] managers addresses."""
    return tuple(str(a) for a in settings.section("digest")["managers"])


def render_digest(
    figures: DigestFigures, settings: Settings, now: datetime, to: Iterable[str] | None = None
) -> OutgoingMail:
    """The digest as a multipart mail (text + HTML) with its fixed Message-ID; never sends."""
    desk = desk_identity(settings)
    intent = MailIntent(
        template=TEMPLATE,
        to=tuple(managers(settings) if to is None else to),
        purpose="digest",
        context=(("f", figures),),
    )
    return render_mail(
        intent,
        ref=None,
        desk=desk,
        now=now,
        message_id=digest_message_id(figures.day, desk.message_id_domain),
    )


def queue_digest(
    store: Store, settings: Settings, day: date | None, now: datetime
) -> tuple[DigestFigures, bool]:
    """Build, render and queue the digest to the managers; (figures, queued now).

    False when the digest of that day was already queued (same Message-ID). Raises
    ValueError when no managers are configured.
    """
    to = managers(settings)
    if not to:
        raise ValueError("no [digest] managers configured")
    figures = compute_figures(store, settings, day, now)
    mail = render_digest(figures, settings, now, to)
    added = store.queue_mails([mail], now) > 0
    log.info(
        "digest day=%s action=%s recipients=%d",
        figures.day,
        "queued" if added else "exists",
        len(to),
    )
    return figures, added


def already_queued(day: date, settings: Settings) -> bool:
    """True when the digest reporting on `day` is in the outbox (in any state)."""
    message_id = digest_message_id(day, settings.desk.message_id_domain)
    return (
        m.OutboxRow.select(m.OutboxRow.message_id)
        .where(m.OutboxRow.message_id == message_id)
        .exists()
    )


def run_digest_job(store: Store, settings: Settings, now: datetime) -> bool:
    """The daemon's per-minute job: queue yesterday's digest once, after [digest] send_at.

    Cheap when nothing is due (one indexed lookup); True when a digest was queued now. The
    outbox job delivers it on its next tick.
    """
    day = default_report_day(now, settings.desk.timezone)
    last_sent = day if already_queued(day, settings) else None
    if not digest_due(settings, now, last_sent):
        return False
    return queue_digest(store, settings, day, now)[1]
