"""Intake end to end on a Maildir with SQLite and the file outbox (no network needed)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.app import Tiket
from pipeline.edges import models as m
from pipeline.edges.maildir_source import seed_sample_maildir
from pipeline.edges.views import list_inbound, list_quarantine, show_ticket
from pipeline.jobs.intake import NoTriage
from pipeline.stages import lifecycle
from tests.tiket_fixtures import test_settings

SAMPLES = Path(__file__).resolve().parent.parent / "config" / "sample-mails"


def plain(n: int, sender: str = "user@example.com", extra: str = "") -> bytes:
    return (
        f"From: User {n} <{sender}>\r\nTo: support@example.org\r\nSubject: Printer {n} broken\r\n"
        f"Message-ID: <m{n}-{sender}>\r\nDate: Thu, 26 Nov 2026 09:00:00 +0800\r\n{extra}\r\n"
        f"The printer on floor {n} does not print.\r\n"
    ).encode()


def put(maildir: Path, name: str, raw: bytes) -> None:
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    (maildir / "new" / name).write_bytes(raw)


@pytest.fixture
def runtime(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = test_settings(tmp_path)
    return Tiket.open(settings, triager=NoTriage())


def test_sample_mailbox_becomes_tickets_replies_and_screened_mail(tmp_path: Path, runtime) -> None:  # type: ignore[no-untyped-def]
    """The 24 shipped samples: 19 tickets, 3 threaded replies, a bounce and an auto-reply screened."""
    seed_sample_maildir(tmp_path / "Maildir")
    summary = runtime.run_once()
    assert summary.dispositions == {"ticket_created": 19, "reply_added": 3, "screened": 2}
    assert summary.rules["is_bounce"] == 1 and summary.rules["is_auto_reply"] == 1
    rows = list_inbound()
    assert sum(r["acknowledged"] for r in rows) == 19
    replies = {r["ticket"] for r in rows if r["disposition"] == "reply_added"}
    assert replies == {"TKT-000002", "TKT-000003", "TKT-000007"}
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 19
    assert len(list((tmp_path / "Maildir" / ".Processed" / "cur").iterdir())) == 24
    assert not list((tmp_path / "Maildir" / "new").iterdir())
    stranger = show_ticket("TKT-000013")
    assert any(e["action"] == "tag_ignored" for e in stranger["events"])


def test_rerun_and_redelivery_create_nothing_twice(tmp_path: Path, runtime) -> None:  # type: ignore[no-untyped-def]
    """A second run finds nothing; the same bytes delivered again are recorded as a duplicate."""
    put(tmp_path / "Maildir", "a", plain(1))
    runtime.run_once()
    assert runtime.run_once().fetched == 0
    put(tmp_path / "Maildir", "b", plain(1))
    summary = runtime.run_once()
    assert summary.dispositions == {"duplicate": 1}
    assert m.Ticket.select().count() == 1 and m.OutboxRow.select().count() == 1


def test_same_mail_through_two_mailboxes_is_one_ticket(tmp_path: Path) -> None:
    """A mail sent to two watched mailboxes makes one ticket; the second copy is a duplicate."""
    boxes = [
        {"name": "one", "url": f"maildir:{tmp_path / 'one'}"},
        {"name": "two", "url": f"maildir:{tmp_path / 'two'}"},
    ]
    runtime = Tiket.open(test_settings(tmp_path, mailboxes=boxes), triager=NoTriage())
    put(tmp_path / "one", "x", plain(5))
    put(tmp_path / "two", "x", plain(5))
    summary = runtime.run_once()
    assert summary.dispositions == {"ticket_created": 1, "duplicate": 1}


def test_unparseable_mail_is_quarantined_kept_and_released(tmp_path: Path) -> None:
    """An oversized mail is quarantined at once with its reason (only its head was read and is
    kept), and replays on release."""
    settings = test_settings(tmp_path, extra={"intake": {"max_mail_bytes": 300}})
    runtime = Tiket.open(settings, triager=NoTriage())
    put(tmp_path / "Maildir", "big", plain(1, extra="X-Pad: " + "y" * 400 + "\r\n"))
    put(tmp_path / "Maildir", "small", plain(2))
    summary = runtime.run_once()
    assert summary.dispositions == {"quarantined": 1, "ticket_created": 1}
    [q] = list_quarantine()
    assert q["stage"] == "fetch" and "over the limit" in q["reason"]
    assert "only its headers" in q["reason"]
    assert len(list((tmp_path / "Maildir" / ".Quarantine" / "cur").iterdir())) == 1
    assert bytes(m.InboundRaw.get_by_id(q["id"]).raw).startswith(b"From: User 1")
    bigger = Tiket.open(
        test_settings(tmp_path, extra={"intake": {"max_mail_bytes": 10**6}}), triager=NoTriage()
    )
    bigger.store.release(q["id"], datetime.now(UTC), "test")
    [result] = bigger.intake.process_pending()
    assert result.disposition == "ticket_created"


def test_a_bug_in_a_stage_retries_then_quarantines_without_blocking(
    tmp_path: Path, runtime, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A mail whose planning raises is retried up to max_attempts, then quarantined; others pass."""
    original = lifecycle.plan_intake

    def flaky(mail, *args, **kwargs):  # type: ignore[no-untyped-def]
        if "Printer 1 " in mail.subject:
            raise RuntimeError("bug in planning")
        return original(mail, *args, **kwargs)

    monkeypatch.setattr("pipeline.jobs.intake.plan_intake", flaky)
    put(tmp_path / "Maildir", "a", plain(1))
    put(tmp_path / "Maildir", "b", plain(2, sender="other@example.com"))
    runtime.run_once()
    [q] = list_quarantine()
    assert q["stage"] == "plan" and q["attempts"] == 3 and "bug in planning" in q["reason"]
    assert m.Ticket.select().count() == 1


