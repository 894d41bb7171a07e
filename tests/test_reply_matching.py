"""Reply matching: thread headers first, our own ids, then a subject tag only for participants."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.records import TicketInfo
from pipeline.stages.parsing import parse_mail
from pipeline.stages.reply_matching import match_reply, subject_refs

NOW = datetime(2026, 11, 27, tzinfo=UTC)
TICKET = TicketInfo(
    id=7,
    ref="TKT-000007",
    status="open",
    requester="ann@example.com",
    participants=frozenset({"ann@example.com"}),
    subject="VPN",
)


def parsed(sender: str, subject: str, extra: str = ""):  # type: ignore[no-untyped-def]
    raw = f"From: {sender}\r\nSubject: {subject}\r\n{extra}\r\nbody\r\n".encode()
    return parse_mail(raw, received_at=NOW, max_mail_bytes=10**6, max_attachment_bytes=10**6)


def match(mail, by_id=None, by_ref=None):  # type: ignore[no-untyped-def]
    return match_reply(
        mail,
        by_id or {},
        by_ref or {"TKT-000007": TICKET},
        own_domain="tiket.example.org",
        prefix="TKT",
    )


def test_in_reply_to_a_stored_message_id() -> None:
    """In-Reply-To of a stored Message-ID joins that ticket whoever sends it."""
    mail = parsed("bob@example.com", "Re: VPN", "In-Reply-To: <orig@example.com>\r\n")
    result = match(mail, by_id={"<orig@example.com>": TICKET})
    assert result.ticket == TICKET and result.via == "in-reply-to"


def test_references_to_a_proven_id_match_and_a_bare_ref_id_does_not() -> None:
    """A References entry the caller proved (stored, or ours with a valid token) finds the
    ticket; an id of ours that merely starts with the ref (guessable) finds nothing."""
    mail = parsed(
        "ann@example.com", "Re: x", "References: <a@x> <TKT-000007.ack-m3@tiket.example.org>\r\n"
    )
    assert match(mail).ticket is None
    proven = {"<TKT-000007.ack-m3@tiket.example.org>": TICKET}
    assert match(mail, by_id=proven).via == "references"


def test_subject_tag_counts_for_a_participant() -> None:
    """[TKT-000007] from the requester joins the ticket."""
    assert match(parsed("ann@example.com", "Re: [TKT-000007] VPN")).via == "subject-tag"


def test_subject_tag_from_a_stranger_is_ignored() -> None:
    """[TKT-000007] from someone else opens a new ticket and records the ignored tag."""
    result = match(parsed("mallory@evil.example", "Re: [TKT-000007] VPN"))
    assert result.ticket is None and result.ignored_tag == "TKT-000007"


def test_helpers() -> None:
    """Refs come out of subject tags."""
    assert subject_refs("Re: [tkt-000012] and [TKT-3]", "TKT") == ("TKT-000012", "TKT-3")
