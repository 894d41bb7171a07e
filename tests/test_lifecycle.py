"""Lifecycle planners as pure functions: transitions, review, agent commands, escalation, breach."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.errors import InvalidAction
from pipeline.records import Dossier, SimilarTicket, Suggestion, TicketState
from pipeline.stages.lifecycle import (
    DeskPolicy,
    TierInfo,
    can_transition,
    parse_agent_commands,
    plan_agent_reply,
    plan_auto_close,
    plan_breach_route,
    plan_escalation,
    plan_review,
    plan_status,
    plan_target_update,
)
from pipeline.stages.sla import Calendar, SlaPolicy

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
POLICY = DeskPolicy(
    sla=SlaPolicy(
        first_response_hours={"P1": 1, "P2": 2, "P3": 3, "P4": 3},
        resolution_hours={"P1": 4, "P2": 8, "P3": 24, "P4": 72},
        default_priority="P3",
        calendar=Calendar(),
    ),
    tiers={
        t: TierInfo(key=t, name=f"Tier {t}", group=f"{t.lower()}@desk.example")
        for t in ("L1", "L2", "L3")
    },
    security_contact="security@desk.example",
    auto_close_after=timedelta(hours=72),
)
DOSSIER = Dossier(
    similar=(
        SimilarTicket(
            ref="TKT-000001", subject="Printer jam", score=0.8, resolution_note="Cleared the roller"
        ),
    )
)


def ticket(**changes: object) -> TicketState:
    values: dict[str, object] = dict(
        id=2,
        ref="TKT-000002",
        subject="Printer jam",
        requester="ann@example.com",
        requester_name="Ann",
        status="new",
        tier="L1",
        priority=None,
        kind=None,
        category=None,
        breach_suspected=False,
        needs_review=True,
        language="en",
        created_at=NOW - timedelta(hours=1),
        first_response_at=None,
        resolved_at=None,
        assignee=None,
        last_message_id="<m1@example.com>",
    )
    values.update(changes)
    return TicketState(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("new", "open", True),
        ("open", "in_progress", True),
        ("in_progress", "pending", True),
        ("pending", "open", True),
        ("open", "resolved", True),
        ("resolved", "closed", True),
        ("resolved", "open", True),
        ("closed", "open", False),
        ("closed", "resolved", False),
        ("new", "new", False),
    ],
)
def test_transitions(current: str, target: str, allowed: bool) -> None:
    """The state machine allows exactly the documented moves."""
    assert can_transition(current, target) is allowed


def test_resolve_tells_the_requester_and_stops_the_clock() -> None:
    """Resolving sets resolved_at, the note, first_response_at, and mails the requester."""
    update = plan_status(
        ticket(status="open"), "resolved", "bob", "fixed", NOW, note="Replaced toner"
    )
    fields = dict(update.fields)
    assert fields["resolved_at"] == NOW and fields["resolution_note"] == "Replaced toner"
    assert fields["first_response_at"] == NOW
    assert [m.template for m in update.mails] == ["resolved"] and update.mails[0].to == (
        "ann@example.com",
    )
    assert update.status == ("open", "resolved", "fixed")


def test_reopening_a_closed_ticket_is_refused_with_a_hint() -> None:
    """Closed is final: the error says that a reply opens a new ticket."""
    with pytest.raises(InvalidAction, match="opens a new one"):
        plan_status(ticket(status="closed"), "open", "bob", "x", NOW)


def test_review_keeps_suggestions_and_corrections_as_labels() -> None:
    """Accepted heads keep the suggestion; corrected heads store both the label and the suggestion."""
    suggestions = (
        Suggestion(head="kind", label="request", confidence=0.6, applied=False),
        Suggestion(head="category", label="Hardware", confidence=0.7, applied=False),
    )
    update = plan_review(
        ticket(), suggestions, {"kind": "incident", "priority": "P2"}, "l1", accept=("category",)
    )
    assert set(update.decisions) == {
        ("kind", "incident", "request"),
        ("category", "Hardware", "Hardware"),
        ("priority", "P2", None),
    }
    assert dict(update.fields)["needs_review"] is False and update.status == (
        "new",
        "open",
        "reviewed by L1",
    )


@pytest.mark.parametrize(
    ("text", "commands", "rest"),
    [
        ("Fixed it.\n#resolve replaced cable", (("resolve", "replaced cable"),), "Fixed it."),
        (
            "#priority p2\n#kind Incident\nLooking.",
            (("priority", "p2"), ("kind", "Incident")),
            "Looking.",
        ),
        ("Thanks\n\nOn Tue, Bob wrote:\n> #close", (), "Thanks"),
        ("see #resolve inline", (), "see #resolve inline"),
    ],
)
def test_parse_agent_commands(text: str, commands: tuple, rest: str) -> None:
    """Commands count on lines of their own only; quoted history is dropped."""
    assert parse_agent_commands(text) == (commands, rest)


def test_agent_reply_answers_then_resolves() -> None:
    """Reply text goes to the requester, the first response is recorded, #resolve resolves."""
    update = plan_agent_reply(
        ticket(status="open"),
        "agent@desk.example",
        "We replaced the fuser.\n#resolve Replaced the fuser unit",
        POLICY,
        DOSSIER,
        NOW,
    )
    fields = dict(update.fields)
    assert fields["status"] == "resolved" and fields["first_response_at"] == NOW
    assert [m.template for m in update.mails] == ["agent_reply", "resolved"]
    assert update.status == ("open", "resolved", "#resolve by mail")


