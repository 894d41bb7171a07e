"""Lifecycle: the ticket state machine and plan_intake(), which decides what one inbound mail changes.

Pure: every input (the parsed mail, screening's verdict, the reply match, triage's outcome, the
promise policy) is a parameter; the result is an IntakePlan that the store applies in one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from pipeline.records import (
    AuditEvent,
    IntakePlan,
    MailIntent,
    NewTicket,
    ParsedMail,
    ReplyMatch,
    TriageOutcome,
    Verdict,
)

STATES = ("new", "open", "in_progress", "pending", "resolved", "closed")
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "new": frozenset({"open", "in_progress", "pending", "resolved", "closed"}),
    "open": frozenset({"in_progress", "pending", "resolved", "closed"}),
    "in_progress": frozenset({"open", "pending", "resolved", "closed"}),
    "pending": frozenset({"open", "in_progress", "resolved", "closed"}),
    "resolved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}


def can_transition(current: str, target: str) -> bool:
    """True when the state machine allows current -> target."""
    return target in TRANSITIONS.get(current, frozenset())


@dataclass(frozen=True, slots=True, kw_only=True)
class PromisePolicy:
    """What the acknowledgement promises: first-response hours by priority, and the fallback."""

    first_response_hours: Mapping[str, float]
    default_priority: str

    def hours_for(self, priority: str | None) -> float:
        """Hours promised for a priority (the default priority's when none is known yet)."""
        return float(self.first_response_hours[priority or self.default_priority])


def plan_intake(mail: ParsedMail, verdict: Verdict, match: ReplyMatch, triage: TriageOutcome | None,
                promise: PromisePolicy, *, language: str) -> IntakePlan:
    """Decide what one accepted-or-screened mail does to the tickets and who gets mail."""
    if not verdict.accept:
        return _plan_screened(mail, verdict, match)
    if match.ticket is not None and match.ticket.status != "closed":
        return _plan_reply(mail, verdict, match)
    return _plan_new_ticket(mail, verdict, match, triage, promise, language=language)


def _plan_screened(mail: ParsedMail, verdict: Verdict, match: ReplyMatch) -> IntakePlan:
    events = [AuditEvent(action="screened", detail=f"rule={verdict.rule} reason={verdict.reason}")]
    attach = verdict.rule == "is_bounce" and match.ticket is not None
    if attach:
        events.append(AuditEvent(action="bounce_received",
                                 detail=f"a mail of this ticket bounced: {mail.subject[:120]}"))
    return IntakePlan(disposition="screened", rule=verdict.rule,
                      existing=match.ticket if attach else None, store_message=attach,
                      events=tuple(events))


def _plan_reply(mail: ParsedMail, verdict: Verdict, match: ReplyMatch) -> IntakePlan:
    ticket = match.ticket
    assert ticket is not None
    events = [AuditEvent(action="reply_added", actor=mail.sender or "unknown",
                         detail=f"matched via {match.via}")]
    reopen = ticket.status in ("resolved", "pending")
    if reopen:
        events.append(AuditEvent(action="status_changed", actor=mail.sender or "unknown",
                                 detail=f"{ticket.status} -> open: the requester replied"))
    if verdict.rule:
        events.append(AuditEvent(action="not_acknowledged", detail=f"rule={verdict.rule}"))
    newcomer = (mail.sender,) if mail.sender and mail.sender not in ticket.participants else ()
    return IntakePlan(disposition="reply_added", rule=verdict.rule, existing=ticket, reopen=reopen,
                      events=tuple(events), add_participants=newcomer)


def _plan_new_ticket(mail: ParsedMail, verdict: Verdict, match: ReplyMatch,
                     triage: TriageOutcome | None, promise: PromisePolicy, *,
                     language: str) -> IntakePlan:
    triage = triage or TriageOutcome(degraded="triage not run")
    priority = triage.applied("priority")
    linked = match.ticket.id if match.ticket is not None else None
    ticket = NewTicket(
        subject=mail.subject or "(no subject)", requester=mail.sender,
        requester_name=mail.sender_name, kind=triage.applied("kind"),
        category=triage.applied("category"), priority=priority,
        breach_suspected=triage.breach_suspected, needs_review=triage.needs_review,
        language=language, linked_to=linked, participants=mail.cc[:20])
    events = [AuditEvent(action="ticket_created", actor=mail.sender or "unknown",
                         detail=f"mail {mail.message_id}")]
    if linked is not None and match.ticket is not None:
        events.append(AuditEvent(action="linked", detail=f"follow-up of closed {match.ticket.ref}"))
    if match.ignored_tag:
        events.append(AuditEvent(action="tag_ignored", actor=mail.sender or "unknown",
                                 detail=f"{match.ignored_tag}: sender is not a participant"))
    events.extend(_triage_events(triage))
    mails: tuple[MailIntent, ...] = ()
    if verdict.acknowledge:
        mails = (_acknowledgement(mail, ticket, priority, promise, language),)
    else:
        events.append(AuditEvent(action="not_acknowledged", detail=f"rule={verdict.rule}"))
    return IntakePlan(disposition="ticket_created", rule=verdict.rule, new_ticket=ticket,
                      triage=triage, events=tuple(events), mails=mails)


def _triage_events(triage: TriageOutcome) -> list[AuditEvent]:
    events = []
    if triage.degraded:
        events.append(AuditEvent(action="triage_degraded", detail=triage.degraded))
    applied = [f"{s.head}={s.label}({s.confidence:.2f})" for s in triage.suggestions if s.applied]
    if applied:
        events.append(AuditEvent(action="triage_applied", detail=" ".join(applied)))
    if triage.needs_review:
        events.append(AuditEvent(action="review_queued", detail="waits for L1 review"))
    if triage.breach_suspected:
        events.append(AuditEvent(action="breach_suspected", detail="; ".join(triage.breach_reasons)))
    return events


def _acknowledgement(mail: ParsedMail, ticket: NewTicket, priority: str | None,
                     promise: PromisePolicy, language: str) -> MailIntent:
    context: tuple[tuple[str, object], ...] = (
        ("subject", ticket.subject),
        ("requester_name", ticket.requester_name),
        ("priority", priority),
        ("first_response_hours", promise.hours_for(priority)),
        ("attachments", tuple(a.filename for a in mail.attachments)),
        ("dropped_attachments", mail.dropped_attachments),
    )
    refs = (*mail.references[-10:], mail.message_id)
    return MailIntent(template="acknowledgement", to=(mail.sender,), purpose="ack",
                      context=context, in_reply_to=mail.message_id, references=refs,
                      locale=language)
