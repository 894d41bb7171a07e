"""Floods and loops: one sender's flood and a naive auto-responder cost at most ack_cap_per_hour acks."""

from __future__ import annotations

import email
import sys
from datetime import UTC, datetime
from pathlib import Path

from pipeline.app import Tiket
from pipeline.edges import models as m
from pipeline.jobs.digest_job import compute_figures
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
        test_settings(
            tmp_path, extra={"intake": {"ack_cap_per_hour": CAP, "loop_repeat_limit": 1000}}
        ),
        triager=NoTriage(),
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
        test_settings(
            tmp_path, extra={"intake": {"ack_cap_per_hour": CAP, "loop_repeat_limit": 1000}}
        ),
        triager=NoTriage(),
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


def test_plus_addressing_case_and_dots_do_not_multiply_the_cap(tmp_path: Path) -> None:
    """victim+N@, Victim@ and v.ictim@gmail: one mailbox, so ack_cap_per_hour acks in all
    (today's main sent 30 of 30)."""
    limits = {"ack_cap_per_hour": CAP, "loop_repeat_limit": 1000}  # the cap alone is tested
    runtime = Tiket.open(test_settings(tmp_path, extra={"intake": limits}), triager=NoTriage())
    maildir = tmp_path / "Maildir"
    for n in range(30):
        sender = (f"victim+{n}@example.com", f"Victim+x{n}@EXAMPLE.com")[n % 2]
        put(maildir, f"p{n}", flood_mail(n, sender))
    for n in range(10):
        put(maildir, f"g{n}", flood_mail(100 + n, f"v.i.c.t.i.m+{n}@googlemail.com"))
    summary = runtime.run_once()
    assert summary.dispositions == {"ticket_created": 40}
    by_key = {
        key: m.OutboxRow.select().where(m.OutboxRow.recipient_key == key).count()
        for key in ("victim@example.com", "victim@gmail.com")
    }
    assert by_key == {"victim@example.com": CAP, "victim@gmail.com": CAP}
    held = m.AuditRow.select().where(
        (m.AuditRow.action == "not_acknowledged") & m.AuditRow.detail.contains("exceeds_ack_cap")
    )
    assert held.count() == 40 - 2 * CAP


def test_many_distinct_senders_hit_the_desk_wide_cap(tmp_path: Path) -> None:
    """60 distinct senders in an hour, desk cap 20: 60 tickets, 20 acks, 40 audited as held."""
    runtime = Tiket.open(
        test_settings(tmp_path, extra={"intake": {"desk_ack_cap_per_hour": 20}}),
        triager=NoTriage(),
    )
    maildir = tmp_path / "Maildir"
    for n in range(60):
        put(maildir, f"d{n}", flood_mail(n, f"sender{n}@example{n}.net"))
    summary = runtime.run_once()
    assert summary.dispositions == {"ticket_created": 60}
    assert m.OutboxRow.select().count() == 20
    assert summary.rules["exceeds_desk_ack_cap"] == 40
    now = datetime.now(UTC)
    figures = compute_figures(runtime.store, runtime.settings, now.date(), now)
    assert figures.health.acks_held == 40  # the managers see what was held back


def headerless_answer(ours: bytes, n: int) -> bytes:
    """An auto-responder that sets no RFC 3834 header, no In-Reply-To and no References, and
    answers with a fresh Message-ID and its subject: each answer looks like a new mail."""
    head = email.message_from_bytes(ours.split(b"\r\n\r\n", 1)[0])
    to = str(head["To"]).split(",")[0].strip()
    return (
        f"From: {to}\r\nTo: {head['From']}\r\nSubject: Away from my desk\r\n"
        f"Message-ID: <away-{n}@example.net>\r\nDate: Fri, 27 Nov 2026 08:00:05 +0000\r\n\r\n"
        f"I am away until 2026-12-{n % 28 + 1:02d}. Your message {n} will be read then.\r\n"
    ).encode()


def test_a_headerless_auto_responder_loop_comes_to_rest(tmp_path: Path) -> None:
    """Each of our acks is answered by a new mail with the same body: after loop_repeat_limit
    acks the loop guard stops answering, although the per-sender cap (100) is far away."""
    runtime = Tiket.open(
        test_settings(tmp_path, extra={"intake": {"ack_cap_per_hour": 100}}), triager=NoTriage()
    )
    maildir = tmp_path / "Maildir"
    put(maildir, "start", flood_mail(0, "robot@example.net"))
    answered: set[int] = set()
    sent_per_round = []
    for round_ in range(8):
        runtime.run_once()
        new = list(m.OutboxRow.select().where(m.OutboxRow.id.not_in(answered or {0})))
        answered |= {row.id for row in new}
        sent_per_round.append(len(new))
        for row in new:
            put(maildir, f"away{round_}-{row.id}", headerless_answer(bytes(row.raw), row.id))
    assert sent_per_round[-3:] == [0, 0, 0], sent_per_round  # at rest
    assert acks_to("robot@example.net") == 1 + 3  # first contact, then loop_repeat_limit
    assert m.Ticket.select().count() == 5  # every mail is still recorded
    assert m.Inbound.select().where(m.Inbound.rule == "repeats_same_body").count() == 1
