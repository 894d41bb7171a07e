"""One intake batch: screening and reply matching before triage; only new tickets reach the model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from peewee import SqliteDatabase

from pipeline.app import Tiket
from pipeline.edges import models as m
from pipeline.records import RawMail, TriageOutcome
from pipeline.stages.agent_auth import issue_message_id
from tests.tiket_fixtures import test_settings


class CountingTriage:
    """A triager that remembers the subjects it was asked about, and in how many calls."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def suggest_many(self, items: Sequence[tuple[str, str]]) -> list[TriageOutcome]:
        self.calls.append([subject for subject, _ in items])
        return [TriageOutcome(degraded="counting") for _ in items]


def mail(
    n: int,
    subject: str,
    headers: str = "",
    sender: str = "ann@example.com",
    body: str = "The VPN drops every few minutes since this morning.",
) -> RawMail:
    raw = (
        f"From: Ann <{sender}>\r\nTo: support@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <b{n}@example.com>\r\nDate: Thu, 26 Nov 2026 09:00:00 +0800\r\n{headers}"
        f"\r\n{body}\r\n"
    ).encode()
    return RawMail(mailbox="test", uidvalidity=1, uid=n, raw=raw)


def test_only_new_tickets_are_triaged_in_one_call(tmp_path: Path) -> None:
    """A new mail, a reply to it in the same batch, an auto-reply and a second new mail: the
    reply threads into the first ticket, the auto-reply is screened, one call sees two mails."""
    triage = CountingTriage()
    app = Tiket.open(test_settings(tmp_path), triager=triage)
    batch = [
        mail(1, "VPN drops"),
        mail(2, "Re: VPN drops", "In-Reply-To: <b1@example.com>\r\n"),
        mail(3, "Automatic reply: VPN drops", "Auto-Submitted: auto-replied\r\n"),
        mail(4, "Printer jams", sender="bob@example.com"),
    ]
    app.store.receive_many(batch, datetime.now(UTC))
    results = app.intake.process_batch(app.store.claim_pending(10))
    assert [r.disposition for r in results] == [
        "ticket_created",
        "reply_added",
        "screened",
        "ticket_created",
    ]
    assert results[1].ticket_ref == results[0].ticket_ref
    assert triage.calls == [["VPN drops", "Printer jams"]]
    assert m.Ticket.select().count() == 2


def test_a_reply_to_a_closed_ticket_of_the_batch_is_triaged_alone(tmp_path: Path) -> None:
    """The prediction cannot know an earlier mail's effect on a ticket: a reply to a ticket the
    batch found closed makes a new, linked ticket and is still triaged."""
    triage = CountingTriage()
    app = Tiket.open(test_settings(tmp_path), triager=triage)
    app.store.receive_many([mail(1, "VPN drops")], datetime.now(UTC))
    [first] = app.intake.process_batch(app.store.claim_pending(10))
    m.Ticket.update(status="closed").where(m.Ticket.ref == first.ticket_ref).execute()
    app.store.receive_many(
        [mail(2, "Re: VPN drops", "In-Reply-To: <b1@example.com>\r\n")], datetime.now(UTC)
    )
    [second] = app.intake.process_batch(app.store.claim_pending(10))
    assert second.disposition == "ticket_created" and second.ticket_ref != first.ticket_ref
    assert triage.calls == [["VPN drops"], ["Re: VPN drops"]]


