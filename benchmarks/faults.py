"""Fault injection: mails APPENDed to Dovecot while a real `tiket run` daemon is SIGKILLed and restarted.

    python benchmarks/faults.py [--mails 1000] [--backend sqlite|postgresql] [--seed 1]

During the run the daemon is killed with SIGKILL at random moments (every --kill-min..--kill-max
seconds) and restarted at once, Dovecot is restarted once, and the SMTP sink is down for a while
(stopped, then started again on the same port). Outbox retries are short (1 s, at most 2 s). Then
the daemon drains and is stopped with SIGTERM, and the figures are printed: kills survived, mails,
tickets, duplicates (tickets made twice for one mail: must be 0), lost (mails without a ticket:
must be 0), acknowledgements delivered (and how many twice, always with the same Message-ID),
anything stuck, and the time to drain. Exit code 1 when an invariant is broken.

tests/test_faults.py runs a short version (60 mails) in the suite.
"""

from __future__ import annotations

import argparse
import email
import json
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import Dovecot, ImapUser, Postgres, SmtpSink, make_server_dir, remove_server_dir
from tests.tiket_fixtures import TiketDaemon, daemon_config


@dataclass
class Figures:
    """What a fault run did and found."""

    backend: str = ""
    mails: int = 0
    kills: int = 0
    dovecot_restarts: int = 0
    smtp_down_seconds: float = 0.0
    tickets: int = 0
    duplicates: int = 0
    lost: int = 0
    quarantined: int = 0
    acks_expected: int = 0
    acks_delivered: int = 0
    acks_delivered_twice: int = 0
    acks_with_unstable_id: int = 0
    pending_inbound: int = 0
    pending_outbox: int = 0
    left_in_inbox: int = 0
    exit_code: int | None = None
    append_seconds: float = 0.0
    drain_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        """True when every invariant holds."""
        return not self.problems


def fault_mail(n: int) -> bytes:
    """Mail n of a run: its own sender (so the ack cap never applies) and its own Message-ID."""
    return (
        f"From: Staff {n} <staff{n}@example.com>\r\nTo: support@example.org\r\n"
        f"Subject: Cannot open shared drive {n}\r\nMessage-ID: <fault-{n}@example.com>\r\n"
        f"Date: Fri, 27 Nov 2026 08:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"\r\nSince this morning drive S: {n} says access denied.\r\n"
    ).encode()


class Appender:
    """APPENDs the mails in small chunks over one connection, reconnecting after a server restart."""

    def __init__(self, imap: ImapUser, mails: list[bytes]) -> None:
        self.imap = imap
        self.mails = mails
        self.sent = 0
        self.client: Any = None
        self.session: Any = None
        self.last_error: Exception | None = None

    def append_chunk(self, size: int) -> None:
        """APPEND the next `size` mails (each exactly once: on an error the mail is retried only
        when the server does not have it yet)."""
        for raw in self.mails[self.sent : self.sent + size]:
            self._append_one(raw)
            self.sent += 1

    def _append_one(self, raw: bytes) -> None:
        for _ in range(100):
            try:
                if self.client is None:  # keep the context manager: its finally logs out
                    self.session = self.imap.server.connect(self.imap.user)
                    self.client = self.session.__enter__()
                self.client.append("INBOX", raw)
                return
            except Exception as exc:  # Dovecot restarting: reconnect and retry
                self.last_error = exc
                self.close()
                time.sleep(0.3)
        raise RuntimeError(f"could not APPEND for 30 s: {self.last_error!r}")

    def close(self) -> None:
        """Log out (best effort: the server may have gone away)."""
        session, self.session, self.client = self.session, None, None
        if session is not None:
            try:
                session.__exit__(None, None, None)
            except Exception:  # already disconnected
                pass


