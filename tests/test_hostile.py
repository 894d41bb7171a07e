"""Hostile input: mangled, injected, oversized and bomb mails through receive, parse, screen, plan, render.

Property-based (hypothesis) over the pure stages with real mails from tests/data/mails and
config/sample-mails as seeds; the storage and logging properties run through the real store.
Tests of pure functions carry `one_backend` (they touch no database).
"""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import quopri
import re
import threading
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.app import Tiket
from pipeline.edges import models as m
from pipeline.errors import UnparseableMail
from pipeline.jobs.intake import NoTriage
from pipeline.records import OutgoingMail, SenderHistory
from pipeline.stages.language import detect_language
from pipeline.stages.lifecycle import PromisePolicy, plan_intake
from pipeline.stages.parsing import parse_mail
from pipeline.stages.rendering import DeskIdentity, message_id_for, render_mail
from pipeline.stages.reply_matching import match_reply
from pipeline.stages.screening import ScreeningPolicy, screen_mail
from tests.servers import ImapUser, SmtpSink
from tests.tiket_fixtures import test_settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "tests" / "data" / "mails").glob("*.eml")) + sorted(
    (ROOT / "config" / "sample-mails").glob("*.eml")
)
RAWS = [p.read_bytes() for p in SEEDS]
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LIMITS = {"max_mail_bytes": 26_214_400, "max_attachment_bytes": 10_485_760}
DESK = DeskIdentity(
    name="Example IT Service Desk",
    address="support@example.org",
    message_id_domain="tiket.example.org",
)
POLICY = ScreeningPolicy(
    own_domain="tiket.example.org",
    own_addresses=frozenset({"support@example.org"}),
    ack_cap_per_hour=10,
)
PROMISE = PromisePolicy(
    first_response_hours={"P1": 1.0, "P2": 2.0, "P3": 3.0, "P4": 3.0}, default_priority="P3"
)
OUR_HEADERS = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "auto-submitted",
    "x-auto-response-suppress",
    "x-tiket-loop",
    "content-language",
    "mime-version",
    "content-type",
}
HEADER_LINE = re.compile(rb"^([A-Za-z][A-Za-z0-9-]*): [\x20-\x7e]*$")
FAST = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


def through_pipeline(raw: bytes) -> list[OutgoingMail] | None:
    """parse -> screen -> match -> plan -> render, as intake does; None when quarantined."""
    try:
        mail = parse_mail(raw, received_at=NOW, **LIMITS)
    except UnparseableMail:
        return None
    verdict = screen_mail(mail, POLICY, SenderHistory())
    match = match_reply(mail, {}, {}, own_domain=DESK.message_id_domain, prefix="TKT")
    plan = plan_intake(
        mail,
        verdict,
        match,
        None,
        PROMISE,
        language=detect_language(mail.text, mail.content_language),
    )
    return [
        render_mail(
            intent,
            ref="TKT-000001",
            desk=DESK,
            now=NOW,
            message_id=message_id_for("TKT-000001", f"{intent.purpose}-m1", DESK.message_id_domain),
        )
        for intent in plan.mails
    ]


