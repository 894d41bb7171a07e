"""Issue 11: every mail costs bounded time and memory; files are private; output is inert.

CPU time (time.process_time) is measured, never wall-clock; waits are for conditions.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.app import Tiket
from pipeline.cli import main
from pipeline.edges import models as m
from pipeline.edges.parse_pool import ParseFailure, ParsePool
from pipeline.errors import InvalidAction, UnparseableMail
from pipeline.jobs.intake import NoTriage
from pipeline.records import ParsedMail, SenderHistory
from pipeline.stages.lifecycle import PromisePolicy, parse_agent_commands, plan_fields, plan_intake
from pipeline.stages.parsing import parse_mail
from pipeline.stages.reply_matching import match_reply
from pipeline.stages.screening import ScreeningPolicy, screen_mail
from tests import tiket_fixtures
from tests.servers import ImapUser
from tests.test_intake_imap import mailbox_entry
from tests.tiket_fixtures import test_settings

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LIMITS = {"max_mail_bytes": 26_214_400, "max_attachment_bytes": 10_485_760}
NEWLINES = (
    b"From: a@example.com\r\nTo: support@example.org\r\nSubject: x\r\n"
    b"Message-ID: <nl@example.com>\r\n\r\nx" + b"\n" * 6000 + b"x\r\n"
)
POLICY = ScreeningPolicy(
    own_domain="tiket.example.org",
    own_addresses=frozenset({"support@example.org"}),
    ack_cap_per_hour=10,
)
PROMISE = PromisePolicy(
    first_response_hours={"P1": 1.0, "P2": 2.0, "P3": 3.0, "P4": 3.0}, default_priority="P3"
)


def put(maildir: Path, name: str, raw: bytes) -> None:
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    (maildir / "new" / name).write_bytes(raw)


def header_bomb(megabytes: float) -> bytes:
    """A mail of a few MB of short header lines: the email package needs ~0.7 s CPU per MB."""
    lines = int(megabytes * 1024 * 1024 / 9)
    return b"From: a@example.com\r\nSubject: bomb\r\n" + b"X-A: b\r\n" * lines + b"\r\nhi\r\n"


def plan_cpu_seconds(raw: bytes) -> float:
    """CPU seconds of parse, agent commands, screening, matching and planning for one mail."""
    started = time.process_time()
    mail = parse_mail(raw, received_at=NOW, **LIMITS)
    parse_agent_commands(mail.text)
    verdict = screen_mail(mail, POLICY, SenderHistory())
    match = match_reply(mail, {}, {}, own_domain="tiket.example.org", prefix="TKT")
    plan_intake(mail, verdict, match, None, PROMISE, language="en")
    return time.process_time() - started


@pytest.mark.one_backend
def test_the_6000_newline_mail_costs_little_in_our_stages() -> None:
    """x + 6,000 newlines + x (77 s on main, with triage): our stages need well under a second."""
    assert plan_cpu_seconds(NEWLINES) < 0.5


@pytest.mark.one_backend
def test_agent_command_lines_are_linear_in_their_length() -> None:
    """'#resolve a' + 20,000 spaces + 'b': ~2 s CPU with main's COMMAND_LINE, now ~0."""
    line = "#resolve a" + " " * 20000 + "b"
    started = time.process_time()
    commands, _ = parse_agent_commands("\n".join([line] * 5))
    assert time.process_time() - started < 0.5
    assert len(commands) == 5 and commands[0][0] == "resolve" and commands[0][1].startswith("a ")


@pytest.mark.one_backend
def test_the_6000_newline_mail_costs_little_in_triage_text_preparation() -> None:
    """The triage model's text preparation and the breach rules see the same mail."""
    from classifiers.breach import detect_breach
    from classifiers.features import prepare_text

    mail = parse_mail(NEWLINES, received_at=NOW, **LIMITS)
    started = time.process_time()
    prepare_text(mail.subject, mail.text)
    detect_breach(mail.subject, mail.text)
    assert time.process_time() - started < 0.5


@pytest.mark.one_backend
def test_every_part_counts_towards_the_part_cap() -> None:
    """A flat multipart of 60,000 parts (no nesting) is refused before mail-parser sees it."""
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(60000))
    raw = (
        b"From: a@example.com\r\nSubject: flat\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n"
    )
    with pytest.raises(UnparseableMail, match="parts, over the limit of 1000"):
        parse_mail(raw, received_at=NOW, **LIMITS)


