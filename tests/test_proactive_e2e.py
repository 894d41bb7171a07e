"""The proactive desk against real servers (Dovecot, the SMTP sink, SQLite and PostgreSQL):
major incidents from bursts, a first diagnosis in the acknowledgement, calls with the user."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from icalendar import Calendar

from pipeline.app import Tiket
from pipeline.cli import main
from pipeline.edges import models as m
from pipeline.edges import proactive_models as p
from pipeline.jobs.digest_job import compute_figures, render_digest
from pipeline.records import Suggestion, TriageOutcome
from tests.agent_mail import MX, agent_reply, parse, requester_reply
from tests.servers import ImapUser, SmtpSink
from tests.test_intake_imap import mailbox_entry
from tests.tiket_fixtures import test_settings

L3_AGENT = "eve.l3@desk.example"
L2_AGENT = "bob.l2@desk.example"
MANAGER = "boss@desk.example"


class SureModel:
    """A triager that is sure: incident, the given category, P3, all applied."""

    def __init__(self, category: str) -> None:
        self.category = category

    def suggest_many(self, items: Sequence[tuple[str, str]]) -> list[TriageOutcome]:
        return [
            TriageOutcome(
                model_version="test",
                suggestions=(
                    Suggestion(head="kind", label="incident", confidence=0.99, applied=True),
                    Suggestion(head="category", label=self.category, confidence=0.99, applied=True),
                    Suggestion(head="priority", label="P3", confidence=0.99, applied=True),
                ),
            )
            for _ in items
        ]


def user_mail(n: int, sender: str, subject: str, body: str) -> bytes:
    return (
        f"From: User {n} <{sender}>\r\nTo: support@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <proactive-{n}@example.com>\r\nDate: Thu, 03 Dec 2026 09:00:00 +0800\r\n"
        f"\r\n{body}\r\n"
    ).encode()


def inbox(sink: SmtpSink) -> dict[str, list[EmailMessage]]:
    found: dict[str, list[EmailMessage]] = {}
    for meta, raw in sink.messages():
        for rcpt in meta["rcpt_tos"]:
            found.setdefault(rcpt, []).append(parse(raw))
    return found


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def settings_for(tmp_path: Path, imap_user: ImapUser, sink: SmtpSink, **desk: str):  # type: ignore[no-untyped-def]
    return test_settings(
        tmp_path,
        mailboxes=[mailbox_entry(imap_user, tmp_path)],
        outbox_url=f"smtp://127.0.0.1:{sink.port}",
        extra={
            "desk": dict(desk),
            "tiers.L3": {"members": [L3_AGENT], "group": "l3@desk.example"},
            "tiers.L2": {"members": [L2_AGENT], "group": "l2@desk.example"},
            "digest": {"managers": [MANAGER]},
            "major_incident": {"enabled": True},
            "security": {"trusted_authserv_id": MX},
        },
    )


OUTAGE = (
    ("VPN portal unreachable", "GlobalProtect says the portal vpn.example.org is unreachable."),
    (
        "Cannot connect to VPN",
        "The VPN portal vpn.example.org does not respond, GlobalProtect times out.",
    ),
    ("VPN down?", "GlobalProtect cannot reach the portal vpn.example.org since 9:00."),
    ("GlobalProtect portal unreachable", "None of us can reach the VPN portal vpn.example.org."),
    (
        "VPN gateway not responding",
        "GlobalProtect: portal vpn.example.org unreachable, connection times out.",
    ),
    ("VPN portal down", "The GlobalProtect VPN portal is unreachable from home."),
    ("VPN not working", "GlobalProtect keeps saying the portal vpn.example.org is unreachable."),
    ("VPN unreachable", "Cannot reach vpn.example.org with GlobalProtect, portal unreachable."),
)


def test_burst_becomes_a_major_incident_that_agents_accept_update_and_resolve(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink, capsys
) -> None:  # type: ignore[no-untyped-def]
    """8 similar mails: one candidate and one L3 alert; #major accept links them and tells each
    requester once; later mails get the known-problem acknowledgement; #update reaches every
    requester once; #resolve on the parent resolves all members."""
    settings = settings_for(tmp_path, imap_user, smtp_sink)
    app = Tiket.open(settings, triager=SureModel("network"))
    users = [f"user{n}@example.com" for n in range(8)]

    for n in range(6):
        imap_user.append("INBOX", user_mail(n, users[n], *OUTAGE[n]))
    app.run_once()
    [major] = list(p.MajorIncident.select())
    assert major.status == "candidate"
    parent = m.Ticket.get_by_id(major.parent_id)
    assert p.MajorMember.select().where(p.MajorMember.major == major.id).count() == 6
    mails = inbox(smtp_sink)
    [alert] = mails["l3@desk.example"]
    [told] = mails[MANAGER]  # the managers' copy: its own mail, its own reply token
    assert told["Subject"] == alert["Subject"] and told["Message-ID"] != alert["Message-ID"]
    assert "#major accept" in text_of(alert) and parent.ref in alert["Subject"]

    imap_user.append("INBOX", agent_reply(alert, L3_AGENT, "#major accept"))
    app.run_once()
    parent = m.Ticket.get_by_id(major.parent_id)
    assert p.MajorIncident.get_by_id(major.id).status == "accepted"
    assert (parent.priority, parent.tier, parent.status) == ("P1", "L3", "open")
    mails = inbox(smtp_sink)
    for user in users[:6]:
        known = [x for x in mails[user] if "Known problem" in x["Subject"]]
        assert len(known) == 1, user
        assert parent.ref in text_of(known[0])

    for n in (6, 7):
        imap_user.append("INBOX", user_mail(n, users[n], *OUTAGE[n]))
    app.run_once()
    assert p.MajorMember.select().where(p.MajorMember.major == major.id).count() == 8
    mails = inbox(smtp_sink)
    for user in users[6:]:
        [ack] = mails[user]  # one acknowledgement, and it says the problem is known
        assert "Known problem" in ack["Subject"] and parent.ref in text_of(ack)
    later = m.Ticket.get(m.Ticket.requester == users[7])
    assert not later.needs_review

    imap_user.append(
        "INBOX", agent_reply(alert, L3_AGENT, "#update The VPN vendor is replacing the gateway")
    )
    app.run_once()
    mails = inbox(smtp_sink)
    for user in users:
        updates = [x for x in mails[user] if "Update:" in x["Subject"]]
        assert len(updates) == 1, user
        assert "replacing the gateway" in text_of(updates[0])

    imap_user.append("INBOX", agent_reply(alert, L3_AGENT, "#resolve Gateway replaced; VPN works"))
    app.run_once()
    members = [
        m.Ticket.get_by_id(row.ticket_id)
        for row in p.MajorMember.select().where(p.MajorMember.major == major.id)
    ]
    assert {t.status for t in members} == {"resolved"}
    assert {t.resolution_note for t in members} == {"Gateway replaced; VPN works"}
    mails = inbox(smtp_sink)
    for user in users:
        assert len([x for x in mails[user] if "Resolved" in x["Subject"]]) == 1, user
    assert p.MajorIncident.get_by_id(major.id).status == "resolved"
    audit = {e.action for e in m.AuditRow.select().where(m.AuditRow.ticket == parent.id)}
    assert {"major_candidate", "major_accepted", "major_update", "status_changed"} <= audit

    now = datetime.now(UTC)
    figures = compute_figures(app.store, settings, now.date(), now)
    [item] = figures.major_incidents
    assert (item.ref, item.members, item.status) == (parent.ref, 8, "resolved")
    assert item.resolution_minutes is not None and item.detection_minutes >= 0
    assert parent.ref in render_digest(figures, settings, now).raw.decode()

    assert main(["--config", str(tmp_path / "tiket.toml"), "major", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["members"] == 8 and listed["minutes_to_resolution"] is not None


def test_a_rejected_candidate_leaves_ordinary_tickets_and_is_not_proposed_again(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """`tiket major reject`: members stay ordinary, more of the same mail makes no new candidate."""
    settings = settings_for(tmp_path, imap_user, smtp_sink)
    app = Tiket.open(settings, triager=SureModel("network"))
    for n in range(5):
        imap_user.append("INBOX", user_mail(n, f"u{n}@example.com", *OUTAGE[n]))
    app.run_once()
    [major] = list(p.MajorIncident.select())
    parent = m.Ticket.get_by_id(major.parent_id)
    assert main(["--config", str(tmp_path / "tiket.toml"), "major", "reject", parent.ref]) == 0
    app = Tiket.open(settings, triager=SureModel("network"))  # the CLI rebound the database
    for n in range(5, 8):
        imap_user.append("INBOX", user_mail(n, f"u{n}@example.com", *OUTAGE[n]))
    app.run_once()
    assert p.MajorIncident.select().count() == 1
    assert p.MajorIncident.get_by_id(major.id).status == "rejected"
    assert m.Ticket.get_by_id(major.parent_id).status == "closed"
    later = m.Ticket.get(m.Ticket.requester == "u7@example.com")
    assert p.MajorMember.get_or_none(p.MajorMember.ticket == later.id) is None
    [ack] = inbox(smtp_sink)["u7@example.com"]
    assert "Known problem" not in ack["Subject"]


def test_printer_acknowledgement_asks_printing_questions_offers_a_fix_and_solved_resolves(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """A printer mail's acknowledgement asks the printing questions and shows the matching
    knowledge-base article; the requester's '#solved' resolves the ticket as self-served."""
    settings = settings_for(tmp_path, imap_user, smtp_sink)
    app = Tiket.open(settings, triager=SureModel("printing"))
    imap_user.append(
        "INBOX",
        user_mail(
            1,
            "ann@example.com",
            "Printer jam on floor 3",
            "The printer on floor 3 has a paper jam again, paper stuck in the tray.",
        ),
    )
    app.run_once()
    [ack] = inbox(smtp_sink)["ann@example.com"]
    text = text_of(ack)
    assert "Which printer is it" in text and "paper jam, toner low, offline" in text
    assert "Clearing a paper jam on the office printers" in text
    html = ack.get_body(("html",))
    assert html is not None and "Which printer is it" in str(html.get_content())

    # a forger who knows the requester's address and her own mail's Message-ID cannot close it
    forged = requester_reply(ack, "ann@example.com", "#solved").replace(
        str(ack["Message-ID"]).encode(), b"<proactive-1@example.com>"
    )
    imap_user.append("INBOX", forged)
    app.run_once()
    ticket = m.Ticket.get(m.Ticket.requester == "ann@example.com")
    assert ticket.status != "resolved"

    imap_user.append(
        "INBOX", requester_reply(ack, "ann@example.com", "Thanks, that did it.\n#solved")
    )
    app.run_once()
    ticket = m.Ticket.get(m.Ticket.requester == "ann@example.com")
    assert ticket.status == "resolved"
    actions = [e.action for e in m.AuditRow.select().where(m.AuditRow.ticket == ticket.id)]
    assert "self_served" in actions and "first_diagnosis" in actions
    assert any("Resolved" in x["Subject"] for x in inbox(smtp_sink)["ann@example.com"])
    now = datetime.now(UTC)
    assert compute_figures(app.store, settings, now.date(), now).self_served == 1


def test_breach_acknowledgement_gives_first_steps_not_questions(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """A suspected breach's acknowledgement carries the breach policy's first steps instead."""

    class BreachModel(SureModel):
        def suggest_many(self, items: Sequence[tuple[str, str]]) -> list[TriageOutcome]:
            return [
                TriageOutcome(
                    suggestions=o.suggestions,
                    breach_suspected=True,
                    breach_reasons=("phishing link clicked",),
                )
                for o in super().suggest_many(items)
            ]

    settings = settings_for(tmp_path, imap_user, smtp_sink)
    app = Tiket.open(settings, triager=BreachModel("security"))
    imap_user.append(
        "INBOX",
        user_mail(1, "cat@example.com", "I clicked a phishing link", "I typed my password."),
    )
    app.run_once()
    acks = [x for x in inbox(smtp_sink)["cat@example.com"] if "phishing" in x["Subject"]]
    text = text_of(acks[0])
    assert "Do not delete, forward or reply" in text
    assert "What happened, and when" not in text  # the security diagnosis is not asked


def test_agent_call_sends_a_valid_invitation_and_cancel_sends_the_cancellation(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """#call mails the requester an iCalendar REQUEST whose start is right in UTC; #call cancel
    sends a CANCEL with the same UID and SEQUENCE + 1; the ticket shows the call."""
    settings = settings_for(tmp_path, imap_user, smtp_sink, timezone="Asia/Kuala_Lumpur")
    app = Tiket.open(settings, triager=SureModel("software"))
    imap_user.append(
        "INBOX", user_mail(1, "dan@example.com", "Excel macro fails", "My macro errors out.")
    )
    app.run_once()
    app.desk.assign("TKT-000001", "L2", "l1.anna", datetime.now(UTC))
    app.deliver_outbox()
    [escalation] = inbox(smtp_sink)["l2@desk.example"]
    imap_user.append(
        "INBOX",
        agent_reply(escalation, L2_AGENT, "#call 2026-12-03 10:00 30m https://meet.example.org/x"),
    )
    app.run_once()

    invitation = next(
        x for x in inbox(smtp_sink)["dan@example.com"] if "Invitation" in x["Subject"]
    )
    request = invitation_calendar(invitation, "REQUEST")
    [event] = request.walk("VEVENT")
    assert event["DTSTART"].params["TZID"] == "Asia/Kuala_Lumpur"
    assert event["DTSTART"].dt.astimezone(UTC) == datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    assert int(event["SEQUENCE"]) == 0 and "TKT-000001" in str(event["SUMMARY"])
    assert str(event["ORGANIZER"]) == f"mailto:{L2_AGENT}"
    assert str(event["ATTENDEE"]) == "mailto:dan@example.com"
    assert event["ATTENDEE"].params["RSVP"] == "TRUE"
    assert request.walk("VTIMEZONE")[0]["TZID"] == "Asia/Kuala_Lumpur"
    shown = app.show_ticket("TKT-000001", similar=False)
    assert shown["calls"][0]["status"] == "scheduled"
    assert "call_booked" in {e["action"] for e in shown["events"]}

    imap_user.append("INBOX", agent_reply(escalation, L2_AGENT, "#call cancel"))
    app.run_once()
    cancel_mail = next(
        x for x in inbox(smtp_sink)["dan@example.com"] if "Cancelled" in x["Subject"]
    )
    [cancelled] = invitation_calendar(cancel_mail, "CANCEL").walk("VEVENT")
    assert cancelled["UID"] == event["UID"] and int(cancelled["SEQUENCE"]) == 1
    assert app.show_ticket("TKT-000001", similar=False)["calls"][0]["status"] == "cancelled"


def invitation_calendar(msg: EmailMessage, method: str) -> Calendar:
    """The text/calendar part of a mail, checked against RFC 5545/6047 essentials."""
    [part] = [x for x in msg.walk() if x.get_content_type() == "text/calendar"]
    assert part.get_param("method") == method
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    assert calendar["METHOD"] == method and calendar["VERSION"] == "2.0" and calendar["PRODID"]
    assert msg["Auto-Submitted"] == "auto-replied"
    for event in calendar.walk("VEVENT"):
        for key in ("UID", "DTSTAMP", "DTSTART", "DTEND", "ORGANIZER", "ATTENDEE", "SEQUENCE"):
            assert key in event, key
        assert event["DTSTAMP"].dt.tzinfo is not None  # DTSTAMP is UTC
    return calendar
