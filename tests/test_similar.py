"""Similar-ticket index: a long-running process finds every resolved ticket, in any order."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from pipeline.app import Tiket
from pipeline.edges import models as m
from pipeline.jobs.intake import NoTriage
from pipeline.jobs.similar import N_FEATURES, row_scores, terms, vectorise
from tests.tiket_fixtures import assert_runs_without_scikit_learn, test_settings

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


@pytest.mark.one_backend
def test_terms_are_words_without_stop_words_then_their_bigrams() -> None:
    """Lower case, 2+ letters (no digits or underscores), bigrams over what the stop words leave."""
    assert terms("The VPN on floor_3 drops after 2 hours, x2 A") == [
        "vpn",
        "drops",
        "hours",
        "vpn drops",
        "drops hours",
    ]
    assert terms("") == [] and terms("the of 42 a") == []


@pytest.mark.one_backend
def test_rows_are_unit_vectors_and_an_empty_row_scores_zero() -> None:
    """Counts are L2-normalised per row; a text without terms is an empty row wherever it is."""
    texts = ["", "printer jams printer", "of the", "vpn drops", ""]
    indptr, indices, data = vectorise(texts)
    assert indptr.tolist()[0] == 0 and np.diff(indptr).tolist()[::2] == [0, 0, 0]
    assert len(indices) == int(indptr[-1]) and indices.max() < N_FEATURES
    row = data[indptr[1] : indptr[2]]
    assert abs(float(np.sum(row**2)) - 1.0) < 1e-6 and sorted(row.tolist())[-1] > row.min()
    scores = row_scores(indptr, indices, data, "printer jams")
    assert (
        scores[[0, 2, 3, 4]].tolist() == [0.0, 0.0, 0.0, 0.0]
        and abs(scores[1] - 4 / 21**0.5) < 1e-6
    )  # (2 + 1 + 1) / sqrt(7 * 3)
    assert row_scores(indptr, indices, data, "the 42").tolist() == [0.0] * 5


@pytest.mark.one_backend
def test_the_index_imports_neither_scikit_learn_nor_scipy(tmp_path: Path) -> None:
    """Building and querying the index (as an escalation dossier does) needs NumPy only (on SQLite:
    the backend does not change what the index imports)."""
    assert_runs_without_scikit_learn(f"""
from pathlib import Path
from tests.test_similar import T0, ticket
from tests.tiket_fixtures import test_settings
from pipeline.app import Tiket
from pipeline.jobs.intake import NoTriage
app = Tiket.open(test_settings(Path({str(tmp_path)!r})), triager=NoTriage())
ticket(1, "Printer on floor 3 jams with A3 paper", T0, "Cleared the roller")
ticket(2, "VPN drops every hour on the home wifi", T0, "New VPN profile")
ticket(3, "Outlook crashes when opening the calendar", T0, "Repaired the profile")
found = app.similar_index_query("the printer jams again")
assert [s.ref for s in found] == ["TKT-000001"], found
""")