def test_escalation_mails_the_next_tier_with_similar_tickets_and_tells_the_requester() -> None:
    """L1 -> L2: the L2 group gets the dossier, the requester the new expected time."""
    update = plan_escalation(
        ticket(status="open"), "sla", "first response target missed", POLICY, DOSSIER, NOW
    )
    staff, requester = update.mails
    assert staff.to == ("l2@desk.example",) and dict(update.fields)["tier"] == "L2"
    similar = dict(staff.context)["similar"]
    assert similar[0]["ref"] == "TKT-000001" and similar[0]["note"] == "Cleared the roller"
    assert requester.template == "escalated" and requester.to == ("ann@example.com",)
    with pytest.raises(InvalidAction):
        plan_escalation(ticket(tier="L3"), "sla", "x", POLICY, DOSSIER, NOW)


def test_breach_route_goes_to_l3_at_p1_and_alerts_security() -> None:
    """A suspected breach: P1, L3, and the security contact gets the alert."""
    update = plan_breach_route(ticket(), ("leaked credentials",), "tiket", POLICY, DOSSIER, NOW)
    fields = dict(update.fields)
    assert fields["tier"] == "L3" and fields["priority"] == "P1" and fields["breach_suspected"]
    assert {m.template for m in update.mails} == {"escalation", "breach_alert"}
    assert ("security@desk.example",) in [m.to for m in update.mails]


def test_auto_close_after_the_quiet_period() -> None:
    """A resolved ticket closes itself after auto_close_after, not before."""
    resolved = ticket(status="resolved", resolved_at=NOW - timedelta(hours=71))
    assert plan_auto_close(resolved, POLICY, NOW) is None
    later = plan_auto_close(resolved, POLICY, NOW + timedelta(hours=2))
    assert later is not None and dict(later.fields)["status"] == "closed"


def test_a_requester_reply_to_an_escalated_ticket_reaches_its_tier() -> None:
    """L2 works from mail: the requester's answer is forwarded to the L2 group; L1 tickets are not."""
    from pipeline.records import ReplyMatch, TicketInfo, Verdict
    from pipeline.stages.lifecycle import PromisePolicy, plan_intake
    from pipeline.stages.parsing import parse_mail

    raw = b"From: ann@example.com\r\nSubject: Re: [TKT-000002] Printer\r\n\r\nIt jams again.\r\n"
    mail = parse_mail(raw, received_at=NOW, max_mail_bytes=10**6, max_attachment_bytes=10**6)
    promise = PromisePolicy(
        first_response_hours={"P3": 3.0},
        default_priority="P3",
        tier_groups={"L1": "l1@desk.example", "L2": "l2@desk.example"},
    )
    accept = Verdict(accept=True, acknowledge=True)

    def reply_to(tier: str):  # type: ignore[no-untyped-def]
        info = TicketInfo(
            id=2,
            ref="TKT-000002",
            status="open",
            requester="ann@example.com",
            participants=frozenset({"ann@example.com"}),
            subject="Printer",
            tier=tier,
        )
        return plan_intake(
            mail, accept, ReplyMatch(ticket=info, via="subject-tag"), None, promise, language="en"
        )

    [forward] = reply_to("L2").mails
    assert forward.to == ("l2@desk.example",) and dict(forward.context)["text"] == "It jams again."
    assert reply_to("L1").mails == ()


UNSURE = (
    Suggestion(head="kind", label="request", confidence=0.6, applied=False),
    Suggestion(head="category", label="printing", confidence=0.7, applied=False),
    Suggestion(head="priority", label="P3", confidence=0.9, applied=True),
)


