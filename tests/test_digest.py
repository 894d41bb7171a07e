"""The managers' daily digest: pure figures, the fixture database, templates, CLI and schedule."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pipeline import cli as cli_module
from pipeline.app import Tiket
from pipeline.digest_cli import register
from pipeline.edges import models as m
from pipeline.jobs.digest_job import compute_figures, render_digest, run_digest_job
from pipeline.jobs.intake import NoTriage
from pipeline.settings import Settings, load_settings
from pipeline.stages.digest import (
    BACKLOG_BUCKETS,
    DaySample,
    DecisionPair,
    DigestFigures,
    DigestInput,
    SuggestionCount,
    Targets,
    bucket_of,
    build_digest,
    day_window,
    default_report_day,
    digest_due,
    figures_to_dict,
    median,
    parse_escalation,
    percentile,
)
from tests import tiket_fixtures
from tests.tiket_fixtures import write_config

TZ = "Asia/Kuala_Lumpur"  # UTC+8: the reported day is 16:00 UTC to 16:00 UTC
DAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # 08:00 local the next morning
MANAGERS = ("boss@example.org", "deputy@example.org")
TARGETS = Targets(
    first_response_hours=(("P1", 1.0), ("P2", 2.0), ("P3", 3.0), ("P4", 3.0)),
    resolution_hours=(("P1", 4.0), ("P2", 8.0), ("P3", 24.0), ("P4", 72.0)),
    default_priority="P3",
)


def local(day: int, hour: float, month: int = 11) -> datetime:
    """A desk-local time in November 2026 as aware UTC."""
    whole = int(hour)
    moment = datetime(2026, month, day, whole, round((hour - whole) * 60), tzinfo=ZoneInfo(TZ))
    return moment.astimezone(UTC)


# -- pure figures ----------------------------------------------------------------------------------
@pytest.mark.one_backend
@pytest.mark.parametrize(
    "values, expected_median, expected_p90",
    [
        ([], None, None),
        ([5.0], 5.0, 5.0),
        ([1.0, 3.0], 2.0, 3.0),
        ([3.0, 1.0, 2.0], 2.0, 3.0),
        ([float(n) for n in range(1, 11)], 5.5, 9.0),
        ([float(n) for n in range(1, 21)], 10.5, 18.0),
    ],
)
def test_median_and_nearest_rank_p90(
    values: list[float], expected_median: float | None, expected_p90: float | None
) -> None:
    """Median averages the middle pair; p90 is the ceil(0.9 n)-th smallest observed value."""
    assert median(values) == expected_median
    assert percentile(values, 90) == expected_p90


@pytest.mark.one_backend
@pytest.mark.parametrize(
    "age_hours, label",
    [
        (0.0, "<4 h"),
        (3.99, "<4 h"),
        (4.0, "4-24 h"),
        (23.9, "4-24 h"),
        (24.0, "1-3 d"),
        (71.9, "1-3 d"),
        (72.0, "3-7 d"),
        (167.9, "3-7 d"),
        (168.0, ">7 d"),
        (5000.0, ">7 d"),
    ],
)
def test_backlog_bucket_boundaries(age_hours: float, label: str) -> None:
    """An age lands in the bucket whose lower bound it reaches."""
    assert BACKLOG_BUCKETS[bucket_of(age_hours)][0] == label


@pytest.mark.one_backend
def test_first_response_per_priority_median_p90_and_share() -> None:
    """Per priority: median and p90 of answered tickets; unanswered past target count as missed."""
    sample = DaySample(
        day=DAY,
        first_response=(("P1", 0.5), ("P1", 2.0), ("P1", 0.25), ("P2", 1.0), (None, 1.5)),
        unanswered=(("P3", 10.0), ("P4", 8.5)),
    )
    figures = build_digest(
        DigestInput(day=DAY, timezone=TZ, now=NOW, targets=TARGETS, days=(sample,))
    )
    p1, p2, p3, p4 = figures.first_response
    assert (p1.measured, p1.within, p1.median_hours, p1.p90_hours, p1.share_within) == (
        3,
        2,
        0.5,
        2.0,
        0.6667,
    )
    assert (p2.share_within, p2.median_hours) == (1.0, 1.0)
    assert (p3.measured, p3.missed_unanswered, p3.share_within) == (1, 1, 0.5)  # None -> P3
    assert (p4.measured, p4.missed_unanswered, p4.share_within, p4.median_hours) == (
        0,
        1,
        0.0,
        None,
    )
    overall = figures.first_response_overall
    assert (overall.measured, overall.within, overall.missed_unanswered) == (5, 4, 2)
    assert (overall.median_hours, overall.p90_hours, overall.share_within) == (1.0, 2.0, 0.5714)
    assert figures.intake.total == 0 and figures.trend[-1].tickets_in == 7


@pytest.mark.one_backend
def test_unanswered_ticket_within_target_is_awaiting_not_missed() -> None:
    """A ticket 30 minutes old without an answer is awaiting: no share yet, no miss."""
    sample = DaySample(day=DAY, unanswered=(("P1", 0.5),))
    figures = build_digest(
        DigestInput(day=DAY, timezone=TZ, now=NOW, targets=TARGETS, days=(sample,))
    )
    p1 = figures.first_response[0]
    assert (p1.awaiting, p1.missed_unanswered, p1.share_within) == (1, 0, None)


@pytest.mark.one_backend
def test_resolution_mean_median_p90_against_the_goal() -> None:
    """Resolved 3 h, 10 h and 48 h: mean 20.33 h within the 24 h goal, p90 48 h, 2 of 3 within."""
    sample = DaySample(day=DAY, resolution=(("P1", 3.0), ("P1", 10.0), ("P4", 48.0)))
    figures = build_digest(
        DigestInput(day=DAY, timezone=TZ, now=NOW, targets=TARGETS, days=(sample,))
    )
    res = figures.resolution
    assert (
        res.overall.measured,
        res.overall.mean_hours,
        res.overall.median_hours,
        res.overall.p90_hours,
        res.overall.share_within,
    ) == (3, 20.33, 10.0, 48.0, 0.6667)
    assert res.mean_within_goal is True
    p1 = res.by_priority[0]
    assert (p1.target_hours, p1.measured, p1.within, p1.share_within) == (4.0, 2, 1, 0.5)


@pytest.mark.one_backend
def test_trend_keeps_seven_days_in_order_with_missing_days_empty() -> None:
    """Samples for two days: the trend lists 7 days oldest first, the others at zero."""
    days = (
        DaySample(day=DAY, first_response=(("P1", 0.5),), breaches=2),
        DaySample(day=DAY - timedelta(days=3), resolution=(("P2", 30.0),), escalations=1),
        DaySample(day=DAY - timedelta(days=9), first_response=(("P1", 9.0),)),
    )
    trend = build_digest(
        DigestInput(day=DAY, timezone=TZ, now=NOW, targets=TARGETS, days=days)
    ).trend
    assert [d.day for d in trend] == [DAY - timedelta(days=n) for n in range(6, -1, -1)]
    assert [d.tickets_in for d in trend] == [0, 0, 0, 0, 0, 0, 1]
    assert (trend[3].resolved, trend[3].resolution_mean_hours, trend[3].escalations) == (1, 30.0, 1)
    assert (trend[6].breaches, trend[6].first_response_share, trend[0].first_response_share) == (
        2,
        1.0,
        None,
    )


@pytest.mark.one_backend
def test_model_agreement_auto_apply_and_most_corrected_categories() -> None:
    """Agreement is L1 label == model label over decisions with a model label, per head and overall."""
    decisions = (
        DecisionPair(head="category", suggested="network", chosen="network", count=6),
        DecisionPair(head="category", suggested="email", chosen="account", count=3),
        DecisionPair(head="category", suggested="network", chosen="hardware", count=1),
        DecisionPair(head="kind", suggested="request", chosen="request", count=4),
        DecisionPair(head="kind", suggested=None, chosen="incident", count=5),
    )
    suggestions = (
        SuggestionCount(head="category", total=20, applied=5),
        SuggestionCount(head="kind", total=20, applied=18),
    )
    review = build_digest(
        DigestInput(
            day=DAY,
            timezone=TZ,
            now=NOW,
            targets=TARGETS,
            suggestions=suggestions,
            decisions=decisions,
        )
    ).review
    heads = {h.head: h for h in review.heads}
    assert (heads["category"].agreement, heads["category"].apply_rate) == (0.6, 0.25)
    assert (heads["kind"].decided, heads["kind"].agreement, heads["kind"].apply_rate) == (
        4,
        1.0,
        0.9,
    )
    assert (review.decided, review.agreed, review.agreement) == (14, 10, 0.7143)
    assert [(c.label, c.count) for c in review.corrected_categories] == [
        ("email", 3),
        ("network", 1),
    ]


@pytest.mark.one_backend
def test_empty_day_has_no_division_by_zero() -> None:
    """No rows at all: every share and time is None, counts are zero, the day is empty."""
    figures = build_digest(DigestInput(day=DAY, timezone=TZ, now=NOW, targets=TARGETS))
    assert figures.empty and figures.backlog.total == 0 and figures.review.agreement is None
    assert figures.first_response_overall.share_within is None
    assert figures.resolution.overall.mean_hours is None and len(figures.trend) == 7


@pytest.mark.one_backend
@pytest.mark.parametrize(
    "detail, expected",
    [
        ("L1 -> L2: first response breached", ("L1", "L2", "first response breached")),
        ("L2->L3: needs the network team", ("L2", "L3", "needs the network team")),
        ("manual", ("?", "?", "manual")),
    ],
)
def test_escalation_detail_is_parsed(detail: str, expected: tuple[str, str, str]) -> None:
    """The audit detail "L1 -> L2: reason" gives the tiers and the reason."""
    assert parse_escalation(detail) == expected


@pytest.mark.one_backend
def test_day_window_follows_the_desk_time_zone_and_dst() -> None:
    """A local day is its UTC bounds; the autumn DST day in Berlin lasts 25 hours."""
    start, end = day_window(DAY, TZ)
    assert (start, end) == (
        datetime(2026, 11, 25, 16, tzinfo=UTC),
        datetime(2026, 11, 26, 16, tzinfo=UTC),
    )
    start, end = day_window(date(2026, 10, 25), "Europe/Berlin")
    assert end - start == timedelta(hours=25)
    assert default_report_day(datetime(2026, 11, 26, 17, tzinfo=UTC), TZ) == DAY


def _settings_for_due(
    tmp_path: Path, managers: tuple[str, ...], send_at: str = "07:30"
) -> Settings:
    return load_settings(_config(tmp_path, managers=managers, send_at=send_at), env={})


@pytest.mark.one_backend
@pytest.mark.parametrize(
    "local_hour, managers, send_at, last_sent, due",
    [
        (7.0, MANAGERS, "07:30", None, False),  # before send_at
        (7.5, MANAGERS, "07:30", None, True),
        (23.0, MANAGERS, "07:30", None, True),  # late start catches up the same day
        (8.0, MANAGERS, "07:30", date(2026, 11, 26), False),  # yesterday's digest already sent
        (8.0, MANAGERS, "07:30", date(2026, 11, 25), True),
        (8.0, (), "07:30", None, False),  # nobody to send to
        (8.0, MANAGERS, "", None, False),  # schedule disabled
    ],
)
def test_digest_due_once_a_day_after_send_at(
    tmp_path: Path,
    local_hour: float,
    managers: tuple[str, ...],
    send_at: str,
    last_sent: date | None,
    due: bool,
) -> None:
    """Due after send_at (local) when managers are set and yesterday's digest is not sent yet."""
    settings = _settings_for_due(tmp_path, managers, send_at)
    assert digest_due(settings, local(27, local_hour), last_sent) is due