def assert_safe_headers(raw: bytes) -> None:
    """Every header line is one of ours (once), printable ASCII, or a folded continuation."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in head.replace(b"\r\n", b"") and b"\r" not in head.replace(b"\r\n", b"")
    names = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            assert line.strip() and re.fullmatch(rb"[\x20-\x7e\t]*", line), line
            continue
        found = HEADER_LINE.match(line)
        assert found, line
        names.append(found.group(1).decode().lower())
    assert set(names) <= OUR_HEADERS, names
    assert len(names) == len(set(names)), names


def mutate(raw: bytes, data: st.DataObject) -> bytes:
    """Apply 1-4 random mutations: byte flips, truncation, header duplication, random bytes."""
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "truncate", "duplicate", "insert"]))
        at = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if kind == "flip" and raw:
            raw = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :]
        elif kind == "truncate":
            raw = raw[:at]
        elif kind == "duplicate":
            lines = raw.split(b"\n")
            head = lines[: max(1, lines.index(b"\r") if b"\r" in lines else min(len(lines), 20))]
            line = data.draw(st.sampled_from(head))
            raw = line + b"\n" + raw
        else:
            raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=64)) + raw[at:]
    return raw


@pytest.mark.one_backend
@FAST
@given(data=st.data())
def test_mutated_real_mails_are_processed_or_quarantined_never_crash(data: st.DataObject) -> None:
    """Byte flips, truncation, duplicated headers and random bytes: a plan or UnparseableMail."""
    raw = mutate(data.draw(st.sampled_from(RAWS)), data)
    for out in through_pipeline(raw) or []:
        assert_safe_headers(out.raw)


@pytest.mark.one_backend
@FAST
@given(raw=st.binary(max_size=4000))
def test_random_bytes_are_quarantined_or_processed(raw: bytes) -> None:
    """Arbitrary bytes never raise anything but UnparseableMail."""
    for out in through_pipeline(raw) or []:
        assert_safe_headers(out.raw)


def encoded_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8", "surrogatepass")).decode() + "?="


hostile_text = st.lists(
    st.sampled_from(
        list("abc <>\"'&;:\r\n\x00\t\x0b\x0c\x1b\u2028\u0085é漢")
        + ["\r\nBcc: victim@example.net", "\nX-Injected: yes", "<script>alert(1)</script>"]
    ),
    max_size=20,
).map("".join)


@pytest.mark.one_backend
@FAST
@given(subject=hostile_text, name=hostile_text, raw_subject=st.booleans())
def test_cr_lf_in_subject_and_name_never_reach_an_outgoing_header(
    subject: str, name: str, raw_subject: bool
) -> None:
    """RFC 2047-encoded or raw CR/LF/NUL in Subject and the From name: our headers stay ours."""
    subject_header = (
        subject.replace("\r", "").replace("\n", "") if raw_subject else encoded_word(subject)
    )
    raw = (
        f"From: {encoded_word(name)} <ann@example.com>\r\nTo: support@example.org\r\n"
        f"Subject: {subject_header}\r\nMessage-ID: <h1@example.com>\r\n\r\nHelp.\r\n"
    ).encode()
    outs = through_pipeline(raw)
    assert outs, "a plain mail from a person is acknowledged"
    for out in outs:
        assert_safe_headers(out.raw)
        parsed = email.message_from_bytes(out.raw, policy=email.policy.default)
        assert parsed["To"] == "ann@example.com" and "Bcc" not in parsed
        assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])


def html_part(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    [part] = [p for p in message.walk() if p.get_content_type() == "text/html"]
    return quopri.decodestring(part.get_payload().encode()).decode("utf-8")


@pytest.mark.one_backend
def test_script_in_subject_name_and_html_body_is_only_escaped_text_in_our_html() -> None:
    """An HTML body with scripts and a hostile subject and name: our HTML carries escaped text only."""
    raw = (
        b'From: "<img src=x onerror=alert(1)>" <ann@example.com>\r\nTo: support@example.org\r\n'
        b"Subject: <script>alert('s')</script> printer\r\nMessage-ID: <x1@example.com>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b'<html><body><script>steal()</script><p onclick="x()">Printer broken</p>'
        b'<iframe src="javascript:alert(2)"></iframe></body></html>\r\n'
    )
    [ack] = through_pipeline(raw) or []
    html = html_part(ack.raw)
    for tag in ("<script", "<img", "<iframe", "steal()", "javascript:"):
        assert tag not in html.lower(), tag
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert_safe_headers(ack.raw)


def multipart_with(filename_header: str, payload: bytes = b"data") -> bytes:
    body = base64.b64encode(payload).decode()
    return (
        "From: Ann <ann@example.com>\r\nTo: support@example.org\r\nSubject: files\r\n"
        f"Message-ID: <f{abs(hash(filename_header))}@example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n'
        "\r\nSee attached.\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Disposition: attachment; {filename_header}\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n--b--\r\n"
    ).encode()


HOSTILE_NAMES = [
    'filename="../../../../etc/passwd"',
    'filename="/etc/cron.d/evil"',
    'filename="..\\\\..\\\\windows\\\\win.ini"',
    "filename*=utf-8''evil%00.txt%00.exe",
    "filename*=utf-8''%2E%2E%2F%2E%2E%2Fescape.sh",
    f'filename="{"A" * 1000}.pdf"',
    'filename="."',
    'filename=".."',
    'filename=""',
    'filename="C:\\\\Windows\\\\System32\\\\evil.dll"',
    'filename="=?utf-8?b?Li4vLi4vZXZpbC5zaA==?="',  # "../../evil.sh" as an encoded word
]


def test_hostile_attachment_names_are_stored_inside_the_attachments_folder(tmp_path: Path) -> None:
    """../, absolute paths, NUL and 1,000 characters: files stay under attachments/, names are safe."""
    runtime = Tiket.open(test_settings(tmp_path), triager=NoTriage())
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for n, header in enumerate(HOSTILE_NAMES):
        (maildir / "new" / f"m{n}").write_bytes(multipart_with(header, f"payload {n}".encode()))
    summary = runtime.run_once()
    assert summary.dispositions["ticket_created"] == len(HOSTILE_NAMES)
    attachments = (tmp_path / "data" / "attachments").resolve()
    for row in m.AttachmentRow.select():
        assert "/" not in row.filename and "\\" not in row.filename and "\x00" not in row.filename
        assert 0 < len(row.filename) <= 120 and not row.filename.startswith(".")
        path = runtime.store.blob_path(row.sha256).resolve()
        assert path.is_relative_to(attachments) and path.read_bytes().startswith(b"payload")
    assert m.AttachmentRow.select().count() == len(HOSTILE_NAMES)
    for path in tmp_path.rglob("*"):  # nothing was written outside the data folders
        assert path.resolve().is_relative_to(tmp_path.resolve())
        assert path.name not in ("passwd", "evil", "escape.sh", "win.ini", "evil.sh", "evil.dll")


@pytest.mark.one_backend
def test_a_mail_over_the_size_limit_is_quarantined_before_it_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over max_mail_bytes: UnparseableMail with the reason, and mail-parser is never called."""
    import mailparser

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed a mail over the size limit")

    monkeypatch.setattr(mailparser, "parse_from_bytes", never)
    raw = RAWS[0] + b"x" * 5000
    with pytest.raises(UnparseableMail, match="over the limit of 1000"):
        parse_mail(raw, received_at=NOW, max_mail_bytes=1000, max_attachment_bytes=1000)


