"""Floods and loops: one sender's flood and a naive auto-responder cost at most ack_cap_per_hour acks."""

from __future__ import annotations

import email
import sys
from pathlib import Path

from pipeline.app import Tiket
from pipeline.edges import models as m
from pipeline.jobs.intake import NoTriage
from tests.tiket_fixtures import test_settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from flood import flood_mail, naive_replies, put

CAP = 5


def acks_to(address: str) -> int:
    return (
        m.OutboxRow.select()
        .where(
            (m.OutboxRow.first_recipient == address) & (m.OutboxRow.template == "acknowledgement")
        )
        .count()
    )


def test_a_flood_from_one_sender_gets_at_most_the_cap_of_acks(tmp_path: Path) -> None:
    """400 mails from one sender: 400 tickets, ack_cap_per_hour acknowledgements."""
    runtime = Tiket.open(
        test_settings(tmp_path, extra={"intake": {"ack_cap_per_hour": CAP}}), triager=NoTriage()
    )
    maildir = tmp_path / "Maildir"
    for n in range(400):
        put(maildir, f"f{n}", flood_mail(n, "flooder@example.com"))
    summary = runtime.run_once()
    assert summary.dispositions == {"ticket_created": 400}
    assert acks_to("flooder@example.com") == CAP and m.OutboxRow.select().count() == CAP


def test_a_naive_auto_responder_does_not_loop_with_our_acks(tmp_path: Path) -> None:
    """A responder answering every mail we send (no Auto-Submitted, In-Reply-To our mail): after
    rounds of ping-pong it has received at most the cap, and the exchange comes to rest."""
    runtime = Tiket.open(
        test_settings(tmp_path, extra={"intake": {"ack_cap_per_hour": CAP}}), triager=NoTriage()
    )
    maildir = tmp_path / "Maildir"
    for n in range(3 * CAP):  # first contact: distinct new mails from the responder's address
        put(maildir, f"start{n}", flood_mail(n, "robot@example.net"))
    answered: set[int] = set()
    sent_per_round = []
    for round_ in range(6):
        runtime.run_once()
        replies = naive_replies(m.OutboxRow.select().where(m.OutboxRow.id.not_in(answered or {0})))
        answered |= {row_id for row_id, _ in replies}
        sent_per_round.append(len(replies))
        for row_id, raw in replies:
            put(maildir, f"reply{round_}-{row_id}", raw)
    assert sum(sent_per_round) == m.OutboxRow.select().count()
    assert (
        m.OutboxRow.select().where(m.OutboxRow.first_recipient == "robot@example.net").count()
        <= CAP
    )
    assert sent_per_round[-1] == 0 and sent_per_round[-2] == 0  # at rest
    assert m.Ticket.select().count() == 3 * CAP
    replies_in = m.Inbound.select().where(m.Inbound.disposition == "reply_added").count()
    assert replies_in == sent_per_round[0]
    assert all(
        email.message_from_bytes(bytes(r.raw))["Auto-Submitted"] == "auto-replied"
        for r in m.OutboxRow.select()
    )
