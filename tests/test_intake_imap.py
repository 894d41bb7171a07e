"""Intake against real servers: Dovecot on loopback in, the aiosmtpd sink out; crashes; the daemon."""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.app import Tiket
from pipeline.edges import models as m
from pipeline.jobs.intake import NoTriage
from pipeline.settings import Settings
from tests.servers import ImapUser, SmtpSink
from tests.tiket_fixtures import database_section, test_settings, write_config

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "config" / "sample-mails"
pytestmark = pytest.mark.servers


def user_mail(n: int, sender: str = "ann@example.com", extra: str = "") -> bytes:
    return (
        f"From: Ann <{sender}>\r\nTo: support@example.org\r\nSubject: Laptop {n} will not boot\r\n"
        f"Message-ID: <boot-{n}@example.com>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0800\r\n{extra}"
        f"\r\nMy laptop shows a black screen since this morning.\r\n"
    ).encode()


def mailbox_entry(
    imap: ImapUser,
    tmp_path: Path,
    name: str = "support",
    *,
    password: str | None = None,
    scheme: str = "imap",
) -> dict[str, Any]:
    secret = tmp_path / f"{name}.pw"
    secret.write_text(password or imap.password)
    port = imap.ssl_port if scheme == "imaps" else imap.port
    return {
        "name": name,
        "url": f"{scheme}://{imap.user}@127.0.0.1:{port}/INBOX",
        "ca_file": str(imap.ca_file),
        "password_file": str(secret),
    }


def imap_settings(tmp_path: Path, imap: ImapUser, sink: SmtpSink, **kwargs: Any) -> Settings:
    return test_settings(
        tmp_path,
        mailboxes=[mailbox_entry(imap, tmp_path, **kwargs)],
        outbox_url=f"smtp://127.0.0.1:{sink.port}",
    )