def test_requester_reply_to_resolved_reopens_and_to_closed_opens_linked(
    tmp_path: Path, runtime
) -> None:  # type: ignore[no-untyped-def]
    """Reply to a resolved ticket reopens it; to a closed one creates a new ticket linked to it."""
    put(tmp_path / "Maildir", "a", plain(1))
    runtime.run_once()
    m.Ticket.update(status="resolved").execute()
    put(tmp_path / "Maildir", "b", plain(2, extra="In-Reply-To: <m1-user@example.com>\r\n"))
    runtime.run_once()
    assert m.Ticket.get().status == "open" and m.Ticket.select().count() == 1
    m.Ticket.update(status="closed").execute()
    put(tmp_path / "Maildir", "c", plain(3, extra="In-Reply-To: <m1-user@example.com>\r\n"))
    runtime.run_once()
    new = m.Ticket.select().order_by(m.Ticket.id.desc()).get()
    assert new.linked_to_id == 1 and new.status == "new"


def test_ack_cap_per_sender(tmp_path: Path) -> None:
    """A flood from one sender gets at most ack_cap_per_hour acknowledgements; every mail is a ticket."""
    runtime = Tiket.open(
        test_settings(tmp_path, extra={"intake": {"ack_cap_per_hour": 3}}), triager=NoTriage()
    )
    for n in range(8):
        put(tmp_path / "Maildir", f"f{n}", plain(n))
    summary = runtime.run_once()
    assert summary.dispositions == {"ticket_created": 8} and summary.acknowledged == 3


def test_degraded_triage_queues_for_review_with_an_audit_event(tmp_path: Path, runtime) -> None:  # type: ignore[no-untyped-def]
    """Without a model the ticket is recorded, needs review, and its audit says why."""
    put(tmp_path / "Maildir", "a", plain(1))
    runtime.run_once()
    ticket = show_ticket("TKT-000001")
    assert ticket["needs_review"] and ticket["priority"] is None
    assert any(e["action"] == "triage_degraded" for e in ticket["events"])


def test_attachments_are_content_addressed_files(tmp_path: Path, runtime) -> None:  # type: ignore[no-untyped-def]
    """The PNG sample's attachment is stored once under its sha256 with a safe name."""
    shutil.copy(SAMPLES / "11-shared-drive-access-screenshot.eml", tmp_path / "x.eml")
    put(tmp_path / "Maildir", "a", (tmp_path / "x.eml").read_bytes())
    runtime.run_once()
    att = m.AttachmentRow.get()
    assert runtime.store.blob_path(att.sha256).read_bytes().startswith(b"\x89PNG")
    assert "/" not in att.filename


def test_outbox_gives_up_after_the_give_up_time(tmp_path: Path) -> None:
    """An SMTP server that never answers: the row is retried, then failed after give_up_after."""
    settings = test_settings(
        tmp_path,
        outbox_url="smtp://127.0.0.1:9",
        extra={"outbox": {"give_up_after_seconds": 3, "timeout": 2}},
    )
    runtime = Tiket.open(settings, triager=NoTriage())
    put(tmp_path / "Maildir", "a", plain(1))
    first = runtime.run_once().delivery
    assert (first.sent, first.retried) == (0, 1)
    from pipeline.edges.smtp_sender import open_sender
    from pipeline.jobs.outbox import deliver_due

    later = datetime.now(UTC) + timedelta(seconds=10)
    stats = deliver_due(
        runtime.store,
        lambda: open_sender(settings.outbox, "t"),
        settings.outbox,
        "support@example.org",
        later,
    )
    assert stats.failed == 1
    row = m.OutboxRow.get()
    assert row.status == "failed" and "gave up" in row.last_error


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        # microseconds compared as numbers: 'M99' was delivered before 'M100'
        (
            ["1700000000.M100P1.h", "1700000000.M99P1.h"],
            ["1700000000.M99P1.h", "1700000000.M100P1.h"],
        ),
        # the delivery counter as a number, within one microsecond
        (["5.M1P1Q10.h", "5.M1P1Q9.h"], ["5.M1P1Q9.h", "5.M1P1Q10.h"]),
        # seconds first; a name of another shape last
        (["other", "6.P1.h", "5.M9P1.h"], ["5.M9P1.h", "6.P1.h", "other"]),
    ],
)
def test_maildir_files_are_taken_in_delivery_order(names: list[str], expected: list[str]) -> None:
    from pipeline.edges.maildir_source import delivery_order

    assert sorted(names, key=delivery_order) == expected
