"""The shipped sample mailbox (config/sample-mails) and the benchmark mail generator."""

from __future__ import annotations

import email
import email.policy
import importlib.util
import re
import sys
from email.message import EmailMessage
from pathlib import Path
from types import ModuleType

import mailparser
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "config" / "sample-mails"
SAMPLE_FILES = sorted(SAMPLES.glob("*.eml"))


def _parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _mailgen() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "tiket_bench_mailgen", ROOT / "benchmarks" / "mailgen.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_sample_mailbox_is_there() -> None:
    assert len(SAMPLE_FILES) >= 20
    names = [p.name for p in SAMPLE_FILES]
    assert [int(n[:2]) for n in names] == list(range(1, len(names) + 1))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_mail_parses(path: Path) -> None:
    raw = path.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b""), "line endings must be CRLF throughout"
    msg = _parse(raw)
    assert not msg.defects
    for part in msg.walk():
        assert not part.defects, (part.get_content_type(), part.defects)
    for header in ("From", "To", "Subject", "Date", "Message-ID"):
        assert msg[header], header
    assert msg["To"].addresses[0].addr_spec == "support@example.org"
    sender = msg["From"].addresses[0].addr_spec
    body = msg.get_body(("plain", "html"))
    assert body is not None and body.get_content().strip()

    parsed = mailparser.parse_from_bytes(raw)
    assert parsed.subject == str(msg["Subject"])
    assert parsed.from_[0][1] == sender
    assert parsed.message_id == str(msg["Message-ID"])


def test_sample_mails_are_in_order_with_unique_ids() -> None:
    msgs = [_parse(p.read_bytes()) for p in SAMPLE_FILES]
    dates = [m["Date"].datetime for m in msgs]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    ids = [str(m["Message-ID"]) for m in msgs]
    assert len(set(ids)) == len(ids)
    # replies point at an earlier sample mail of the same sender
    by_id = {str(m["Message-ID"]): m for m in msgs}
    for m in msgs:
        parent = m["In-Reply-To"]
        if parent and str(parent) in by_id:
            assert (
                by_id[str(parent)]["From"].addresses[0].addr_spec
                == m["From"].addresses[0].addr_spec
            )


def test_exactly_one_auto_reply_and_one_bounce() -> None:
    msgs = {p.name: _parse(p.read_bytes()) for p in SAMPLE_FILES}
    auto = [n for n, m in msgs.items() if m["Auto-Submitted"] == "auto-replied"]
    bounces = [n for n, m in msgs.items() if m.get_content_type() == "multipart/report"]
    assert len(auto) == 1 and len(bounces) == 1
    bounce = msgs[bounces[0]]
    assert bounce["Return-Path"] == "<>"
    assert bounce.get_param("report-type") == "delivery-status"
    types = [p.get_content_type() for p in bounce.walk()]
    assert "message/delivery-status" in types
    raw = (SAMPLES / bounces[0]).read_bytes()
    assert b"<TKT-000003.ack.1@tiket.example.org>" in raw
    assert b"[TKT-000003]" in raw


def test_windows_1252_sample_decodes_with_smart_quotes() -> None:
    eightbit = [p for p in SAMPLE_FILES if not p.read_bytes().isascii()]
    assert len(eightbit) == 1, "exactly one sample is sent as raw 8bit"
    raw = eightbit[0].read_bytes()
    assert b"\x93Adobe Acrobat Pro\x94" in raw  # cp1252 “ ” as raw bytes
    msg = _parse(raw)
    body = msg.get_body(("plain",))
    assert body is not None
    assert body.get_content_charset() == "windows-1252"
    assert body["Content-Transfer-Encoding"] == "8bit"
    text = body.get_content()
    assert "“Adobe Acrobat Pro”" in text
    assert "won’t" in text and "€180" in text and "René Dubois" in text
    assert str(msg["From"]) == "René Dubois <rene.dubois@contoso.example>"
    assert "“Adobe Acrobat Pro”" in mailparser.parse_from_bytes(raw).body


def test_encoded_word_subject() -> None:
    msg = _parse((SAMPLES / "04-printer-jam-floor3.eml").read_bytes())
    assert msg["Subject"] == "Printer jam on floor 3 – paper stuck again"
    assert msg["From"].addresses[0].display_name == "Zoë Lim"


def test_readme_lists_every_sample() -> None:
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+\.eml)` \|", readme, flags=re.MULTILINE)
    assert rows == [p.name for p in SAMPLE_FILES]
    assert "CC0" in readme


def test_mailgen_is_deterministic_and_parses(tmp_path: Path) -> None:
    mailgen = _mailgen()
    first = mailgen.generate_mails(200, seed=1)
    assert first == mailgen.generate_mails(200, seed=1)
    assert first != mailgen.generate_mails(200, seed=2)
    assert len(first) == 200

    ids: dict[str, str] = {}
    previous_date = None
    for raw in first:
        assert isinstance(raw, bytes)
        msg = _parse(raw)
        mid = str(msg["Message-ID"])
        assert mid not in ids, "Message-IDs must be unique"
        sender = msg["From"].addresses[0].addr_spec
        ids[mid] = sender
        assert msg["To"].addresses[0].addr_spec == "support@example.org"
        date = msg["Date"].datetime
        assert previous_date is None or date > previous_date
        previous_date = date
        if msg["In-Reply-To"]:
            assert ids[str(msg["In-Reply-To"])] == sender  # an earlier mail of the same sender
        body = msg.get_body(("plain", "html"))
        assert body is not None and body.get_content()

        parsed = mailparser.parse_from_bytes(raw)
        assert parsed.subject == str(msg["Subject"])
        assert parsed.message_id == mid

    mailgen.write_maildir(first[:5], tmp_path / "Maildir")
    assert sorted(p.name for p in (tmp_path / "Maildir").iterdir()) == ["cur", "new", "tmp"]
    delivered = sorted((tmp_path / "Maildir" / "new").iterdir())
    assert len(delivered) == 5
    assert sorted(p.read_bytes() for p in delivered) == sorted(first[:5])