@pytest.mark.one_backend
# -- the fixture database ---------------------------------------------------------------------------
def _config(tmp_path: Path, managers: tuple[str, ...] = MANAGERS, send_at: str = "07:30") -> Path:
    """A config file for tmp_path with the desk in Kuala Lumpur and [digest] set."""
    path = write_config(
        tmp_path / "tiket.toml",
        {
            "desk": {"data_dir": str(tmp_path / "data"), "log_level": "WARNING", "timezone": TZ},
            "database": tiket_fixtures.database_section(),
            "triage": {"build_default": False, "model_dir": str(tmp_path / "no-model")},
            "outbox": {
                "url": f"file:{tmp_path / 'outbox'}",
                "tls": "none",
                "retry_initial_seconds": 1,
                "retry_max_seconds": 2,
            },
        },
        [{"name": "test", "url": f"maildir:{tmp_path / 'Maildir'}"}],
    )
    listed = ", ".join(json.dumps(a) for a in managers)
    with path.open("a", encoding="utf-8") as handle:  # write_config has no lists
        handle.write(f'[digest]\nsend_at = "{send_at}"\nmanagers = [{listed}]\n')
    return path


def _n(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def _ticket(
    number: int,
    created: datetime,
    *,
    priority: str | None = "P3",
    status: str = "open",
    tier: str = "L1",
    kind: str = "incident",
    category: str = "network",
    first: float | None = None,
    resolved: datetime | None = None,
    breach: bool = False,
    mailbox: str = "support",
) -> m.Ticket:
    return m.Ticket.create(
        ref=f"TKT-{number:06d}",
        subject=f"Subject of ticket {number}",
        requester="u@example.com",
        status=status,
        kind=kind,
        category=category,
        priority=priority,
        tier=tier,
        breach_suspected=breach,
        needs_review=number % 2 == 0,
        mailbox=mailbox,
        created_at=_n(created),
        updated_at=_n(created),
        first_response_at=_n(created + timedelta(hours=first)) if first is not None else None,
        resolved_at=_n(resolved),
        closed_at=_n(resolved) if status == "closed" else None,
    )


def build_busy_day() -> dict[str, m.Ticket]:
    """A known day: 7 tickets in, 3 resolved, breaches, escalations, decisions and intake health."""
    t = {
        "t1": _ticket(
            1, local(26, 9), priority="P1", first=0.5, resolved=local(26, 12), status="resolved"
        ),
        "t2": _ticket(
            2, local(26, 10), priority="P1", first=2.0, resolved=local(26, 20), status="closed"
        ),
        "t3": _ticket(
            3,
            local(26, 11),
            priority="P2",
            first=1.0,
            tier="L2",
            kind="request",
            category="software",
            mailbox="helpdesk",
        ),
        "t4": _ticket(
            4,
            local(26, 13),
            priority=None,
            first=1.5,
            status="pending",
            kind="request",
            category="email",
        ),
        "t5": _ticket(5, local(26, 22), priority="P3", status="new"),
        "t6": _ticket(6, local(26, 23.5), priority="P4", status="new", kind="question"),
        "t7": _ticket(
            7,
            local(26, 15),
            priority="P1",
            first=1 / 3,
            status="in_progress",
            tier="L3",
            category="security",
            breach=True,
        ),
        "t8": _ticket(8, local(20, 10), status="open"),
        "t9": _ticket(9, local(15, 10), status="open", tier="L2", breach=True),
        "t10": _ticket(
            10, local(24, 9), priority="P4", first=1.0, resolved=local(26, 9), status="resolved"
        ),
        "t11": _ticket(11, local(27, 6), status="new"),
        "t12": _ticket(12, local(25, 12), status="open", first=0.5),
    }
    at = _n
    for ticket, clock, kind, tier, when in (
        (t["t2"], "first_response", "breach", "L1", local(26, 11)),
        (t["t3"], "resolution", "breach", "L2", local(26, 20)),
        (t["t3"], "resolution", "warning", "L2", local(26, 19)),
        (t["t10"], "resolution", "breach", "L1", local(24, 21)),
    ):
        m.SlaEvent.create(ticket=ticket, clock=clock, kind=kind, tier=tier, created_at=at(when))
    for ticket, detail, when in (
        (t["t3"], "L1 -> L2: first response breached", local(26, 12.5)),
        (t["t7"], "L2 -> L3: needs the security team", local(26, 16)),
        (t["t9"], "L1 -> L2: old", local(15, 12)),
    ):
        m.AuditRow.create(
            ticket=ticket, action="escalated", actor="tiket", detail=detail, created_at=at(when)
        )
    for key, heads in (("t1", "kcp"), ("t2", "kc"), ("t3", "k"), ("t4", "k")):
        for head, label in (("kind", "incident"), ("category", "network"), ("priority", "P3")):
            m.SuggestionRow.create(
                ticket=t[key],
                head=head,
                label=label,
                confidence=0.9,
                applied=head[0] in heads,
                model_version="test-1",
                created_at=at(local(26, 9)),
            )
    for key, head, chosen, when in (
        ("t2", "category", "hardware", local(26, 12)),
        ("t3", "category", "network", local(26, 13)),
        ("t4", "category", "account", local(26, 14)),
        ("t4", "kind", "incident", local(26, 14)),
        ("t3", "priority", "P2", local(26, 13)),
        ("t1", "kind", "request", local(25, 14)),
    ):
        m.Decision.create(
            ticket=t[key],
            head=head,
            label=chosen,
            suggested=None,
            agent="agent@example.org",
            created_at=at(when),
        )
    dispositions = (
        ["ticket_created"] * 7
        + ["reply_added"] * 2
        + ["duplicate", "quarantined"]
        + ["screened"] * 3
    )
    rules = {11: "is_bounce", 12: "is_bounce", 13: "is_auto_reply"}
    for uid, disposition in enumerate(dispositions):
        m.Inbound.create(
            mailbox="test",
            uidvalidity=1,
            uid=uid,
            message_id=f"<i{uid}@x>",
            sha256=f"{uid:064x}",
            size=0,
            received_at=at(local(26, 9)),
            state="quarantined" if disposition == "quarantined" else "done",
            disposition=disposition,
            rule=rules.get(uid),
        )
    m.Inbound.create(
        mailbox="test",
        uidvalidity=1,
        uid=99,
        message_id="<old@x>",
        sha256="0" * 64,
        size=0,
        received_at=at(local(25, 9)),
        state="done",
        disposition="ticket_created",
    )
    for n, (status, when) in enumerate(
        (("failed", local(26, 10)), ("sent", local(26, 10)), ("failed", local(25, 10)))
    ):
        m.OutboxRow.create(
            message_id=f"<o{n}@x>",
            template="acknowledgement",
            recipients="u@x",
            first_recipient="u@x",
            subject="s",
            raw=b"",
            status=status,
            next_attempt_at=at(when),
            give_up_at=at(when),
            created_at=at(when),
        )
    return t


@pytest.fixture
def busy(tmp_path: Path) -> Iterator[Tiket]:
    """A runtime on a migrated SQLite database holding the busy day."""
    settings = load_settings(_config(tmp_path), env={})
    runtime = Tiket.open(settings, triager=NoTriage())
    build_busy_day()
    yield runtime
    runtime.store.db.close()


def test_fixture_database_gives_the_known_figures(busy: Tiket) -> None:
    """The SQL aggregates over the busy day give the hand-computed figures."""
    f = compute_figures(busy.store, busy.settings, DAY, NOW)
    assert f.intake.total == 7 and f.intake.needs_review == 3
    assert {c.label: c.count for c in f.intake.by_priority} == {
        "P1": 3,
        "P2": 1,
        "P3": 1,
        "P4": 1,
        "(none: P3)": 1,
    }
    assert {c.label: c.count for c in f.intake.by_mailbox} == {"support": 6, "helpdesk": 1}
    o = f.first_response_overall
    assert (
        o.measured,
        o.within,
        o.missed_unanswered,
        o.median_hours,
        o.p90_hours,
        o.share_within,
    ) == (5, 4, 2, 1.0, 2.0, 0.5714)
    r = f.resolution.overall
    assert (r.measured, r.mean_hours, r.median_hours, r.p90_hours) == (3, 20.33, 10.0, 48.0)
    assert f.breach_count == 2 and {(b.ref, b.tier) for b in f.breaches} == {
        ("TKT-000002", "L1"),
        ("TKT-000003", "L2"),
    }
    assert f.escalation_count == 2
    assert [(c.label, c.count) for c in f.escalations_by_tier] == [("L2", 1), ("L3", 1)]
    assert f.escalations[0].subject == "Subject of ticket 3"
    assert f.backlog.total == 9
    assert [c.count for c in f.backlog.buckets] == [1, 5, 1, 1, 1]
    assert {row.tier: row.total for row in f.backlog.rows} == {"L1": 6, "L2": 2, "L3": 1}
    assert (f.flagged_count, f.open_flagged, f.flagged[0].ref) == (1, 2, "TKT-000007")
    heads = {h.head: h for h in f.review.heads}
    assert (
        heads["kind"].apply_rate,
        heads["category"].apply_rate,
        heads["priority"].apply_rate,
    ) == (1.0, 0.5, 0.25)
    assert (f.review.decided, f.review.agreed, f.review.agreement) == (5, 2, 0.4)
    assert [(c.label, c.count) for c in f.review.corrected_categories] == [("network", 2)]
    h = f.health
    assert (
        h.received,
        h.tickets_created,
        h.replies,
        h.screened,
        h.duplicates,
        h.quarantined,
        h.outbox_failed,
    ) == (14, 7, 2, 3, 1, 1, 1)
    assert [(c.label, c.count) for c in h.screened_by_rule] == [
        ("is_bounce", 2),
        ("is_auto_reply", 1),
    ]
    assert [d.tickets_in for d in f.trend] == [1, 0, 0, 0, 1, 1, 7]
    assert [d.breaches for d in f.trend] == [0, 0, 0, 0, 1, 0, 2]


# -- templates ---------------------------------------------------------------------------------------
def _parts(raw: bytes) -> tuple[Any, str, str]:
    message = message_from_bytes(raw, policy=policy.default)
    html = message.get_body(preferencelist=("html",))
    text = message.get_body(preferencelist=("plain",))
    assert html is not None and text is not None
    return message, str(text.get_content()), str(html.get_content())


def _key_numbers(f: DigestFigures) -> list[str]:
    """Figures as the templates print them (percent and hours with one decimal)."""
    return [
        f"{f.first_response_overall.share_within * 100:.1f}%",
        f"{f.resolution.overall.mean_hours:.1f} h",
        f"{f.first_response[0].p90_hours:.1f} h",
        f"{f.review.agreement * 100:.1f}%",
        "TKT-000002",
        "TKT-000007",
        "Subject of ticket 3",
    ]


def test_busy_day_renders_both_parts_with_the_same_figures(busy: Tiket) -> None:
    """Text and HTML parts of the busy day carry the same key numbers; the mail is automatic."""
    f = compute_figures(busy.store, busy.settings, DAY, NOW)
    mail = render_digest(f, busy.settings, NOW)
    message, text, html = _parts(mail.raw)
    for number in _key_numbers(f):
        assert number in text and number in html, number
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Message-ID"] == "<digest-2026-11-26@tiket.example.org>"
    assert tuple(a.strip() for a in message["To"].split(",")) == MANAGERS
    assert "No tickets came in" not in text
    Path("/tmp/digest-preview.html").write_text(html, encoding="utf-8")


def test_html_is_safe_for_mail_clients(busy: Tiket) -> None:
    """No scripts, no remote images, a max-width single column, bars with % widths."""
    f = compute_figures(busy.store, busy.settings, DAY, NOW)
    _, _, html = _parts(render_digest(f, busy.settings, NOW).raw)
    assert "<script" not in html.lower() and 'src="http' not in html.lower()
    assert "<img" not in html.lower() and "url(" not in html.lower()
    assert re.search(r"max-width:\s*6[0-4]\dpx", html)
    assert re.search(r'<td width="\d+%" style="background:#', html)


def test_empty_day_renders_a_clear_no_tickets_line(tmp_path: Path) -> None:
    """A database without any rows renders both parts, saying no tickets came in."""
    settings = load_settings(_config(tmp_path), env={})
    runtime = Tiket.open(settings, triager=NoTriage())
    f = compute_figures(runtime.store, settings, DAY, NOW)
    message, text, html = _parts(render_digest(f, settings, NOW).raw)
    assert (
        "No tickets came in on 2026-11-26." in text and "No tickets came in on 2026-11-26." in html
    )
    assert " 0 in, 0 resolved" in str(message["Subject"])


# -- CLI -----------------------------------------------------------------------------------------
@pytest.fixture
def tiket() -> Any:
    """pipeline.cli.main (it registers `digest` and `report`)."""
    return cli_module.main


def test_report_json_equals_the_figures_shown_in_the_preview(
    busy: Tiket, tiket: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`report --json` prints the figures the preview HTML and text show."""
    config = str(busy.settings.sources[-1])
    assert tiket(["--config", config, "report", "--date", "2026-11-26", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    preview = tmp_path / "preview.html"
    assert (
        tiket(["--config", config, "digest", "--preview", str(preview), "--date", "2026-11-26"])
        == 0
    )
    html, text = preview.read_text(encoding="utf-8"), preview.with_suffix(".txt").read_text()
    shown = {
        name: re.search(rf'data-figure="{name}">([^<]*)<', html).group(1)  # type: ignore[union-attr]
        for name in (
            "tickets_in",
            "first_response_share",
            "resolution_mean",
            "backlog",
            "agreement",
        )
    }
    assert shown == {
        "tickets_in": str(data["intake"]["total"]),
        "first_response_share": f"{data['first_response_overall']['share_within'] * 100:.1f}%",
        "resolution_mean": f"{data['resolution']['overall']['mean_hours']:.1f} h",
        "backlog": str(data["backlog"]["total"]),
        "agreement": f"{data['review']['agreement'] * 100:.1f}%",
    }
    figures = compute_figures(busy.store, busy.settings, DAY, NOW)
    expected = figures_to_dict(figures)
    for key in (
        "intake",
        "first_response",
        "resolution",
        "breaches",
        "escalations",
        "review",
        "health",
        "trend",
        "flagged",
    ):
        assert data[key] == expected[key], key
    for number in _key_numbers(figures):
        assert number in text and number in html, number


def test_send_twice_queues_one_row_and_delivers_it(busy: Tiket, tiket: Any, tmp_path: Path) -> None:
    """`digest --send` run twice for a day: one outbox row, sent once to the file outbox."""
    config = str(busy.settings.sources[-1])
    for _ in range(2):
        assert tiket(["--config", config, "digest", "--send", "--date", "2026-11-26"]) == 0
    rows = list(m.OutboxRow.select().where(m.OutboxRow.template == "digest"))
    assert len(rows) == 1 and rows[0].status == "sent"
    assert json.loads(rows[0].recipients) == list(MANAGERS)
    delivered = list((tmp_path / "outbox").glob("digest-2026-11-26*.eml"))
    assert len(delivered) == 1
    message, text, _ = _parts(delivered[0].read_bytes())
    assert "2026-11-26" in str(message["Subject"]) and "TKT-000007" in text


def test_send_without_managers_is_a_config_error(tmp_path: Path, tiket: Any) -> None:
    """With [digest] managers empty, --send exits 2 and queues nothing."""
    config = str(_config(tmp_path, managers=()))
    assert tiket(["--config", config, "digest", "--send"]) == 2
    assert m.OutboxRow.select().count() == 0


@pytest.mark.one_backend
def test_digest_commands_have_examples() -> None:
    """Both subcommands carry an epilog starting with "example:" and a handler."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    register(sub)
    for name in ("digest", "report"):
        command = sub.choices[name]
        assert (command.epilog or "").startswith("example:")
        assert callable(command.get_default("handler"))


# -- the daemon's job -------------------------------------------------------------------------------
def test_daemon_job_sends_once_per_day_after_send_at(busy: Tiket) -> None:
    """Before 07:30 nothing; at 07:31 yesterday's digest is queued; later ticks queue nothing."""
    assert run_digest_job(busy.store, busy.settings, local(27, 7)) is False
    assert run_digest_job(busy.store, busy.settings, local(27, 7.52)) is True
    assert run_digest_job(busy.store, busy.settings, local(27, 7.6)) is False
    assert run_digest_job(busy.store, busy.settings, local(27, 18)) is False
    ids = [row.message_id for row in m.OutboxRow.select().where(m.OutboxRow.template == "digest")]
    assert ids == ["<digest-2026-11-26@tiket.example.org>"]
    assert run_digest_job(busy.store, busy.settings, local(28, 8)) is True
    assert m.OutboxRow.select().where(m.OutboxRow.template == "digest").count() == 2


@pytest.mark.one_backend
def test_the_resolution_goal_comes_from_config(tmp_path: Path) -> None:
    """[digest] resolution_goal_hours replaces the 24 h default in the digest's targets."""
    from pipeline.stages.digest import targets_from

    settings = tiket_fixtures.test_settings(
        tmp_path, extra={"digest": {"resolution_goal_hours": 8.0}}
    )
    assert targets_from(settings).resolution_goal_hours == 8.0


@pytest.mark.one_backend
def test_applied_suggestions_are_scored_by_what_agents_later_did() -> None:
    """Agreement counts only looked-at fields; applied suggestions get their own precision."""
    from pipeline.stages.digest import DecisionPair, _review

    review = _review(
        (),
        (
            DecisionPair(head="category", suggested="printing", chosen="printing", count=3),
            DecisionPair(head="category", suggested="email", chosen="network", count=1),
            DecisionPair(head="priority", suggested="P3", chosen="P3", applied=True, count=8),
            DecisionPair(head="priority", suggested="P3", chosen="P1", applied=True, count=2),
        ),
    )
    heads = {h.head: h for h in review.heads}
    assert (heads["category"].decided, heads["category"].agreed) == (4, 3)
    assert heads["category"].applied_checked == 0 and heads["category"].applied_precision is None
    assert (heads["priority"].applied_checked, heads["priority"].applied_confirmed) == (10, 8)
    assert heads["priority"].applied_precision == 0.8