def run_faults(
    work: Path,
    imap: ImapUser,
    sink: SmtpSink,
    *,
    mails: int = 1000,
    database_url: str | None = None,
    backend: str = "sqlite",
    seed: int = 1,
    kill_min: float = 0.3,
    kill_max: float = 2.0,
    append_seconds: float | None = None,
    smtp_down: float = 4.0,
    drain_timeout: float = 600.0,
    progress: bool = False,
) -> Figures:
    """One fault run against running servers; returns the figures (see Figures.problems)."""
    rng = random.Random(seed)
    figures = Figures(backend=backend, mails=mails)
    config = daemon_config(
        work / "tiket.toml",
        work / "data",
        imap_user=imap.user,
        imap_port=imap.port,
        ca_file=imap.ca_file,
        imap_password=imap.password,
        smtp_port=sink.port,
        database_url=database_url,
        desk={"log_level": "INFO"},
        outbox={"retry_initial_seconds": 1, "retry_max_seconds": 2, "timeout": 5},
    )
    raws = [fault_mail(n) for n in range(mails)]
    appender = Appender(imap, raws)
    daemon = TiketDaemon(config, work / "daemon.log")
    spread = append_seconds if append_seconds is not None else max(5.0, mails / 40)
    chunk = max(1, mails // max(1, int(spread / 0.25)))
    say = print if progress else (lambda *a, **k: None)
    started = time.monotonic()
    daemon.start()
    next_kill = time.monotonic() + rng.uniform(kill_min, kill_max)
    restart_at = max(1, mails // 2)
    sink_down_at, sink_down_since = max(1, mails // 3), None
    try:
        while appender.sent < mails:
            appender.append_chunk(chunk)
            if figures.dovecot_restarts == 0 and appender.sent >= restart_at:
                say(f"  restarting Dovecot after {appender.sent} mails")
                appender.close()
                imap.server.restart()
                figures.dovecot_restarts += 1
            if sink_down_since is None and appender.sent >= sink_down_at:
                say(f"  SMTP sink down after {appender.sent} mails")
                sink.stop()
                sink_down_since = time.monotonic()
            if (
                sink_down_since
                and not figures.smtp_down_seconds
                and time.monotonic() - sink_down_since >= smtp_down
            ):
                sink.start()
                figures.smtp_down_seconds = round(time.monotonic() - sink_down_since, 1)
                say("  SMTP sink up again")
            if time.monotonic() >= next_kill:
                daemon.kill()
                figures.kills += 1
                daemon.start()
                next_kill = time.monotonic() + rng.uniform(kill_min, kill_max)
            time.sleep(0.25)
        appender.close()
        figures.append_seconds = round(time.monotonic() - started, 1)
        # a few more kills after the last APPEND, while the backlog is worked
        for _ in range(max(1, figures.kills // 10)):
            time.sleep(rng.uniform(kill_min, kill_max))
            daemon.kill()
            figures.kills += 1
            daemon.start()
        if not figures.smtp_down_seconds:
            time.sleep(max(0.0, smtp_down - (time.monotonic() - (sink_down_since or 0))))
            sink.start()
            figures.smtp_down_seconds = round(time.monotonic() - (sink_down_since or 0), 1)
        say(f"  appended {mails} mails, {figures.kills} kills; draining")
        drain_start = time.monotonic()
        drained = _wait_drained(config, imap, mails, drain_timeout)
        figures.drain_seconds = round(time.monotonic() - drain_start, 1)
        if not drained:
            figures.problems.append(f"not drained within {drain_timeout:.0f} s")
    finally:
        # a SIGTERM in the first second (imports, migrations) meets Python's default handler,
        # not the daemon's: stop the daemon once it runs (see NOTES-hardening.md)
        daemon.wait_for_log("daemon started", 30)
        figures.exit_code = daemon.terminate()
        appender.close()
    _count(figures, config, imap, sink, mails)
    return figures


def _state(config: Path, imap: ImapUser) -> dict[str, int]:
    """Counts the drain waits for, read from the database (a fresh connection each time)."""
    from pipeline.edges import models as m
    from pipeline.edges.store import open_database
    from pipeline.settings import load_settings

    db = open_database(load_settings(config, env={}))
    try:
        distinct = m.Inbound.select(m.Inbound.message_id).distinct().count()
        return {
            "distinct": distinct,
            "pending": m.Inbound.select().where(m.Inbound.state == "pending").count(),
            "outbox": m.OutboxRow.select().where(m.OutboxRow.status == "pending").count(),
            "on_server": m.Inbound.select().where(m.Inbound.on_server == "inbox").count(),
            "inbox": len(imap.uids("INBOX")),
        }
    finally:
        db.close()


def _wait_drained(config: Path, imap: ImapUser, mails: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = _state(config, imap)
        except Exception:  # the database or Dovecot may still be starting
            time.sleep(0.5)
            continue
        if state["distinct"] >= mails and not (
            state["pending"] or state["outbox"] or state["on_server"] or state["inbox"]
        ):
            return True
        time.sleep(0.5)
    return False


def _count(figures: Figures, config: Path, imap: ImapUser, sink: SmtpSink, mails: int) -> None:
    """Fill in the figures from the database, the IMAP server and the sink; list any problem."""
    from pipeline.edges import models as m
    from pipeline.edges.store import open_database
    from pipeline.settings import load_settings

    db = open_database(load_settings(config, env={}))
    expected = {f"<fault-{n}@example.com>" for n in range(mails)}
    per_mail = Counter(
        row.message_id
        for row in m.Message.select(m.Message.message_id).where(m.Message.direction == "in")
    )
    figures.tickets = m.Ticket.select().count()
    figures.duplicates = sum(n - 1 for n in per_mail.values() if n > 1)
    figures.lost = len(expected - set(per_mail))
    figures.quarantined = m.Inbound.select().where(m.Inbound.state == "quarantined").count()
    figures.pending_inbound = m.Inbound.select().where(m.Inbound.state == "pending").count()
    figures.pending_outbox = m.OutboxRow.select().where(m.OutboxRow.status != "sent").count()
    acks = {
        row.message_id
        for row in m.OutboxRow.select(m.OutboxRow.message_id).where(
            m.OutboxRow.template == "acknowledgement"
        )
    }
    db.close()
    figures.left_in_inbox = len(imap.uids("INBOX"))
    figures.acks_expected = len(acks)
    delivered: Counter[str] = Counter()
    ids_per_mail: dict[str, set[str]] = defaultdict(set)
    for _meta, raw in sink.messages():
        head = email.message_from_bytes(raw.split(b"\r\n\r\n", 1)[0])
        delivered[str(head["Message-ID"])] += 1
        ids_per_mail[str(head["In-Reply-To"])].add(str(head["Message-ID"]))
    figures.acks_delivered = len(set(delivered) & acks)
    figures.acks_delivered_twice = sum(1 for n in delivered.values() if n > 1)
    figures.acks_with_unstable_id = sum(1 for ids in ids_per_mail.values() if len(ids) > 1)
    checks = [
        (figures.tickets == mails, f"{figures.tickets} tickets for {mails} mails"),
        (figures.duplicates == 0, f"{figures.duplicates} duplicate tickets"),
        (figures.lost == 0, f"{figures.lost} mails lost"),
        (figures.quarantined == 0, f"{figures.quarantined} mails quarantined"),
        (figures.acks_expected == mails, f"{figures.acks_expected} acks queued for {mails} mails"),
        (
            figures.acks_delivered == figures.acks_expected,
            f"{figures.acks_expected - figures.acks_delivered} acks never delivered",
        ),
        (not set(delivered) - acks, "the sink got mail with an unknown Message-ID"),
        (figures.acks_with_unstable_id == 0, "a mail got acks with different Message-IDs"),
        (figures.pending_inbound == 0, f"{figures.pending_inbound} inbound rows pending"),
        (figures.pending_outbox == 0, f"{figures.pending_outbox} outbox rows not sent"),
        (figures.left_in_inbox == 0, f"{figures.left_in_inbox} mails left in INBOX"),
        (figures.exit_code == 0, f"daemon exit code {figures.exit_code} on SIGTERM"),
    ]
    figures.problems.extend(problem for ok, problem in checks if not ok)


def print_figures(f: Figures) -> None:
    """The human-readable report."""
    print(f"fault run on {f.backend}: {f.mails} mails APPENDed over {f.append_seconds} s")
    print(
        f"  kills survived      {f.kills} (SIGKILL + restart), Dovecot restarts "
        f"{f.dovecot_restarts}, SMTP down {f.smtp_down_seconds} s"
    )
    print(f"  tickets             {f.tickets}")
    print(f"  duplicates          {f.duplicates} (tickets created twice for one mail)")
    print(f"  lost                {f.lost}   quarantined {f.quarantined}")
    print(
        f"  acks delivered      {f.acks_delivered} of {f.acks_expected} "
        f"({f.acks_delivered_twice} twice, same Message-ID; unstable ids {f.acks_with_unstable_id})"
    )
    print(
        f"  stuck               inbound pending {f.pending_inbound}, outbox pending "
        f"{f.pending_outbox}, left in INBOX {f.left_in_inbox}"
    )
    print(f"  time to drain       {f.drain_seconds} s after the last APPEND and kill")
    print(f"  daemon exit code    {f.exit_code} (SIGTERM)")
    print("  RESULT              " + ("ok" if f.ok() else "FAILED: " + "; ".join(f.problems)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kill-min", type=float, default=0.3)
    parser.add_argument("--kill-max", type=float, default=2.0)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    dirs = [make_server_dir(n) for n in ("dovecot", "smtp", "postgres")]
    work = Path(tempfile.mkdtemp(prefix="tiket-faults-"))
    dovecot, sink = Dovecot(dirs[0], {"desk": "deskpw"}), SmtpSink(dirs[1])
    postgres = Postgres(dirs[2]) if args.backend == "postgresql" else None
    try:
        dovecot.start()
        sink.start()
        url = None
        if postgres is not None:
            postgres.start()
            url = postgres.create_database("faults")
        imap = ImapUser(
            host=dovecot.host,
            port=dovecot.port,
            ssl_port=dovecot.ssl_port,
            ca_file=dovecot.ca_file,
            user="desk",
            password="deskpw",
            server=dovecot,
        )
        figures = run_faults(
            work,
            imap,
            sink,
            mails=args.mails,
            database_url=url,
            backend=args.backend,
            seed=args.seed,
            kill_min=args.kill_min,
            kill_max=args.kill_max,
            progress=True,
        )
    finally:
        sink.stop()
        dovecot.stop()
        if postgres is not None:
            postgres.stop()
        for d in dirs:
            remove_server_dir(d)
    print_figures(figures)
    if args.json:
        print(json.dumps(asdict(figures)))
    print(f"(daemon log: {work / 'daemon.log'})")
    return 0 if figures.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