def test_mail_becomes_ticket_moves_to_processed_and_ack_reaches_the_sink(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """APPEND -> one ticket, the mail moved to Processed unread, one ack with ref and promise."""
    imap_user.append("INBOX", user_mail(1))
    runtime = Tiket.open(imap_settings(tmp_path, imap_user, smtp_sink), triager=NoTriage())
    summary = runtime.run_once()
    assert summary.dispositions == {"ticket_created": 1} and summary.delivery.sent == 1
    assert imap_user.uids("INBOX") == []
    [moved] = imap_user.fetch("Processed")
    assert "\\Seen" not in moved.flags
    [(meta, raw)] = smtp_sink.wait_for(1)
    ack = email.message_from_bytes(raw)
    assert meta["rcpt_tos"] == ["ann@example.com"]
    assert ack["Subject"] == "[TKT-000001] Laptop 1 will not boot"
    assert ack["Auto-Submitted"] == "auto-replied" and ack["In-Reply-To"] == "<boot-1@example.com>"
    assert b"within 3 hours" in raw


def test_reply_to_the_ack_threads_into_the_ticket(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """The user's answer to our acknowledgement joins the ticket through In-Reply-To."""
    runtime = Tiket.open(imap_settings(tmp_path, imap_user, smtp_sink), triager=NoTriage())
    imap_user.append("INBOX", user_mail(1))
    runtime.run_once()
    [(_, raw)] = smtp_sink.wait_for(1)
    ack_id = email.message_from_bytes(raw)["Message-ID"]
    imap_user.append("INBOX", user_mail(2, extra=f"In-Reply-To: {ack_id}\r\n"))
    summary = runtime.run_once()
    assert summary.dispositions == {"reply_added": 1}
    assert m.Ticket.select().count() == 1 and m.Message.select().count() == 2


def test_our_own_ack_coming_back_is_screened(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """An ack delivered back into the support mailbox is dropped by is_own_mail: no loop."""
    runtime = Tiket.open(imap_settings(tmp_path, imap_user, smtp_sink), triager=NoTriage())
    imap_user.append("INBOX", user_mail(1))
    runtime.run_once()
    [(_, raw)] = smtp_sink.wait_for(1)
    imap_user.append("INBOX", raw)
    summary = runtime.run_once()
    assert summary.rules == {"is_own_mail": 1} and len(smtp_sink.messages()) == 1


def test_imaps_and_a_failing_mailbox_does_not_stop_the_other(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """A wrong password on one mailbox is reported; the IMAPS mailbox next to it is processed."""
    boxes = [
        mailbox_entry(imap_user, tmp_path, "broken", password="wrong"),
        mailbox_entry(imap_user, tmp_path, "good", scheme="imaps"),
    ]
    settings = test_settings(
        tmp_path, mailboxes=boxes, outbox_url=f"smtp://127.0.0.1:{smtp_sink.port}"
    )
    imap_user.append("INBOX", user_mail(1))
    summary = (Tiket.open(settings, triager=NoTriage())).run_once()
    assert summary.dispositions == {"ticket_created": 1}
    assert len(summary.failed_mailboxes) == 1 and "broken" in summary.failed_mailboxes[0]


def test_smtp_4xx_is_retried_and_5xx_fails_at_once(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """451 leaves the row pending for a retry with the same Message-ID; 550 fails it, audited."""
    runtime = Tiket.open(imap_settings(tmp_path, imap_user, smtp_sink), triager=NoTriage())
    smtp_sink.fail_next(451, 1)
    imap_user.append("INBOX", user_mail(1))
    assert runtime.run_once().delivery.retried == 1
    row = m.OutboxRow.get()
    assert row.status == "pending" and row.attempts == 1 and "451" in row.last_error
    m.OutboxRow.update(next_attempt_at=row.created_at).execute()

    assert runtime.deliver_outbox().sent == 1
    [(_, raw)] = smtp_sink.wait_for(1)
    assert email.message_from_bytes(raw)["Message-ID"] == row.message_id
    smtp_sink.fail_next(550, 1)
    imap_user.append("INBOX", user_mail(2, sender="bob@example.com"))
    assert runtime.run_once().delivery.failed == 1
    assert m.AuditRow.select().where(m.AuditRow.action == "outbox_failed").count() == 1


def write_process_config(tmp_path: Path, imap: ImapUser, sink: SmtpSink, **intake: Any) -> Path:
    secret = tmp_path / "pw"
    secret.write_text(imap.password)
    return write_config(
        tmp_path / "tiket.toml",
        {
            "desk": {"data_dir": str(tmp_path / "data"), "log_level": "INFO"},
            "triage": {"build_default": False, "model_dir": str(tmp_path / "none")},
            "outbox": {"url": f"smtp://127.0.0.1:{sink.port}", "tls": "none"},
            "intake": {"poll_interval_seconds": 1, **intake},
            "database": database_section(),
        },
        [
            {
                "name": "support",
                "url": f"imap://{imap.user}@127.0.0.1:{imap.port}/INBOX",
                "ca_file": str(imap.ca_file),
                "password_file": str(secret),
            }
        ],
    )


def tiket(
    config: Path, *args: str, crash_at: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TIKET_DEBUG__CRASH_AT=crash_at)
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--config", str(config), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.mark.parametrize("crash_at", ["after_receive", "after_apply", "after_move", "after_send"])
def test_killed_between_stages_loses_and_doubles_nothing(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink, crash_at: str
) -> None:
    """A real `tiket run --once` dies at a stage boundary; after a restart: one ticket per mail."""
    config = write_process_config(tmp_path, imap_user, smtp_sink)
    for n in range(3):
        imap_user.append("INBOX", user_mail(n, sender=f"u{n}@example.com"))
    died = tiket(config, "run", "--once", crash_at=crash_at)
    assert died.returncode == 137, died.stderr[-2000:]
    done = tiket(config, "run", "--once")
    assert done.returncode == 0, done.stderr[-2000:]
    tiket(config, "run", "--once")
    rows = [r for r in __import__("json").loads(tiket(config, "inbound", "list", "--json").stdout)]
    assert sorted(r["disposition"] for r in rows) == ["ticket_created"] * 3
    tickets = __import__("json").loads(tiket(config, "tickets", "list", "--json").stdout)
    assert len(tickets) == 3
    assert imap_user.uids("INBOX") == [] and len(imap_user.uids("Processed")) == 3
    acks = smtp_sink.wait_for(3, timeout=30)
    ids = [email.message_from_bytes(raw)["Message-ID"] for _, raw in acks]
    assert len(set(ids)) == 3, ids  # at least once each, a resend keeps its Message-ID


def test_daemon_with_idle_picks_up_new_mail_and_stops_on_sigterm(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """`tiket run` gets a mail APPENDed while it IDLEs, acknowledges it, and exits 0 on SIGTERM."""
    config = write_process_config(tmp_path, imap_user, smtp_sink)
    env = dict(os.environ, TIKET_DEBUG__CRASH_AT="")
    log = tmp_path / "daemon.log"
    with open(log, "w") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "--config", str(config), "run"],
            env=env,
            stdout=handle,
            stderr=handle,
            cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "idle=True" not in log.read_text():
                time.sleep(0.05)
            imap_user.append("INBOX", user_mail(1))
            assert smtp_sink.wait_for(1, timeout=60)  # the latency itself: benchmarks/intake.py
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert "daemon stopped" in log.read_text()
    assert imap_user.uids("INBOX") == []