def nesting_bomb(depth: int) -> bytes:
    head = "From: a@example.com\r\nSubject: nest\r\nMessage-ID: <nest@example.com>\r\nMIME-Version: 1.0\r\n"
    opens = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth)
    )
    closes = "".join(f"\r\n--b{i}--\r\n" for i in reversed(range(depth)))
    return (head + opens + "Content-Type: text/plain\r\n\r\nhello\r\n" + closes).encode()


def message_nesting_bomb(depth: int) -> bytes:
    inner = b"From: a@example.com\r\nSubject: inner\r\n\r\nhello\r\n"
    for _ in range(depth):
        inner = (
            b"From: a@example.com\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: message/rfc822\r\n\r\n" + inner
        )
    return inner


def base64_bomb(megabytes: int) -> bytes:
    payload = base64.encodebytes(b"\0" * (megabytes * 1024 * 1024)).replace(b"\n", b"\r\n")
    return (
        b"From: a@example.com\r\nSubject: big\r\nMessage-ID: <big@example.com>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
        b"--x\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--x\r\n"
        b'Content-Type: application/octet-stream; name="zeros.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + payload + b"\r\n--x--\r\n"
    )


@pytest.mark.one_backend
@pytest.mark.parametrize(
    ("bomb", "limit_mb"),
    [
        (lambda: nesting_bomb(5000), 50),
        (lambda: nesting_bomb(150), 50),
        (lambda: message_nesting_bomb(3000), 50),
        (lambda: base64_bomb(12), 300),
    ],
    ids=["multipart-5000-deep", "multipart-150-deep", "message-3000-deep", "base64-12MB"],
)
def test_bombs_are_bounded_in_time_and_memory(bomb, limit_mb: int) -> None:  # type: ignore[no-untyped-def]
    """Deep nesting and a huge base64 part: a plan or quarantine (it finishes) and a bounded peak."""
    raw = bomb()
    peaks: list[int] = []

    def run() -> None:
        tracemalloc.start()
        try:
            through_pipeline(raw)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=120)  # a hang, not slowness, fails this (speed lives in benchmarks/)
    assert not worker.is_alive() and peaks, "the bomb did not finish"
    assert peaks[0] < limit_mb * 1024 * 1024, f"peak {peaks[0] / 1e6:.0f} MB"


