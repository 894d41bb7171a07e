"""Similar-ticket index: a long-running process finds every resolved ticket, in any order."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pipeline.app import Tiket
from pipeline.edges import models as m
from pipeline.jobs.intake import NoTriage
from tests.tiket_fixtures import test_settings

T0 = datetime(2026, 11, 27, 8, 0)


def ticket(n: int, subject: str, resolved_at: datetime | None, note: str | None) -> m.Ticket:
    return m.Ticket.create(
        ref=f"TKT-{n:06d}",
        subject=subject,
        requester=f"user{n}@example.com",
        status="resolved" if resolved_at else "open",
        mailbox="sample",
        created_at=T0,
        updated_at=T0,
        resolved_at=resolved_at,
        resolution_note=note,
    )


def test_a_ticket_resolved_after_a_newer_one_is_found(tmp_path: Path) -> None:
    """The index follows resolution time, not ids: an older ticket resolved later is indexed."""
    app = Tiket.open(test_settings(tmp_path), triager=NoTriage())
    old = ticket(1, "VPN drops every hour on the home wifi", None, None)
    ticket(2, "Printer on floor 3 jams with A3 paper", T0 + timedelta(hours=1), "Cleared roller")
    assert [s.ref for s in app.similar_index_query("printer floor 3 jams")] == ["TKT-000002"]
    old.status, old.resolved_at, old.resolution_note = (
        "resolved",
        T0 + timedelta(hours=2),
        "New VPN",
    )
    old.save()
    assert [s.ref for s in app.similar_index_query("vpn drops on wifi")] == ["TKT-000001"]


def test_a_ticket_resolved_again_keeps_one_row_with_the_new_note(tmp_path: Path) -> None:
    """Reopened and resolved again: the query shows the latest resolution, once."""
    app = Tiket.open(test_settings(tmp_path), triager=NoTriage())
    first = ticket(1, "Outlook crashes when opening calendar", T0, "Repaired the profile")
    assert [s.resolution_note for s in app.similar_index_query("outlook crashes calendar")] == [
        "Repaired the profile"
    ]
    first.resolved_at, first.resolution_note = T0 + timedelta(days=1), "Reinstalled Office"
    first.save()
    found = app.similar_index_query("outlook crashes calendar")
    assert [(s.ref, s.resolution_note) for s in found] == [("TKT-000001", "Reinstalled Office")]
