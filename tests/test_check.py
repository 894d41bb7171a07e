"""`tiket check`: config, every mailbox, the database and SMTP; a FAILED line names what is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ImapUser, SmtpSink
from tests.tiket_fixtures import ROOT, daemon_config

pytestmark = pytest.mark.servers


def check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--config", str(config), "check"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=dict(os.environ, TIKET_DEBUG__CRASH_AT=""),
    )


def config_for(tmp_path: Path, imap: ImapUser, sink: SmtpSink, password: str | None = None) -> Path:
    return daemon_config(
        tmp_path / "tiket.toml",
        tmp_path / "data",
        imap_user=imap.user,
        imap_port=imap.port,
        ca_file=imap.ca_file,
        imap_password=password or imap.password,
        smtp_port=sink.port,
    )


def test_check_passes_when_everything_is_reachable(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink, tiket_db: str
) -> None:
    """Good config, mailbox, database and SMTP: an ok line for each, exit 0."""
    done = check(config_for(tmp_path, imap_user, smtp_sink))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "config",
        "agent mail",
        "database",
        "mailbox support",
        "outbox",
    ]
    assert all(": ok" in line for line in lines) and "FAILED" not in done.stdout


def test_check_names_a_wrong_imap_password(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink, tiket_db: str
) -> None:
    """A wrong IMAP password: one FAILED line naming the mailbox and the refused login, exit 1."""
    done = check(config_for(tmp_path, imap_user, smtp_sink, password="not-the-password"))
    assert done.returncode == 1, done.stdout + done.stderr
    [failed] = [line for line in done.stdout.splitlines() if "FAILED" in line]
    assert failed.startswith("mailbox support: FAILED") and "login refused for desk" in failed
    assert "not-the-password" not in done.stdout + done.stderr
    assert "outbox: ok" in done.stdout and "database: ok" in done.stdout


def test_check_names_an_smtp_server_that_is_down(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink, tiket_db: str
) -> None:
    """The SMTP server down: one FAILED line naming the outbox host and port, exit 1."""
    config = config_for(tmp_path, imap_user, smtp_sink)
    smtp_sink.stop()
    done = check(config)
    assert done.returncode == 1, done.stdout + done.stderr
    [failed] = [line for line in done.stdout.splitlines() if "FAILED" in line]
    assert failed.startswith(f"outbox: FAILED: 127.0.0.1:{smtp_sink.port}")
    assert "mailbox support: ok" in done.stdout


def test_check_says_loudly_when_agent_mail_runs_on_possession_alone(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink, tiket_db: str
) -> None:
    """agent_mail_auth = "token" with agents: a WARNING line that names what is not checked."""
    config = config_for(tmp_path, imap_user, smtp_sink)
    config.write_text(
        config.read_text()
        + '\n[security]\nagent_mail_auth = "token"\n[tiers.L2]\nmembers = ["a@example.org"]\n'
    )
    done = check(config)
    [line] = [x for x in done.stdout.splitlines() if x.startswith("agent mail")]
    assert "WARNING" in line and "WITHOUT checking DMARC" in line