@pytest.mark.one_backend
def test_body_text_is_capped_before_any_pattern_runs() -> None:
    """A 3 MB body reaches the stages as max_text_chars characters, marked as truncated."""
    raw = b"From: a@example.com\r\nSubject: long\r\n\r\n" + b"word " * 600_000
    mail = parse_mail(raw, received_at=NOW, max_text_chars=50_000, **LIMITS)
    assert len(mail.text) == 50_000 and mail.text_truncated


hostile_bodies = st.one_of(
    st.binary(max_size=20_000),
    st.builds(
        lambda unit, n: unit * n,
        st.sampled_from([b"\n", b" ", b"#resolve a ", b"<", b"=?utf-8?q?", b"--b\r\n", b"\t>"]),
        st.integers(0, 60_000),
    ),
)


@pytest.mark.one_backend
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=hostile_bodies, multipart=st.booleans())
def test_any_mail_is_planned_or_quarantined_within_the_budget(body: bytes, multipart: bool) -> None:
    """Hostile bodies up to max_mail_bytes go through the budgeted parse pool: each ends as a
    parsed mail or a quarantine reason, and our stages after it use little CPU."""
    head = b"From: a@example.com\r\nSubject: h\r\nMessage-ID: <h@example.com>\r\n"
    if multipart:
        head += b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n'
    raw = head + b"\r\n" + body
    pool = POOL
    [result] = pool.parse_many([(raw, NOW)])
    assert isinstance(result, (ParsedMail, ParseFailure))
    if isinstance(result, ParsedMail):
        started = time.process_time()
        parse_agent_commands(result.text)
        screen_mail(result, POLICY, SenderHistory())
        assert time.process_time() - started < 1.0
    else:
        assert isinstance(result.error, UnparseableMail)


POOL = ParsePool(1, 300_000, 300_000, max_seconds=2.0)


def test_a_mail_over_the_cpu_budget_is_quarantined_while_the_sla_job_runs(tmp_path: Path) -> None:
    """A 10 MB header bomb (~5 s of CPU to parse) with max_mail_seconds = 1: the worker is
    stopped, the mail quarantined with the reason, the next mail becomes a ticket, and the SLA
    job keeps running in another thread meanwhile (the intake thread waits without the GIL).
    The kernel counts whole seconds, so a budget of 1 s is 1-2 s in effect: a 5 MB bomb
    (1.9 s on a quiet machine) sometimes got through."""
    settings_ = test_settings(tmp_path, extra={"intake": {"max_mail_seconds": 1.0}})
    runtime = Tiket.open(settings_, triager=NoTriage())
    put(tmp_path / "Maildir", "a-bomb", header_bomb(10))
    put(tmp_path / "Maildir", "b-fine", NEWLINES)
    intake_done = threading.Event()
    sla_runs_during_intake = []

    failures: list[BaseException] = []

    def intake() -> None:
        try:
            runtime.poll_mailbox(runtime.settings.mailboxes[0])
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            failures.append(exc)
        finally:
            intake_done.set()

    thread = threading.Thread(target=intake)
    thread.start()
    while not intake_done.is_set():
        # the SLA job's work, without its lease row: on SQLite a write from this thread could
        # end the intake thread's read snapshot (SQLITE_BUSY_SNAPSHOT), which is not under test
        runtime.run_sla(datetime.now(UTC))
        if not intake_done.is_set():
            sla_runs_during_intake.append(1)
        intake_done.wait(0.05)
    thread.join(timeout=120)
    assert not failures, failures
    assert sla_runs_during_intake
    states = {row.uid: (row.state, row.reason) for row in m.Inbound.select()}
    reasons = [reason for state, reason in states.values() if state == "quarantined"]
    assert len(reasons) == 1 and "max_mail_seconds" in reasons[0], states
    assert m.Ticket.select().count() == 1


def test_a_mail_over_budget_in_a_chunk_costs_only_itself() -> None:
    """Twelve mails go to two workers in chunks; the header bomb in the middle of one ends its
    worker, and the chunk is parsed again mail by mail: the bomb alone is quarantined with the
    reason, the eleven others parse, in their order."""
    pool = ParsePool(2, 26_214_400, 10_485_760, max_seconds=1.0)
    mails = [NEWLINES.replace(b"Subject: ", b"Subject: %d " % i, 1) for i in range(12)]
    mails[5] = header_bomb(10)  # ~5 s of CPU
    try:
        results = pool.parse_many([(raw, NOW) for raw in mails])
    finally:
        pool.close()
    failed = [i for i, r in enumerate(results) if isinstance(r, ParseFailure)]
    assert failed == [5], results
    assert "max_mail_seconds" in str(results[5].error)  # type: ignore[union-attr]
    subjects = [r.subject for r in results if isinstance(r, ParsedMail)]
    assert len(subjects) == 11
    assert all(s.startswith(f"{i} ") for i, s in zip([*range(5), *range(6, 12)], subjects))