@pytest.mark.parametrize(
    ("corrections", "accept", "decided", "labelled", "still_waiting"),
    [
        ({"kind": "incident"}, (), frozenset(), {"kind"}, True),  # one fix: category still unsure
        ({}, ("category",), frozenset({"kind"}), {"category"}, False),  # the last unsure head
        ({"category": "network"}, ("kind",), frozenset(), {"kind", "category"}, False),
        ({"priority": "P1"}, (), frozenset(), {"priority"}, True),  # an applied head corrected
    ],
)
def test_review_labels_only_what_the_agent_decided(
    corrections: dict[str, str],
    accept: tuple[str, ...],
    decided: frozenset[str],
    labelled: set[str],
    still_waiting: bool,
) -> None:
    """Correcting one field never accepts the others; the ticket waits until all are decided."""
    update = plan_review(ticket(), UNSURE, corrections, "l1", accept=accept, decided=decided)
    assert {head for head, _, _ in update.decisions} == labelled
    assert dict(update.fields)["needs_review"] is still_waiting
    assert (update.status is None) is still_waiting


@pytest.mark.parametrize(
    ("corrections", "accept", "message"),
    [
        ({"colour": "red"}, (), "unknown field 'colour'"),
        ({"priority": "P9"}, (), "priority must be one of P1, P2, P3, P4"),
        ({"category": "hacked-label"}, (), "unknown category 'hacked-label'"),
        ({}, ("urgency",), "unknown field 'urgency'"),
        ({}, (), "nothing decided"),
    ],
)
def test_review_refuses_unknown_fields_and_values(
    corrections: dict[str, str], accept: tuple[str, ...], message: str
) -> None:
    """Unknown keys and invalid values get a message that names them; nothing is saved."""
    with pytest.raises(InvalidAction, match=message):
        plan_review(
            ticket(), UNSURE, corrections, "l1", accept=accept,
            categories=frozenset({"printing", "network"}),
        )  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "priority", "relaxed_too", "expected"),
    [
        ({"priority": "P3"}, "P1", False, ("first response", "2026-11-27 10:00", True)),
        ({"priority": "P3"}, "P2", False, ("first response", "2026-11-27 11:00", True)),
        ({"priority": "P2"}, "P3", False, None),  # a relaxed target: not by default
        ({"priority": "P2"}, "P3", True, ("first response", "2026-11-27 12:00", False)),
        ({"priority": "P3"}, "P4", False, None),  # the same 3 h first response: nothing moves
        (
            {"priority": "P3", "first_response_at": NOW - timedelta(minutes=30)},
            "P1",
            False,
            ("resolution", "2026-11-27 13:00", True),
        ),
        ({"priority": "P3", "status": "resolved"}, "P1", False, None),
        ({"priority": "P1"}, "P1", False, None),
    ],
)
def test_a_changed_priority_tells_the_requester_the_new_target(
    changes: dict[str, object],
    priority: str,
    relaxed_too: bool,
    expected: tuple[str, str, bool] | None,
) -> None:
    """A new priority that moves the promised time gives one short update (tighter by default)."""
    policy = replace(POLICY, tell_relaxed_target=relaxed_too)
    mail = plan_target_update(ticket(**changes), priority, policy, NOW)
    if expected is None:
        assert mail is None
        return
    assert (
        mail is not None and mail.to == ("ann@example.com",) and mail.template == "target_changed"
    )
    context = dict(mail.context)
    what = "first response" if context["first_response"] else "resolution"
    assert (what, str(context["due"])[:16], context["sooner"]) == expected


def test_review_that_raises_the_priority_mails_the_new_target() -> None:
    """L1 sets P1 on an unsure P3 ticket: the update carries the target mail to the requester."""
    suggestions = (Suggestion(head="priority", label="P3", confidence=0.4, applied=False),)
    update = plan_review(
        ticket(priority="P3"), suggestions, {"priority": "P1"}, "l1", policy=POLICY, now=NOW
    )
    assert [m.template for m in update.mails] == ["target_changed"]


@pytest.mark.parametrize("language", ["en", "ms"])
def test_the_target_update_renders_in_both_languages(language: str) -> None:
    """The update mail renders (text and HTML) with the new priority and time in the subject."""
    from email import message_from_bytes, policy

    from pipeline.stages.rendering import DeskIdentity, render_mail

    intent = plan_target_update(ticket(priority="P3", language=language), "P1", POLICY, NOW)
    assert intent is not None
    desk = DeskIdentity(
        name="IT Desk", address="it@desk.example", message_id_domain="desk.example", timezone="UTC"
    )
    out = render_mail(intent, ref="TKT-000002", desk=desk, now=NOW, message_id="<t@desk.example>")
    message = message_from_bytes(out.raw, policy=policy.default)
    assert "P1" in str(message.get_body(preferencelist=("plain",)).get_content())
    assert "10:00" in str(message["Subject"]) and message["To"] == "ann@example.com"
