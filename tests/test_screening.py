"""Screening: each named rule, its order, and the real bounce / auto-reply mails of the corpus."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.errors import UnparseableMail
from pipeline.records import SenderHistory
from pipeline.stages.parsing import parse_mail
from pipeline.stages.screening import (
    MAIL_RULES,
    SCREENING_RULES,
    ScreeningPolicy,
    screen_history,
    screen_mail,
)

MAILS = Path(__file__).resolve().parent / "data" / "mails"
NOW = datetime(2026, 11, 27, tzinfo=UTC)
POLICY = ScreeningPolicy(
    own_domain="tiket.example.org",
    own_addresses=frozenset({"support@example.org"}),
    ack_cap_per_hour=10,
)


def mail(headers: str, body: str = "hello") -> bytes:
    base = "From: User <user@example.com>\r\nTo: support@example.org\r\nSubject: help\r\n"
    return (base + headers + "\r\n" + body + "\r\n").encode()


def verdict(raw: bytes, acks: int = 0):  # type: ignore[no-untyped-def]
    parsed = parse_mail(raw, received_at=NOW, max_mail_bytes=10**8, max_attachment_bytes=10**8)
    return screen_mail(parsed, POLICY, SenderHistory(acks_last_hour=acks))


@pytest.mark.parametrize(
    ("headers", "rule", "accept", "ack"),
    [
        ("", None, True, True),
        ("X-Tiket-Loop: tiket.example.org\r\n", "is_own_mail", False, False),
        ("Message-ID: <TKT-000001.ack-m1@tiket.example.org>\r\n", "is_own_mail", False, False),
        ("Return-Path: <>\r\n", "is_bounce", False, False),
        (
            "Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n",
            "is_bounce",
            False,
            False,
        ),
        ("X-Failed-Recipients: a@b.c\r\n", "is_bounce", False, False),
        ("Auto-Submitted: auto-replied\r\n", "is_auto_reply", False, False),
        ("Auto-Submitted: auto-generated\r\n", "is_auto_reply", False, False),
        ("Auto-Submitted: no\r\n", None, True, True),
        ("X-Autoreply: yes\r\n", "is_auto_reply", False, False),
        ("X-Autorespond: yes\r\n", "is_auto_reply", False, False),
        ("Precedence: bulk\r\n", "is_auto_reply", False, False),
        ("Precedence: auto_reply\r\n", "is_auto_reply", False, False),
        ("X-Auto-Response-Suppress: All\r\n", "is_auto_reply", False, False),
        ("List-Id: <users.lists.example.com>\r\n", "is_list_mail", True, False),
    ],
)
def test_rules(headers: str, rule: str | None, accept: bool, ack: bool) -> None:
    """Each header signal picks its named rule; screened mail is never acknowledged."""
    result = verdict(mail(headers))
    assert (result.rule, result.accept, result.acknowledge) == (rule, accept, ack)


def test_sender_from_mailer_daemon_is_a_bounce() -> None:
    """MAILER-DAEMON as sender is a bounce even without a report part."""
    raw = b"From: MAILER-DAEMON@mx.example.com\r\nSubject: Undelivered\r\n\r\nx\r\n"
    assert verdict(raw).rule == "is_bounce"


def test_out_of_office_subject_only_counts_on_an_answer() -> None:
    """'Automatic reply:' screens an answer, but not a fresh mail that happens to say it."""
    answer = mail("In-Reply-To: <a@b.c>\r\n").replace(
        b"Subject: help", b"Subject: Automatic reply: x"
    )
    fresh = mail("").replace(b"Subject: help", b"Subject: Automatic reply: settings broken")
    assert verdict(answer).rule == "is_auto_reply"
    assert verdict(fresh).accept and verdict(fresh).acknowledge


def test_ack_cap_keeps_the_ticket_but_stops_answers() -> None:
    """At the per-sender cap the mail is accepted without acknowledgement."""
    result = verdict(mail(""), acks=10)
    assert (result.rule, result.accept, result.acknowledge) == ("exceeds_ack_cap", True, False)


def test_rule_order_is_data() -> None:
    """The order is an explicit tuple whose names are the audit names."""
    assert [r.__name__ for r in SCREENING_RULES] == [
        "is_own_mail",
        "is_bounce",
        "is_auto_reply",
        "is_list_mail",
        "has_no_sender",
        "repeats_same_body",
        "exceeds_ack_cap",
        "exceeds_desk_ack_cap",
    ]


HISTORIES = [
    SenderHistory(),
    SenderHistory(acks_last_hour=10),
    SenderHistory(desk_acks_last_hour=200),
    SenderHistory(same_body_recent=3),
    SenderHistory(acks_last_hour=10, desk_acks_last_hour=200, same_body_recent=3),
]


@pytest.mark.parametrize("history", HISTORIES)
@pytest.mark.parametrize(
    "headers",
    ["", "Return-Path: <>\r\n", "Auto-Submitted: auto-replied\r\n", "List-Id: <l.example>\r\n"],
)
def test_the_mails_own_rules_then_its_history_give_the_whole_verdict(
    headers: str, history: SenderHistory
) -> None:
    """Intake screens a mail's own rules once per batch and adds the history's rules per mail:
    the same verdict as all rules at once, for every history."""
    parsed = parse_mail(
        mail(headers), received_at=NOW, max_mail_bytes=10**8, max_attachment_bytes=10**8
    )
    own = screen_mail(parsed, POLICY, SenderHistory(), MAIL_RULES)
    assert screen_history(own, parsed, POLICY, history) == screen_mail(parsed, POLICY, history)
    assert SCREENING_RULES[: len(MAIL_RULES)] == MAIL_RULES  # the mail's own rules come first


def manifest() -> list[dict[str, str]]:
    with open(MAILS / "MANIFEST.tsv", newline="") as handle:
        return [r for r in csv.DictReader(handle, delimiter="\t") if r["file"].endswith(".eml")]


@pytest.mark.parametrize(
    "row",
    [r for r in manifest() if {"bounce", "autoreply"} & set(r["tags"].split(","))],
    ids=lambda r: r["file"],
)
def test_corpus_bounces_and_auto_replies_are_screened(row: dict[str, str]) -> None:
    """Every real mail tagged bounce or autoreply in the manifest is screened (or unparseable)."""
    raw = (MAILS / row["file"]).read_bytes()
    try:
        result = verdict(raw)
    except UnparseableMail:
        return
    assert not result.accept and result.rule in ("is_bounce", "is_auto_reply", "is_own_mail")