def test_an_agent_closing_a_ticket_earlier_in_the_batch_is_seen_by_later_replies(
    tmp_path: Path,
) -> None:
    """An agent's #close and then the requester's reply in one batch: the reply finds the ticket
    closed (matched again after the agent's mail), makes a new ticket and is triaged alone."""
    triage = CountingTriage()
    settings = test_settings(
        tmp_path,
        extra={
            "tiers.L1": {"members": ["agent@desk.example"]},
            "security": {"agent_mail_auth": "token"},  # possession is what this test needs
        },
    )
    app = Tiket.open(settings, triager=triage)
    app.store.receive_many([mail(1, "VPN drops")], datetime.now(UTC))
    [first] = app.intake.process_batch(app.store.claim_pending(10))
    assert first.ticket_ref is not None
    issued = issue_message_id(  # what tiket's mail to the agent carried
        first.ticket_ref, "esc-L1", ("agent@desk.example",), app.identity.message_id_domain,
        app.keyring,
    )  # fmt: skip
    app.store.receive_many(
        [
            mail(
                2,
                "Re: VPN drops",
                f"In-Reply-To: {issued}\r\n",
                "agent@desk.example",
                "#close fixed",
            ),
            mail(3, "Re: VPN drops again", "In-Reply-To: <b1@example.com>\r\n"),
        ],
        datetime.now(UTC),
    )
    agent, reply = app.intake.process_batch(app.store.claim_pending(10))
    assert agent.disposition == "reply_added" and agent.ticket_ref == first.ticket_ref
    assert m.Ticket.get(m.Ticket.ref == first.ticket_ref).status == "closed"
    assert reply.disposition == "ticket_created" and reply.ticket_ref != first.ticket_ref
    assert triage.calls == [["VPN drops"], ["Re: VPN drops again"]]


def test_a_batch_indexes_its_mails_for_search_and_not_a_failed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite an intake batch indexes its tickets and messages at its end (migration 13): every
    mail the batch kept is found by its words, the mail that failed after writing its rows is not,
    the deferral is gone with the commit, and both indexes pass FTS5's integrity-check. A write
    outside intake (an agent's note) is indexed at once. PostgreSQL searches the tables."""
    app = Tiket.open(test_settings(tmp_path), triager=CountingTriage())
    original = app.intake._render

    def render_or_fail(*args: Any, **kwargs: Any) -> Any:
        if m.Ticket.select().where(m.Ticket.subject == "Scanner smells burnt").exists():
            raise RuntimeError("rendering failed")  # inside the mail's savepoint, rows written
        return original(*args, **kwargs)

    monkeypatch.setattr(app.intake, "_render", render_or_fail)
    batch = [
        mail(1, "Toner smudges", body="Grey streaks on every page."),
        mail(2, "Re: Toner smudges", "In-Reply-To: <b1@example.com>\r\n", body="Cyan too."),
        mail(3, "Scanner smells burnt", sender="bob@example.com", body="Burnt plastic."),
        mail(4, "Webcam upside down", sender="cy@example.com", body="Mirrored video."),
    ]
    app.store.receive_many(batch, datetime.now(UTC))
    results = app.intake.process_batch(app.store.claim_pending(10))
    assert [r.disposition for r in results] == [
        "ticket_created",
        "reply_added",
        "pending",  # tried again in a later batch
        "ticket_created",
    ]
    if not isinstance(app.store.db, SqliteDatabase):
        return
    sql = app.store.db.execute_sql

    def tickets_with(word: str) -> list[str]:
        rows = sql(
            "SELECT DISTINCT ticket.ref FROM message_fts JOIN ticket ON ticket.id = "
            "message_fts.ticket_id WHERE message_fts MATCH ? ORDER BY ticket.ref",
            [word],
        ).fetchall()
        return [row[0] for row in rows]

    def subjects_with(word: str) -> list[int]:
        rows = sql("SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH ?", [word]).fetchall()
        return [row[0] for row in rows]

    assert tickets_with("streaks") == tickets_with("cyan") == ["TKT-000001"]
    assert tickets_with("mirrored") == ["TKT-000002"] and subjects_with("webcam") == [2]
    assert tickets_with("plastic") == [] and subjects_with("scanner") == []
    assert sql("SELECT COUNT(*) FROM search_deferred").fetchone()[0] == 0
    app.desk.note("TKT-000002", "ann@example.org", "Driver rolled back to 4.2", datetime.now(UTC))
    assert tickets_with("rolled") == ["TKT-000002"]
    sql("INSERT INTO message_fts (message_fts) VALUES ('integrity-check')")
    sql("INSERT INTO ticket_fts (ticket_fts) VALUES ('integrity-check')")
