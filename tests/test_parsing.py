"""Parsing: real mails -> ParsedMail; safe attachment names; HTML fallback; size limit."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from pipeline.errors import UnparseableMail
from pipeline.stages.parsing import clean_header_text, html_to_text, parse_mail, safe_filename

SAMPLES = Path(__file__).resolve().parent.parent / "config" / "sample-mails"
MAILS = Path(__file__).resolve().parent / "data" / "mails"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def parse(raw: bytes, **limits: int):  # type: ignore[no-untyped-def]
    return parse_mail(
        raw,
        received_at=NOW,
        max_mail_bytes=limits.get("mail", 10**8),
        max_attachment_bytes=limits.get("attachment", 10**8),
    )


def test_legacy_charset_sent_as_8bit_decodes() -> None:
    """The windows-1252 sample with raw 8-bit bytes decodes to real quotes and the euro sign."""
    mail = parse((SAMPLES / "13-software-install-cp1252.eml").read_bytes())
    assert "€" in mail.text and "“" in mail.text
    assert mail.date.tzinfo is not None and mail.date.utcoffset().total_seconds() == 0


def test_encoded_word_subject_and_sender_name() -> None:
    """An RFC 2047 subject and display name are decoded; the address is lower-cased."""
    mail = parse((SAMPLES / "04-printer-jam-floor3.eml").read_bytes())
    assert mail.subject.startswith("Printer jam on floor 3")
    assert mail.sender_name == "Zoë Lim" and mail.sender == "zoe.lim@example.com"


def test_html_only_mail_falls_back_to_text() -> None:
    """A mail with only an HTML body yields readable text without tags."""
    mail = parse((SAMPLES / "10-outlook-crashes-html-only.eml").read_bytes())
    assert mail.html_only and "<" not in mail.text and "Outlook" in mail.text


def test_attachment_is_extracted_with_its_bytes() -> None:
    """The PNG sample attachment comes out as bytes that start with the PNG signature."""
    mail = parse((SAMPLES / "11-shared-drive-access-screenshot.eml").read_bytes())
    pngs = [a for a in mail.attachments if a.content_type == "image/png"]
    assert pngs and pngs[0].payload.startswith(b"\x89PNG")


def test_reply_headers_are_read() -> None:
    """In-Reply-To and References become tuples of Message-IDs."""
    mail = parse((SAMPLES / "17-ms-reply-log-masuk-hr.eml").read_bytes())
    assert mail.in_reply_to and all(i.startswith("<") for i in mail.in_reply_to)


def test_over_the_size_limit_is_unparseable_before_parsing() -> None:
    """A mail over max_mail_bytes raises UnparseableMail naming the limit."""
    with pytest.raises(UnparseableMail, match="over the limit"):
        parse(b"From: a@b.c\r\n\r\n" + b"x" * 2000, mail=1000)


def test_big_attachment_is_dropped_and_named() -> None:
    """An attachment over the limit is dropped and listed, the mail is still parsed."""
    mail = parse((SAMPLES / "15-laptop-stolen-customer-data.eml").read_bytes(), attachment=10)
    assert not mail.attachments and mail.dropped_attachments


def test_missing_message_id_is_synthesised_stably() -> None:
    """No Message-ID: a stable id from the content hash."""
    raw = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
    assert parse(raw).message_id == parse(raw).message_id
    assert parse(raw).message_id.endswith("@missing-message-id.tiket.invalid>")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("/abs/path/report.pdf", "report.pdf"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ("a\x00b.txt", "ab.txt"),
        ("..", "attachment-1.pdf"),
        ("", "attachment-1.pdf"),
        ("x" * 1000 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    """Path parts, NUL bytes and overlong names never reach the filesystem."""
    assert safe_filename(name, 1, "application/pdf") == expected


def test_clean_header_text_removes_line_breaks() -> None:
    """CR and LF in a subject become spaces, so they can never start a new header."""
    assert clean_header_text("a\r\nBcc: x@y\n b") == "a Bcc: x@y b"


def test_html_to_text_drops_scripts() -> None:
    """Script and style content disappears; block tags become line breaks."""
    text = html_to_text(
        "<style>p{}</style><p>One</p><script>alert(1)</script><div>Two &amp; 3</div>"
    )
    assert text == "One\n\nTwo & 3"


def test_a_broken_parse_pool_falls_back_to_parsing_in_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers that die (OOM killer, bad start) never stop intake: the batch is parsed here."""
    from concurrent.futures.process import BrokenProcessPool

    from pipeline.edges.parse_pool import MIN_BATCH, ParsePool

    def broken(*args: object, **kwargs: object) -> None:
        raise BrokenProcessPool("a worker died")

    pool = ParsePool(2, 10**6, 10**6)
    monkeypatch.setattr("concurrent.futures.ProcessPoolExecutor.map", broken)
    raw = (SAMPLES / "01-account-locked.eml").read_bytes()
    results = pool.parse_many([(raw, NOW)] * MIN_BATCH)
    assert len(results) == MIN_BATCH and all(r.sender == results[0].sender for r in results)
    assert pool.workers == 0


def _winmail_only(payload: bytes) -> bytes:
    """An Outlook-style mail whose only part is a winmail.dat (no text part of its own)."""
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Outlook User <outlook.user@example.com>"
    message["To"] = "support@tiket.example.org"
    message["Subject"] = "RTF only"
    message.add_attachment(
        payload, maintype="application", subtype="ms-tnef", filename="winmail.dat"
    )
    return message.as_bytes()


def test_winmail_dat_becomes_the_mails_attachments() -> None:
    """Outlook's TNEF container is opened: its files are the attachments, not winmail.dat."""
    mail = parse((MAILS / "mimekit__tnef__rich-text.eml").read_bytes())
    names = [a.filename for a in mail.attachments]
    assert "kitten-playing-with-a-christmas-tree.jpg" in names
    assert "winmail.dat" not in names
    kitten = next(a for a in mail.attachments if a.filename.startswith("kitten"))
    assert kitten.content_type == "image/jpeg" and kitten.payload[:3] == b"\xff\xd8\xff"


def test_winmail_dat_body_is_the_text_when_the_mail_has_none() -> None:
    """A mail whose body exists only as RTF inside winmail.dat gets that body as its text."""
    raw = (MAILS / "mimekit__tnef__rich-text.eml").read_bytes()
    original = parse(raw)
    payload = next(
        part.get_payload(decode=True)
        for part in message_from_bytes(raw, policy=policy.default).walk()
        if part.get_content_type() == "application/ms-tnef"
    )
    mail = parse(_winmail_only(payload))
    assert "Christmas to remember" in mail.text
    assert "\\rtf" not in mail.text and "{" not in mail.text[:200]
    assert {a.filename for a in mail.attachments} == {a.filename for a in original.attachments}


def test_a_broken_winmail_dat_is_kept_as_it_came() -> None:
    """A container that does not decode stays an attachment; nothing is lost."""
    mail = parse(_winmail_only(b"not a tnef stream at all"))
    assert [a.filename for a in mail.attachments] == ["winmail.dat"]
