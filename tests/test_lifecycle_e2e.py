"""The whole life of a ticket against real servers: review, SLA breach, escalation, agent mail."""

from __future__ import annotations

import email
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

from pipeline.app import Tiket
from pipeline.cli import main
from pipeline.edges import models as m
from pipeline.records import Suggestion, TriageOutcome
from tests.servers import ImapUser, SmtpSink
from tests.test_intake_imap import mailbox_entry
from tests.tiket_fixtures import test_settings

AGENT = "bob.l2@desk.example"
MX = "mx.desk.example"
"""The desk's receiving server: its Authentication-Results are the only ones tiket trusts."""


def passed_by_mx(domain: str) -> str:
    """The header the desk's own MTA would prepend to a mail that passed DMARC."""
    return f"Authentication-Results: {MX}; dmarc=pass header.from={domain}; spf=pass smtp.mailfrom={domain}\r\n"


class UnsureModel:
    """A triager that is never confident: every ticket waits for L1 review."""

    def suggest_many(self, items: Sequence[tuple[str, str]]) -> list[TriageOutcome]:
        return [
            TriageOutcome(
                model_version="test",
                suggestions=(
                    Suggestion(head="kind", label="request", confidence=0.55, applied=False),
                    Suggestion(head="category", label="Hardware", confidence=0.61, applied=False),
                    Suggestion(head="priority", label="P3", confidence=0.4, applied=False),
                ),
            )
            for _ in items
        ]


def mail(
    n: int, subject: str, body: str, sender: str = "ann@example.com", extra: str = ""
) -> bytes:
    return (
        f"From: Ann Lee <{sender}>\r\nTo: support@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <life-{n}@example.com>\r\nDate: Thu, 26 Nov 2026 09:00:00 +0800\r\n"
        f"{extra}\r\n{body}\r\n"
    ).encode()


def by_recipient(sink: SmtpSink) -> dict[str, list[email.message.EmailMessage]]:
    found: dict[str, list[email.message.EmailMessage]] = {}
    for meta, raw in sink.messages():
        for rcpt in meta["rcpt_tos"]:
            found.setdefault(rcpt, []).append(email.message_from_bytes(raw, policy=policy.default))  # type: ignore[arg-type]
    return found


