"""Tests that the test-server fixtures give real, working servers to real clients."""

from __future__ import annotations

import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import peewee
import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from playhouse.db_url import connect as db_connect

from tests.servers import DEFAULT_FOLDERS, Dovecot, ImapUser, Postgres, SmtpSink, port_accepts

pytestmark = pytest.mark.servers

RAW = (
    b"From: alice@example.org\r\nTo: desk@example.org\r\nSubject: printer\r\n"
    b"Message-ID: <t1@example.org>\r\n\r\nThe printer is on fire.\r\n"
)


def make_mail(subject: str = "printer") -> EmailMessage:
    """A small mail from alice to the desk."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@example.org", "desk@example.org", subject
    msg.set_content("The printer is on fire.\n")
    return msg


# ------------------------------------------------------------------------------------ IMAP


@pytest.mark.parametrize("tls", ["plain", "starttls", "ssl"])
def test_imap_login(imap_user: ImapUser, tls: str) -> None:
    """LOGIN works over plain IMAP, STARTTLS and IMAPS (verified against ca_file)."""
    if tls == "ssl":
        client = IMAPClient(
            imap_user.host,
            port=imap_user.ssl_port,
            ssl=True,
            ssl_context=imap_user.ssl_context(),
            timeout=10,
        )
    else:
        client = IMAPClient(imap_user.host, port=imap_user.port, ssl=False, timeout=10)
        if tls == "starttls":
            assert b"STARTTLS" in client.capabilities()
            client.starttls(imap_user.ssl_context())
    client.login(imap_user.user, imap_user.password)
    assert {b"IDLE", b"MOVE", b"UIDPLUS", b"CONDSTORE"} <= set(client.capabilities())
    client.logout()


def test_imap_wrong_password(imap_user: ImapUser) -> None:
    """A wrong password raises LoginError; the config turns the auth penalty off (pitfall D3)."""
    client = IMAPClient(imap_user.host, port=imap_user.port, ssl=False, timeout=10)
    with pytest.raises(LoginError):
        client.login(imap_user.user, "wrong")
    client.shutdown()
    config = imap_user.server.config_path.read_text()
    assert "auth_failure_delay = 0 secs" in config and "anvil-auth-penalty" in config


def test_imap_default_folders(imap_user: ImapUser) -> None:
    """INBOX, Processed, Quarantine, Archive, Sent, Trash exist and are subscribed."""
    with imap_user.connect() as client:
        listed = {name for _f, _s, name in client.list_folders()}
        subscribed = {name for _f, _s, name in client.list_sub_folders()}
        separator = client.namespace().personal[0][1]
    assert set(DEFAULT_FOLDERS) <= listed
    assert set(DEFAULT_FOLDERS) - {"INBOX"} <= subscribed
    assert separator == "/"


def test_imap_append_then_fetch(imap_user: ImapUser) -> None:
    """APPEND returns the UID; fetch gives the exact bytes back with the flags set."""
    uid = imap_user.append("INBOX", RAW, flags=("\\Flagged",))
    mails = imap_user.fetch("INBOX")
    assert [m.uid for m in mails] == [uid]
    assert mails[0].raw == RAW
    assert "\\Flagged" in mails[0].flags and "\\Seen" not in mails[0].flags


def test_imap_idle_sees_append(imap_user: ImapUser) -> None:
    """IDLE on one connection sees an APPEND made by a second connection within 3 s."""
    with imap_user.connect() as watcher:
        watcher.select_folder("INBOX")
        watcher.idle()
        imap_user.append("INBOX", RAW)
        seen: list[tuple[object, ...]] = []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and not any(b"EXISTS" in r for r in seen):
            seen += watcher.idle_check(timeout=0.25)
        watcher.idle_done()
    assert (1, b"EXISTS") in seen


def test_imap_move_to_processed(imap_user: ImapUser) -> None:
    """MOVE takes a mail from INBOX to Processed."""
    uid = imap_user.append("INBOX", RAW)
    with imap_user.connect() as client:
        client.select_folder("INBOX")
        client.move([uid], "Processed")
    assert imap_user.uids("INBOX") == []
    assert [m.raw for m in imap_user.fetch("Processed")] == [RAW]


def test_imap_reset_user(imap_user: ImapUser, dovecot: Dovecot) -> None:
    """reset_user empties every folder and deletes folders the test created."""
    imap_user.append("INBOX", RAW)
    imap_user.append("Quarantine", RAW)
    with imap_user.connect() as client:
        client.create_folder("Team/Printers")
    dovecot.reset_user("desk")
    with imap_user.connect() as client:
        listed = {name for _f, _s, name in client.list_folders()}
    assert listed == set(DEFAULT_FOLDERS)
    assert all(imap_user.uids(folder) == [] for folder in DEFAULT_FOLDERS)


def test_imap_users_are_isolated(imap_user: ImapUser, dovecot: Dovecot) -> None:
    """Mail for "desk" is not visible to "other"."""
    dovecot.reset_user("other")
    imap_user.append("INBOX", RAW)
    assert dovecot.folder_uids("other", "INBOX") == []


# ------------------------------------------------------------------------------------ SMTP


def test_smtp_plain_send(smtp_sink: SmtpSink) -> None:
    """A plain send lands in the sink with the raw bytes and its envelope in the json."""
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        client.sendmail("alice@example.org", ["desk@example.org", "l2@example.org"], RAW)
    [(meta, stored)] = smtp_sink.wait_for(1)
    assert stored == RAW
    assert meta["mail_from"] == "alice@example.org"
    assert meta["rcpt_tos"] == ["desk@example.org", "l2@example.org"]
    assert meta["auth_user"] is None and meta["tls"] is False
    assert meta["peer"][0] == "127.0.0.1" and meta["received_ns"] > 0


def test_smtp_starttls_auth_send(smtp_sink_tls: SmtpSink) -> None:
    """AUTH is offered only after STARTTLS; an authenticated send records user and TLS."""
    with smtplib.SMTP(smtp_sink_tls.host, smtp_sink_tls.port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls") and not client.has_extn("auth")
        client.starttls(context=smtp_sink_tls.ssl_context())
        client.login("sender", "senderpw")
        client.send_message(make_mail())
    [(meta, raw)] = smtp_sink_tls.wait_for(1)
    assert meta["auth_user"] == "sender" and meta["tls"] is True
    assert b"Subject: printer" in raw


def test_smtp_wrong_password(smtp_sink_tls: SmtpSink) -> None:
    """A wrong SMTP password is refused with 535 and nothing is stored."""
    with smtplib.SMTP(smtp_sink_tls.host, smtp_sink_tls.port, timeout=10) as client:
        client.starttls(context=smtp_sink_tls.ssl_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("sender", "wrong")
    assert refused.value.smtp_code == 535
    assert smtp_sink_tls.messages() == []


def test_smtp_fail_next_transient_then_ok(smtp_sink: SmtpSink) -> None:
    """fail_next(451, 1) fails one send with 451; the next send succeeds."""
    smtp_sink.fail_next(451, 1)
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.send_message(make_mail("first"))
        client.send_message(make_mail("second"))
    assert refused.value.recipients["desk@example.org"][0] == 451
    [(_meta, raw)] = smtp_sink.wait_for(1)
    assert b"Subject: second" in raw


def test_smtp_fail_next_permanent_at_data(smtp_sink: SmtpSink) -> None:
    """fail_next(550, 1, stage="DATA") refuses the message body with 550."""
    smtp_sink.fail_next(550, 1, stage="DATA")
    with (
        smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client,
        pytest.raises(smtplib.SMTPDataError) as refused,
    ):
        client.send_message(make_mail())
    assert refused.value.smtp_code == 550
    assert smtp_sink.messages() == []


def test_smtp_sink_stop_start(smtp_sink: SmtpSink) -> None:
    """stop() refuses connections; start() accepts them again on the same port."""
    port = smtp_sink.port
    smtp_sink.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((smtp_sink.host, port), timeout=2).close()
    smtp_sink.start()
    assert smtp_sink.port == port
    with smtplib.SMTP(smtp_sink.host, port, timeout=10) as client:
        client.send_message(make_mail())
    assert len(smtp_sink.wait_for(1)) == 1


def test_smtp_sink_stop_from_other_process(smtp_sink: SmtpSink) -> None:
    """Another process can stop the sink by its base_dir; this one then restarts it."""
    script = "import sys; from tests.servers import SmtpSink; SmtpSink(sys.argv[1]).stop()"
    subprocess.run(
        [sys.executable, "-c", script, str(smtp_sink.base_dir)],
        check=True,
        cwd=Path(__file__).parent.parent,
        timeout=30,
    )
    assert not port_accepts(smtp_sink.port)
    smtp_sink.start()
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        client.send_message(make_mail())
    assert len(smtp_sink.wait_for(1)) == 1


def test_smtp_clear(smtp_sink: SmtpSink) -> None:
    """clear() empties the sink."""
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        client.send_message(make_mail())
    smtp_sink.wait_for(1)
    smtp_sink.clear()
    assert smtp_sink.messages() == []


# ------------------------------------------------------------------------------ PostgreSQL


def test_postgres_peewee_unique_violation(pg_url: str) -> None:
    """peewee connects to the URL, creates a table, and a UNIQUE violation raises."""
    db = db_connect(pg_url)

    class Ticket(peewee.Model):
        message_id = peewee.CharField(unique=True)

        class Meta:
            database = db

    with db:
        db.create_tables([Ticket])
        Ticket.create(message_id="<t1@example.org>")
        with pytest.raises(peewee.IntegrityError), db.atomic():
            Ticket.create(message_id="<t1@example.org>")
        assert Ticket.select().count() == 1


def test_postgres_fresh_database(postgres: Postgres) -> None:
    """create_database gives an empty database; drop_database removes it."""
    url = postgres.create_database("fresh_check")
    db = db_connect(url)
    with db:
        assert db.get_tables() == []
    postgres.drop_database("fresh_check")
    with pytest.raises(peewee.OperationalError):
        db_connect(url).connect()
