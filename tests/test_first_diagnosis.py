"""First diagnosis, known fixes and the new agent commands (pure stages), table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline import ROOT
from pipeline.errors import InvalidAction
from pipeline.records import TicketState
from pipeline.stages.first_diagnosis import (
    DIAGNOSIS_CATEGORIES,
    diagnosis_key,
    plan_self_served,
    says_solved,
)
from pipeline.stages.known_fixes import match_fixes, parse_article, published_fix
from pipeline.stages.lifecycle import DeskPolicy, parse_agent_commands, plan_agent_reply
from pipeline.stages.sla import Calendar, SlaPolicy
from pipeline.stages.text_similarity import tokens

NOW = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize("locale", ["en", "ms"])
@pytest.mark.parametrize("category", DIAGNOSIS_CATEGORIES)
def test_every_default_category_has_diagnosis_templates(category: str, locale: str) -> None:
    """templates/<locale>/diagnosis/<category>.txt.j2 and .html.j2 exist for each default key."""
    for kind in ("txt", "html"):
        assert (ROOT / "templates" / locale / "diagnosis" / f"{category}.{kind}.j2").is_file()


@pytest.mark.parametrize(
    ("category", "key"),
    [("printing", "printing"), ("Business Apps", "business_apps"), ("business-apps", "business_apps"),
     (None, None), ("", None), ("Printer", None), ("payroll", None)],
)  # fmt: skip
def test_diagnosis_only_for_known_categories(category: str | None, key: str | None) -> None:
    """Only a known (applied) category gets questions; anything else none, never a guess."""
    assert diagnosis_key(category) == key


@pytest.mark.parametrize(
    ("text", "solved"),
    [("#solved", True), ("Thanks!\n#SOLVED\n", True), ("  #selesai terima kasih", True),
     ("it is not #solved yet", False), ("> #solved\n", False),
     ("Still broken\nOn Mon, 1 Dec 2026 Desk wrote:\n#solved", False), ("#solvedness", False)],
)  # fmt: skip
def test_says_solved(text: str, solved: bool) -> None:
    """#solved / #selesai on a line of its own, above the quoted history."""
    assert says_solved(text) is solved


def state(status: str = "open") -> TicketState:
    return TicketState(
        id=3, ref="TKT-000003", subject="Printer jam", requester="ann@example.com",
        requester_name="Ann", status=status, tier="L1", priority="P3", kind="incident",
        category="printing", breach_suspected=False, needs_review=True, language="en",
        created_at=NOW, first_response_at=None, resolved_at=None, assignee=None,
        last_message_id="<ack@tiket>",
    )  # fmt: skip


def test_self_served_resolves_with_an_audit_event_and_only_when_it_can() -> None:
    """#solved resolves an open ticket (self_served audited); a closed one is left alone."""
    update = plan_self_served(state(), "ann@example.com", NOW, reopen_hours=72)
    assert update is not None and update.status == ("open", "resolved", "self-served")
    assert "self_served" in [e.action for e in update.events]
    assert plan_self_served(state("closed"), "ann@example.com", NOW, reopen_hours=72) is None


def test_sample_articles_match_a_printer_mail_and_respect_categories() -> None:
    """The shipped printer article matches a paper jam; category filters other articles out."""
    articles = [
        parse_article(p.name, p.read_text(encoding="utf-8"))
        for p in sorted((ROOT / "config" / "kb").glob("*.md"))
    ]
    words = tokens("Printer jam on floor 3\nPaper stuck in the printer tray again")
    found = match_fixes(words, "printing", articles, min_score=0.25, limit=3)
    assert found and found[0].fix.key == "printer-paper-jam.md"
    assert all("printing" in m.fix.categories for m in found)
    assert match_fixes(words, "email", articles, min_score=0.25, limit=3) == ()
    fix = published_fix(
        "#9", "Reseat the toner", "Reseat the toner cartridge.", "printer toner streak"
    )
    assert match_fixes(tokens("printer toner streaks"), None, [fix], min_score=0.2, limit=3)


POLICY = DeskPolicy(
    sla=SlaPolicy(
        first_response_hours={p: 1.0 for p in ("P1", "P2", "P3", "P4")},
        resolution_hours={p: 8.0 for p in ("P1", "P2", "P3", "P4")},
        default_priority="P3",
        calendar=Calendar(timezone="Asia/Kuala_Lumpur"),
    ),
    tiers={},
    security_contact="sec@x",
    auto_close_after=timedelta(hours=72),
)


@pytest.mark.parametrize(
    ("line", "effects"),
    [("#major accept", (("major", "accept"),)), ("#major REJECT", (("major", "reject"),)),
     ("#update vendor on site, ETA 11:00", (("major_update", "vendor on site, ETA 11:00"),)),
     ("#call 2026-12-03 10:00 30m https://m.example/a", (("call", "2026-12-03 10:00 30m https://m.example/a"),)),
     ("#call cancel", (("call", "cancel"),)),
     ("#resolve --publish Reseat the toner", (("publish", "Reseat the toner"),))],
)  # fmt: skip
def test_new_agent_commands_become_effects(line: str, effects: tuple[tuple[str, str], ...]) -> None:
    """The new commands parse on the one agent-command path and carry their effects."""
    assert parse_agent_commands(line)[0][0][0] in ("major", "update", "call", "resolve")
    update = plan_agent_reply(state(), "eve@desk", line, POLICY, _dossier(), NOW)
    assert update.effects == effects


@pytest.mark.parametrize(
    ("line", "problem"),
    [("#major maybe", "accept or"), ("#update", "needs the text"), ("#call tomorrow", "incomplete"),
     ("#call 2026-12-03 10:00 1m x", "5 minutes")],
)  # fmt: skip
def test_bad_new_commands_are_refused(line: str, problem: str) -> None:
    """A bad argument raises InvalidAction (intake audits it as agent_command_refused)."""
    with pytest.raises(InvalidAction, match=problem):
        plan_agent_reply(state(), "eve@desk", line, POLICY, _dossier(), NOW)


def test_agent_solved_resolves_as_self_served() -> None:
    """An agent's #solved (the user said so on the phone) resolves as self-served."""
    update = plan_agent_reply(state(), "eve@desk", "#solved", POLICY, _dossier(), NOW)
    assert dict(update.fields)["status"] == "resolved"
    assert "self_served" in [e.action for e in update.events]


def _dossier():  # type: ignore[no-untyped-def]
    from pipeline.records import Dossier

    return Dossier()