@pytest.mark.servers
def test_an_oversized_mail_over_dovecot_keeps_only_its_head(
    tmp_path: Path, imap_user: ImapUser
) -> None:
    """A 3 MB mail with max_mail_bytes = 1 MB: only headers and the start of the first part are
    fetched (RFC822.SIZE first) and kept, the reason says so; the next mail is a ticket."""
    settings_ = test_settings(
        tmp_path,
        mailboxes=[mailbox_entry(imap_user, tmp_path)],
        extra={"intake": {"max_mail_bytes": 1024 * 1024}},
    )
    runtime = Tiket.open(settings_, triager=NoTriage())
    big = (
        b"From: big@example.com\r\nTo: support@example.org\r\nSubject: logs\r\n"
        b"Message-ID: <big@example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
        b"See the log.\r\n--b\r\nContent-Type: text/plain; name=log.txt\r\n\r\n"
        + b"log line\r\n" * 300_000
        + b"--b--\r\n"
    )
    imap_user.append("INBOX", big)
    imap_user.append(
        "INBOX",
        b"From: a@example.com\r\nTo: support@example.org\r\nSubject: ok\r\n"
        b"Message-ID: <ok@example.com>\r\n\r\nhello\r\n",
    )
    summary = runtime.run_once()
    assert summary.dispositions == {"quarantined": 1, "ticket_created": 1}
    [row] = m.Inbound.select().where(m.Inbound.state == "quarantined")
    assert row.stage == "fetch" and "only its headers" in row.reason and str(len(big)) in row.reason
    kept = bytes(m.InboundRaw.get_by_id(row.id).raw)
    assert kept.startswith(b"From: big@example.com") and b"See the log." in kept
    assert len(kept) < 70_000
    assert len(imap_user.fetch("Quarantine")) == 1


def test_retention_empties_raw_bytes_of_old_mail(tmp_path: Path) -> None:
    """Processed mail older than processed_days and quarantined older than quarantined_days
    lose their raw bytes; tickets and messages stay; a younger mail keeps its bytes."""
    from pipeline.jobs.retention import prune_raw

    settings_ = test_settings(
        tmp_path,
        extra={
            "intake": {"max_mail_bytes": 8000},
            "retention": {"processed_days": 10.0, "quarantined_days": 5.0},
        },
    )
    runtime = Tiket.open(settings_, triager=NoTriage())
    put(tmp_path / "Maildir", "a", NEWLINES)
    put(tmp_path / "Maildir", "b", header_bomb(0.01))
    runtime.run_once()
    assert prune_raw(runtime.store, settings_, datetime.now(UTC) + timedelta(days=4)).processed == 0
    stats = prune_raw(runtime.store, settings_, datetime.now(UTC) + timedelta(days=6))
    assert (stats.processed, stats.quarantined) == (0, 1)
    stats = prune_raw(runtime.store, settings_, datetime.now(UTC) + timedelta(days=11))
    assert (stats.processed, stats.quarantined) == (1, 0)
    assert all(bytes(r.raw) == b"" for r in m.InboundRaw.select())
    assert m.Ticket.select().count() == 1 and m.Message.select().count() == 1


def modes_under(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in [root, *root.rglob("*")]
    }


