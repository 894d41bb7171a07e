"""Several daemons: two real `tiket run` processes share one mailbox, one database and the outbox.

The leases (daemon.py, store.py) let one daemon work a mailbox and one the outbox at a time; the
claim fence in store.apply_plan makes a daemon that lost its lease mid-batch roll back instead of
doubling work. The test uses short leases so that they change hands during the run.
"""

from __future__ import annotations

import email
import time
from collections import Counter
from datetime import UTC
from pathlib import Path

import pytest

from pipeline.app import Tiket
from pipeline.edges import models as m
from pipeline.edges.store import open_database
from pipeline.jobs.intake import NoTriage
from pipeline.records import RawMail
from pipeline.settings import load_settings
from tests.servers import ImapUser, SmtpSink
from tests.tiket_fixtures import TiketDaemon, daemon_config, test_settings

MAILS = 50


def mail(n: int) -> bytes:
    return (
        f"From: User {n} <user{n}@example.com>\r\nTo: support@example.org\r\n"
        f"Subject: Printer {n} jams\r\nMessage-ID: <jam-{n}@example.com>\r\n"
        f"Date: Thu, 26 Nov 2026 10:00:00 +0800\r\n\r\nThe printer on floor {n} jams.\r\n"
    ).encode()


def wait_until(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_a_daemon_that_lost_its_claim_rolls_back_instead_of_doubling(tmp_path: Path) -> None:
    """A claims a batch, stalls; B re-claims one mail and finishes it; A's apply of it rolls back."""
    from datetime import datetime

    runtime = Tiket.open(test_settings(tmp_path), triager=NoTriage())
    now = datetime.now(UTC)
    runtime.store.receive_many(
        [RawMail(mailbox="test", uidvalidity=1, uid=n, raw=mail(n)) for n in range(3)], now
    )
    batch_a = runtime.store.claim_pending(10)  # daemon A, whose lease then expires
    batch_b = runtime.store.claim_pending(10)  # daemon B takes over: A's mails look retried
    assert [s.id for s in batch_b] == [batch_a[0].id]
    [result_b] = runtime.intake.process_batch(batch_b)
    results_a = runtime.intake.process_batch(batch_a)
    assert result_b.disposition == "ticket_created"
    assert [r.disposition for r in results_a] == ["claim_lost", "ticket_created", "ticket_created"]
    assert m.Ticket.select().count() == 3 and m.OutboxRow.select().count() == 3
    assert m.Message.select().count() == 3
    assert m.Inbound.select().where(m.Inbound.state == "done").count() == 3


@pytest.mark.servers
def test_two_daemons_on_one_mailbox_make_one_ticket_and_one_ack_per_mail(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink, tiket_db: str
) -> None:
    """50 mails, most APPENDed while both run; the working daemon is stopped midway and the other
    takes over: 50 tickets, 50 acks with distinct Message-IDs, every SIGTERM answered with exit 0."""
    config = daemon_config(
        tmp_path / "tiket.toml",
        tmp_path / "data",
        imap_user=imap_user.user,
        imap_port=imap_user.port,
        ca_file=imap_user.ca_file,
        imap_password=imap_user.password,
        smtp_port=smtp_sink.port,
        intake={"lease_seconds": 2, "fetch_batch": 10},
    )
    for n in range(20):
        imap_user.append("INBOX", mail(n))
    daemons = [TiketDaemon(config, tmp_path / f"daemon{i}.log") for i in (1, 2)]

    def logs() -> list[str]:
        return [d.log_text()[-3000:] for d in daemons]

    codes = []
    try:
        for daemon in daemons:
            daemon.start()
        for n in range(20, 35):
            imap_user.append("INBOX", mail(n))
            time.sleep(0.05)
        assert wait_until(lambda: len(smtp_sink.messages()) >= 35, 60), logs()
        worker = next(d for d in daemons if "ticket_created" in d.log_text())
        codes.append(worker.terminate())  # the other daemon takes over its leases
        for n in range(35, MAILS):
            imap_user.append("INBOX", mail(n))
        assert wait_until(lambda: len(smtp_sink.messages()) >= MAILS, 60), logs()
        worker.start()
        assert worker.wait_for_log("daemon started", 30), logs()  # SIGTERM before start-up kills
        assert wait_until(
            lambda: len(smtp_sink.messages()) >= MAILS and not imap_user.uids("INBOX"), 60
        ), logs()
        time.sleep(2)  # room for a double to show up
    finally:
        codes += [daemon.terminate() for daemon in daemons]
    assert codes == [0, 0, 0], logs()
    open_database(load_settings(config, env={}))
    per_mail = Counter(
        row.message_id for row in m.Message.select().where(m.Message.direction == "in")
    )
    assert m.Ticket.select().count() == MAILS and len(per_mail) == MAILS
    assert set(per_mail.values()) == {1}
    acks = [email.message_from_bytes(raw) for _, raw in smtp_sink.messages()]
    assert len(acks) == MAILS and len({a["Message-ID"] for a in acks}) == MAILS
    assert {a["In-Reply-To"] for a in acks} == {f"<jam-{n}@example.com>" for n in range(MAILS)}
    assert m.Inbound.select().where(m.Inbound.state != "done").count() == 0
    assert m.OutboxRow.select().where(m.OutboxRow.status != "sent").count() == 0
    assert len(imap_user.uids("Processed")) == MAILS
