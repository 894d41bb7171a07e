"""Fault injection, short: benchmarks/faults.py with 60 mails against the real servers.

The daemon is SIGKILLed and restarted several times while mail arrives, Dovecot restarts once,
the SMTP sink is down for a while; afterwards every mail is one ticket and every acknowledgement
was delivered (with one Message-ID per mail), and nothing is stuck.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests import tiket_fixtures
from tests.servers import ImapUser, SmtpSink

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from faults import print_figures, run_faults

pytestmark = pytest.mark.servers


def test_kills_restarts_and_an_smtp_outage_lose_and_double_nothing(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink, tiket_db: str
) -> None:
    """60 mails, 4+ SIGKILLs, a Dovecot restart, 3 s without SMTP: 60 tickets, 60 acks, no rest."""
    figures = run_faults(
        tmp_path,
        imap_user,
        smtp_sink,
        mails=60,
        backend=tiket_db,
        database_url=tiket_fixtures.DATABASE_URL,
        seed=7,
        kill_min=0.5,
        kill_max=1.5,
        append_seconds=4,
        smtp_down=3,
        drain_timeout=60,
    )
    print_figures(figures)
    assert figures.kills >= 4 and figures.dovecot_restarts == 1
    assert figures.ok(), (figures.problems, (tmp_path / "daemon.log").read_text()[-4000:])
