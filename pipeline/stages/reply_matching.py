"""Reply matching: which existing ticket a mail belongs to (pure)

Order: In-Reply-To, then References (newest first), against the ids that prove a thread: every
stored inbound and outbound Message-ID, and our own ids whose token the caller verified (a bare
<TKT-n@our-domain> proves nothing: it can be guessed); then a subject tag such as [TKT-000123],
which counts only when the sender already takes part in that ticket, so that a stranger quoting a
tag cannot join someone else's ticket. Pure: lookups and token checks are done by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pipeline.records import ParsedMail, ReplyMatch, TicketInfo


def tag_pattern(prefix: str) -> re.Pattern[str]:
    """The subject-tag pattern for a reference prefix: [TKT-000123]."""
    return re.compile(r"\[(" + re.escape(prefix) + r"-\d{1,12})\]", re.IGNORECASE)


def subject_refs(subject: str, prefix: str) -> tuple[str, ...]:
    """Ticket references tagged in a subject, upper-cased, in order."""
    return tuple(ref.upper() for ref in tag_pattern(prefix).findall(subject))


def thread_ids(mail: ParsedMail) -> tuple[str, ...]:
    """The Message-IDs a mail answers, most specific first (In-Reply-To, then References newest first)."""
    ids = list(mail.in_reply_to)
    ids.extend(ref for ref in reversed(mail.references) if ref not in ids)
    return tuple(ids)


def match_reply(
    mail: ParsedMail,
    by_message_id: Mapping[str, TicketInfo],
    by_ref: Mapping[str, TicketInfo],
    *,
    own_domain: str,
    prefix: str,
    trusted: frozenset[str] = frozenset(),
) -> ReplyMatch:
    """Find the ticket this mail answers. by_message_id: proven ids -> ticket (stored, or ours with
    a valid token); by_ref: ref -> ticket, for subject tags.

    `trusted` senders (the desk's agents) may use a subject tag on any ticket (their commands
    still need a verified mail: see agent_auth).
    """
    for message_id in thread_ids(mail):
        ticket = by_message_id.get(message_id)
        if ticket is not None:
            return ReplyMatch(
                ticket=ticket, via="in-reply-to" if message_id in mail.in_reply_to else "references"
            )
    ignored = None
    for ref in subject_refs(mail.subject, prefix):
        ticket = by_ref.get(ref)
        if ticket is None:
            continue
        if mail.sender and (mail.sender in ticket.participants or mail.sender in trusted):
            return ReplyMatch(ticket=ticket, via="subject-tag")
        ignored = ignored or ref
    return ReplyMatch(ticket=None, ignored_tag=ignored)
