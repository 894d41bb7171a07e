"""Reply matching: thread headers first, our own ids, then a subject tag only for participants."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.records import TicketInfo
from pipeline.stages.parsing import parse_mail
from pipeline.stages.reply_matching import match_reply, own_id_ref, subject_refs

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


def test_references_to_our_own_message_id_encode_the_ref() -> None:
    """A References entry that is one of our ids finds the ticket by the ref inside it."""
    mail = parsed(
        "ann@example.com", "Re: x", "References: <a@x> <TKT-000007.ack-m3@tiket.example.org>\r\n"
    )
    assert match(mail).via == "references"


def test_subject_tag_counts_for_a_participant() -> None:
    """[TKT-000007] from the requester joins the ticket."""
    assert match(parsed("ann@example.com", "Re: [TKT-000007] VPN")).via == "subject-tag"


def test_subject_tag_from_a_stranger_is_ignored() -> None:
    """[TKT-000007] from someone else opens a new ticket and records the ignored tag."""
    result = match(parsed("mallory@evil.example", "Re: [TKT-000007] VPN"))
    assert result.ticket is None and result.ignored_tag == "TKT-000007"


def test_helpers() -> None:
    """Refs come out of subjects and our Message-IDs only."""
    assert subject_refs("Re: [tkt-000012] and [TKT-3]", "TKT") == ("TKT-000012", "TKT-3")
    assert (
        own_id_ref("<TKT-000012.ack-m1@tiket.example.org>", "tiket.example.org", "TKT")
        == "TKT-000012"
    )
    assert own_id_ref("<TKT-000012.ack-m1@elsewhere.org>", "tiket.example.org", "TKT") is None