def text_of(msg: email.message.EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_mail_to_review_to_breach_to_escalation_to_agent_resolution(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink, capsys
) -> None:  # type: ignore[no-untyped-def]
    """A mail becomes a ticket, is corrected in review, breaches, escalates to L2 with similar
    tickets, is resolved by an agent's #resolve, and the requester hears of every step."""
    settings = test_settings(
        tmp_path,
        mailboxes=[mailbox_entry(imap_user, tmp_path)],
        outbox_url=f"smtp://127.0.0.1:{smtp_sink.port}",
        extra={
            "tiers.L2": {"members": [AGENT], "group": "l2@desk.example"},
            "tiers.L1": {"group": "l1@desk.example"},
            "security": {"trusted_authserv_id": MX},
            "sla": {  # this desk escalates every missed first response
                "escalate_on_missed_first_response": {p: True for p in ("P1", "P2", "P3", "P4")}
            },
        },
    )
    config = str(tmp_path / "tiket.toml")
    runtime = Tiket.open(settings, triager=UnsureModel())
    desk = runtime.desk
    now = datetime.now(UTC)

    # an earlier, resolved ticket about the same printer
    imap_user.append(
        "INBOX", mail(1, "Printer on floor 3 jammed", "Paper stuck in the printer tray on floor 3.")
    )
    runtime.run_once()
    desk.set_status(
        "TKT-000001",
        "resolved",
        "carol",
        "Cleared the paper path and replaced the pickup roller",
        now,
    )

    # the new ticket waits for review
    imap_user.append(
        "INBOX",
        mail(2, "Printer jam on floor 3 again", "The floor 3 printer jams again, paper stuck."),
    )
    runtime.run_once()
    assert main(["--config", config, "review", "list", "--json"]) == 0
    queue = __import__("json").loads(capsys.readouterr().out)
    assert [item["ref"] for item in queue] == ["TKT-000002"]
    assert queue[0]["suggestions"][0]["confidence"] == 0.55
    assert (
        main(
            [
                "--config",
                config,
                "review",
                "set",
                "TKT-000002",
                "--kind",
                "incident",
                "--priority",
                "P3",
                "--category",
                "Hardware",
                "--agent",
                "l1.anna",
            ]
        )
        == 0
    )
    decisions = {
        (d.head, d.label, d.suggested) for d in m.Decision.select().where(m.Decision.ticket == 2)
    }
    assert ("kind", "incident", "request") in decisions and (
        "category",
        "Hardware",
        "Hardware",
    ) in decisions

    # no first response within 3 h (P3): the SLA job escalates L1 -> L2, once
    later = m.Ticket.get_by_id(2).created_at.replace(tzinfo=UTC) + timedelta(hours=3, minutes=5)
    outbox_before = m.OutboxRow.select().count()
    assert main(["--config", config, "sla", "check", "--now", later.isoformat()]) == 0
    assert m.Ticket.get_by_id(2).tier == "L1"  # without --apply: a dry run changes nothing
    assert m.OutboxRow.select().count() == outbox_before
    assert main(["--config", config, "sla", "check", "--now", later.isoformat(), "--apply"]) == 0
    assert main(["--config", config, "sla", "check", "--now", later.isoformat(), "--apply"]) == 0
    assert m.Ticket.get_by_id(2).tier == "L2"
    assert (
        m.SlaEvent.select().where((m.SlaEvent.ticket == 2) & (m.SlaEvent.kind == "breach")).count()
        == 1
    )
    inboxes = by_recipient(smtp_sink)
    [escalation] = inboxes["l2@desk.example"]
    staff_text = text_of(escalation)
    assert "TKT-000001" in staff_text and "replaced the pickup roller" in staff_text
    assert "first response target missed" in staff_text

    # the L2 agent answers the escalation mail with a command
    reply = (
        passed_by_mx("desk.example").encode()
        + (
            f"From: Bob <{AGENT}>\r\nTo: support@example.org\r\nSubject: Re: {escalation['Subject']}\r\n"
            f"Message-ID: <agent-1@desk.example>\r\nIn-Reply-To: {escalation['Message-ID']}\r\n\r\n"
            "Hi Ann, we replaced the fuser unit; please try again.\r\n"
            "#resolve Replaced the fuser unit\r\n"
        ).encode()
    )
    imap_user.append("INBOX", reply)
    runtime.run_once()
    ticket = m.Ticket.get_by_id(2)
    assert ticket.status == "resolved" and ticket.first_response_at is not None
    assert ticket.resolution_note == "Replaced the fuser unit"

    # the requester heard of every step, in order
    subjects = [
        msg["Subject"]
        for msg in by_recipient(smtp_sink)["ann@example.com"]
        if "TKT-000002" in msg["Subject"]
    ]
    assert [s.split(": ")[0].split("] ")[-1] if ": " in s else s for s in subjects] and len(
        subjects
    ) == 4
    assert subjects[0].startswith("[TKT-000002] Printer jam")
    assert subjects[1].startswith("[TKT-000002] Passed to")
    assert subjects[2].startswith("Re: [TKT-000002]")
    assert subjects[3].startswith("[TKT-000002] Resolved")
    answer = [
        msg for msg in by_recipient(smtp_sink)["ann@example.com"] if msg["Subject"] == subjects[2]
    ][0]
    assert "replaced the fuser unit" in text_of(answer) and "#resolve" not in text_of(answer)


def test_commands_from_a_non_agent_are_ignored_and_audited(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """The requester writing '#close' changes nothing; the audit trail says it was ignored."""
    settings = test_settings(
        tmp_path,
        mailboxes=[mailbox_entry(imap_user, tmp_path)],
        outbox_url=f"smtp://127.0.0.1:{smtp_sink.port}",
    )
    runtime = Tiket.open(settings, triager=UnsureModel())
    imap_user.append("INBOX", mail(1, "VPN down", "VPN does not connect."))
    runtime.run_once()
    imap_user.append(
        "INBOX",
        mail(
            2,
            "Re: [TKT-000001] VPN down",
            "Never mind\n#close",
            extra="In-Reply-To: <life-1@example.com>\r\n",
        ),
    )
    runtime.run_once()
    assert m.Ticket.get_by_id(1).status == "new"
    assert m.AuditRow.select().where(m.AuditRow.action == "commands_ignored").count() == 1


def test_a_breach_suspect_goes_to_l3_and_the_security_contact(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """A mail the breach rules flag is P1 at L3 at once; security and L3 get mail."""
    settings = test_settings(
        tmp_path,
        mailboxes=[mailbox_entry(imap_user, tmp_path)],
        outbox_url=f"smtp://127.0.0.1:{smtp_sink.port}",
        extra={
            "security": {"contact": "sec@desk.example"},
            "tiers.L3": {"group": "l3@desk.example"},
        },
    )
    runtime = Tiket.open(settings)  # no model in tmp: the breach rules still run
    imap_user.append(
        "INBOX",
        mail(
            1,
            "URGENT - work laptop stolen, has customer data on it",
            "My work laptop was stolen from my car this morning. It has customer records on it.",
        ),
    )
    summary = runtime.run_once()
    ticket = m.Ticket.get_by_id(1)
    assert (ticket.priority, ticket.tier, ticket.breach_suspected) == ("P1", "L3", True)
    assert summary.sla.breach_routes == 1
    inboxes = by_recipient(smtp_sink)
    assert "SUSPECTED DATA BREACH" in inboxes["sec@desk.example"][0]["Subject"]
    assert "l3@desk.example" in inboxes
    assert "within 1 hour" in text_of(inboxes["ann@example.com"][0])