def test_database_outbox_and_attachments_are_private(tmp_path: Path) -> None:
    """`tiket init` and `tiket run --once` with an attachment: every file under the data
    folder (database, WAL, secret, outbox .eml, attachment blobs) is 0600, every folder 0700,
    even when the caller's umask was 022 (main sent 0644 files in 0755 folders)."""
    old = os.umask(0o022)
    try:
        settings_ = test_settings(tmp_path, outbox_url=f"file:{tmp_path / 'data' / 'outbox'}")
        put(
            tmp_path / "Maildir",
            "m",
            b"From: a@example.com\r\nTo: support@example.org\r\nSubject: file\r\n"
            b'Message-ID: <f@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"'
            b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee\r\n--b\r\n"
            b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n",
        )
        config = str(settings_.sources[-1])
        assert main(["--config", config, "init"]) == 0
        assert main(["--config", config, "run", "--once"]) == 0
    finally:
        os.umask(old)
    data = tmp_path / "data"
    found = modes_under(data)
    assert any(name.endswith(".eml") for name in found) and any("attachments/" in n for n in found)
    assert "secret.key" in found and ("tiket.db" in found or tiket_fixtures.DATABASE_URL)
    wrong = {
        name: mode
        for name, mode in found.items()
        if mode != ("0o700" if (data / name).is_dir() else "0o600")
    }
    assert wrong == {}


CONTROL_SUBJECT = (
    "=?utf-8?b?"
    + __import__("base64")
    .b64encode("VPN \x1b]52;c;ZXZpbA==\x07 down \x1b[2J\u202egnp.exe".encode())
    .decode()
    + "?="
)


def test_control_and_bidi_characters_from_mail_never_reach_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """OSC 52, clear-screen and RTL override in subject, body and attachment name: `tickets
    show` and `quarantine show` print them as visible escapes; the stored name loses the RLO."""
    settings_ = test_settings(tmp_path, extra={"intake": {"max_mail_bytes": 5000}})
    put(
        tmp_path / "Maildir",
        "a",
        (
            f"From: a@example.com\r\nTo: support@example.org\r\nSubject: {CONTROL_SUBJECT}\r\n"
            'Message-ID: <c@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"'
            "\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64"
            "\r\n\r\n"
            + __import__("base64").b64encode("body \x1b[31mred\x9b \u202eexe".encode()).decode()
            + "\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment;"
            " filename*=utf-8''invoice%E2%80%AEfdp.exe\r\n\r\nx\r\n--b--\r\n"
        ).encode(),
    )
    put(tmp_path / "Maildir", "b", f"Subject: {CONTROL_SUBJECT}\r\n\r\n".encode() + b"x" * 6000)
    config = str(settings_.sources[-1])
    assert main(["--config", config, "run", "--once"]) == 0
    capsys.readouterr()
    assert main(["--config", config, "tickets", "show", "TKT-000001"]) == 0
    assert main(["--config", config, "tickets", "show", "TKT-000001", "--json"]) == 0
    [quarantined] = [r.id for r in m.Inbound.select().where(m.Inbound.state == "quarantined")]
    assert main(["--config", config, "quarantine", "show", str(quarantined)]) == 0
    out = capsys.readouterr().out
    for bad in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert bad not in out, repr(bad)
    assert "\\u001b[31mred\\u009b" in out and "\\u202e" in out
    [attachment] = m.AttachmentRow.select()
    assert attachment.filename == "invoicefdp.exe"


def test_passwords_in_urls_are_refused_and_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A password in the database or outbox URL: exit 2, the key named, the password not shown."""
    for section, url in (
        ("database", "postgresql://tiket:S3cretPw@127.0.0.1:5432/tiket"),
        ("outbox", "smtp://desk:S3cretPw@127.0.0.1:587"),
    ):
        path = tmp_path / f"{section}.toml"
        path.write_text(f'[{section}]\nurl = "{url}"\n')
        assert main(["--config", str(path), "check"]) == 2
        err = capsys.readouterr().err
        assert f"{section}.url" in err and "S3cretPw" not in err


@pytest.mark.one_backend
def test_overlong_or_unprintable_labels_are_refused() -> None:
    """#category with 300 characters or control bytes never reaches a 64-character column."""
    from tests.test_lifecycle import ticket

    for value in ("x" * 300, "bad\x1bvalue", " "):
        with pytest.raises(InvalidAction):
            plan_fields(ticket(), {"category": value}, "alice")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Hi,\r\n\r\nVPN down\r\n", "Hi,\n\nVPN down\n"),  # CRLF line ends are line ends
        ("paid\rrefund", "paid\\u000drefund"),  # a lone CR could overwrite what the line showed
        ("a\x1b[2Jb\tc", "a\\u001b[2Jb\tc"),
        ("x\u202egnp.exe", "x\\u202egnp.exe"),
    ],
)
def test_text_for_the_terminal_keeps_line_ends_and_escapes_the_rest(text: str, shown: str) -> None:
    from pipeline.stages.display import neutralise

    assert neutralise(text) == shown