def test_bombs_in_the_mailbox_end_as_quarantine_or_ticket(tmp_path: Path) -> None:
    """Through the real intake: the bombs are quarantined with a reason or become tickets."""
    runtime = Tiket.open(test_settings(tmp_path), triager=NoTriage())
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for name, raw in (
        ("nest", nesting_bomb(5000)),
        ("msg", message_nesting_bomb(3000)),
        ("b64", base64_bomb(12)),
    ):
        (maildir / "new" / name).write_bytes(raw)
    summary = runtime.run_once()
    assert sum(summary.dispositions.values()) == 3
    assert set(summary.dispositions) <= {"quarantined", "ticket_created"}
    assert summary.dispositions["quarantined"] == 2
    for row in m.Inbound.select().where(m.Inbound.state == "quarantined"):
        assert row.stage == "parse" and "over the limit" in row.reason


@pytest.mark.servers
def test_no_body_text_or_secret_in_any_log_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, imap_user: ImapUser, smtp_sink_tls: SmtpSink
) -> None:
    """DEBUG logging while a mail with a marker body is processed and sent with password_file
    secrets (SMTP AUTH, and an IMAP login that fails): neither marker nor secret is logged."""
    from pipeline.cli import setup_logging

    marker = "BODY-MARKER-5f1e9c"
    imap_secret = "Wr0ng-IMAP-S3cret-77"
    (tmp_path / "imap.pw").write_text(imap_secret)
    (tmp_path / "smtp.pw").write_text("senderpw")
    boxes = [
        {"name": "local", "url": f"maildir:{tmp_path / 'Maildir'}"},
        {
            "name": "remote",
            "url": f"imap://desk@127.0.0.1:{imap_user.port}/INBOX",
            "ca_file": str(imap_user.ca_file),
            "password_file": str(tmp_path / "imap.pw"),
        },
    ]
    settings_ = test_settings(
        tmp_path,
        mailboxes=boxes,
        outbox_url=f"smtp://127.0.0.1:{smtp_sink_tls.port}",
        extra={
            "outbox": {
                "tls": "starttls",
                "username": "sender",
                "ca_file": str(smtp_sink_tls.ca_file),
                "password_file": str(tmp_path / "smtp.pw"),
            },
            "desk": {"log_level": "DEBUG"},
        },
    )
    setup_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    (maildir / "new" / "m").write_bytes(
        (
            f"From: Ann <ann@example.com>\r\nTo: support@example.org\r\nSubject: VPN down\r\n"
            f"Message-ID: <log1@example.com>\r\n\r\nMy secret note {marker} is here.\r\n"
        ).encode()
    )
    (maildir / "new" / "bad").write_bytes(nesting_bomb(300) + marker.encode())
    summary = (Tiket.open(settings_, triager=NoTriage())).run_once()
    assert summary.dispositions == {"ticket_created": 1, "quarantined": 1}
    assert summary.delivery.sent == 1 and len(summary.failed_mailboxes) == 1
    assert caplog.records
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        for secret in (marker, imap_secret, "senderpw"):
            assert secret not in text, (record.name, text[:300])
