"""Lifecycle: the ticket state machine and plan_intake(), which decides what one inbound mail changes (pure)

Pure: every input (the parsed mail, screening's verdict, the reply match, triage's outcome, the
promise policy) is a parameter; the result is an IntakePlan that the store applies in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.errors import InvalidAction
from pipeline.records import (
    AuditEvent,
    Dossier,
    IntakePlan,
    MailIntent,
    NewTicket,
    ParsedMail,
    ReplyMatch,
    Suggestion,
    TicketState,
    TicketUpdate,
    TriageOutcome,
    Verdict,
)
from pipeline.stages.sla import ClockFacts, ClockView, SlaAction, SlaPolicy, clock_view, next_tier
from pipeline.vocabulary import CLOCKS, HEADS, KINDS, MAIL_COMMANDS, PRIORITIES, TIERS

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
    tier_groups: Mapping[str, str] = field(default_factory=dict)  # who hears of a reply

    def hours_for(self, priority: str | None) -> float:
        """Hours promised for a priority (the default priority's when none is known yet)."""
        return float(self.first_response_hours[priority or self.default_priority])


def plan_intake(
    mail: ParsedMail,
    verdict: Verdict,
    match: ReplyMatch,
    triage: TriageOutcome | None,
    promise: PromisePolicy,
    *,
    language: str,
) -> IntakePlan:
    """Decide what one accepted-or-screened mail does to the tickets and who gets mail."""
    if not verdict.accept:
        return _plan_screened(mail, verdict, match)
    if match.ticket is not None and match.ticket.status != "closed":
        if mail.sender and mail.sender in match.ticket.participants:
            return _plan_reply(mail, verdict, match, promise.tier_groups)
        # a stranger answering a ticket mail must not join it (reopen it, reach L2/L3, become a
        # participant): their mail opens a new ticket linked to it, and L1 sees the link
    return _plan_new_ticket(mail, verdict, match, triage, promise, language=language)


def plan_refused_agent_mail(
    mail: ParsedMail, match: ReplyMatch, reasons: tuple[str, ...], *, notify: bool
) -> IntakePlan:
    """A mail in an agent's name that failed verification: kept on the ticket as a plain mail,
    no command runs, nothing reaches the requester, the attempt is audited and the agent's
    own address gets a short notice (unless the acknowledgement caps hold it back)."""
    ticket = match.ticket
    assert ticket is not None
    commands, _ = parse_agent_commands(mail.text)
    detail = "; ".join(reasons)
    if commands:
        detail += "; commands not run: " + " ".join(f"#{c}" for c, _ in commands)
    events = [AuditEvent(action="agent_mail_refused", actor=mail.sender, detail=detail[:1000])]
    mails: tuple[MailIntent, ...] = ()
    if notify:
        mails = (
            MailIntent(
                template="agent_notice",
                to=(mail.sender,),
                purpose="notice",
                context=(("subject", ticket.subject), ("reasons", reasons)),
                locale="en",
            ),
        )
    else:
        events.append(AuditEvent(action="not_acknowledged", detail="rule=agent_notice_capped"))
    return IntakePlan(
        disposition="reply_added",
        rule="agent_unverified",
        existing=ticket,
        events=tuple(events),
        mails=mails,
    )


def _plan_screened(mail: ParsedMail, verdict: Verdict, match: ReplyMatch) -> IntakePlan:
    events = [AuditEvent(action="screened", detail=f"rule={verdict.rule} reason={verdict.reason}")]
    attach = verdict.rule == "is_bounce" and match.ticket is not None
    if attach:
        events.append(
            AuditEvent(
                action="bounce_received",
                detail=f"a mail of this ticket bounced: {mail.subject[:120]}",
            )
        )
    return IntakePlan(
        disposition="screened",
        rule=verdict.rule,
        existing=match.ticket if attach else None,
        store_message=attach,
        events=tuple(events),
    )


def _plan_reply(
    mail: ParsedMail, verdict: Verdict, match: ReplyMatch, tier_groups: Mapping[str, str]
) -> IntakePlan:
    ticket = match.ticket
    assert ticket is not None
    events = [
        AuditEvent(
            action="reply_added", actor=mail.sender or "unknown", detail=f"matched via {match.via}"
        )
    ]
    reopen = ticket.status in ("resolved", "pending")
    if reopen:
        events.append(
            AuditEvent(
                action="status_changed",
                actor=mail.sender or "unknown",
                detail=f"{ticket.status} -> open: the requester replied",
            )
        )
    if verdict.rule:
        events.append(AuditEvent(action="not_acknowledged", detail=f"rule={verdict.rule}"))
    commands, _ = parse_agent_commands(mail.text)
    if commands:
        events.append(
            AuditEvent(
                action="commands_ignored",
                actor=mail.sender or "unknown",
                detail="not an agent: " + " ".join(f"#{c}" for c, _ in commands),
            )
        )
    newcomer = (mail.sender,) if mail.sender and mail.sender not in ticket.participants else ()
    mails: tuple[MailIntent, ...] = ()
    group = tier_groups.get(ticket.tier) if ticket.tier != "L1" else None
    if group:  # L2/L3 work from their mail: the requester's answer must reach them
        mails = (
            MailIntent(
                template="requester_reply",
                to=(group,),
                purpose="fwd",
                context=(
                    ("subject", ticket.subject),
                    ("tier", ticket.tier),
                    ("sender", mail.sender),
                    ("text", mail.text[:20000]),
                    ("reopened", reopen),
                ),
                in_reply_to=mail.message_id,
                locale="en",
            ),
        )
    return IntakePlan(
        disposition="reply_added",
        rule=verdict.rule,
        existing=ticket,
        reopen=reopen,
        events=tuple(events),
        add_participants=newcomer,
        mails=mails,
    )


def _plan_new_ticket(
    mail: ParsedMail,
    verdict: Verdict,
    match: ReplyMatch,
    triage: TriageOutcome | None,
    promise: PromisePolicy,
    *,
    language: str,
) -> IntakePlan:
    triage = triage or TriageOutcome(degraded="triage not run")
    priority = triage.applied("priority")
    linked = match.ticket.id if match.ticket is not None else None
    ticket = NewTicket(
        subject=mail.subject or "(no subject)",
        requester=mail.sender,
        requester_name=mail.sender_name,
        kind=triage.applied("kind"),
        category=triage.applied("category"),
        priority=priority,
        breach_suspected=triage.breach_suspected,
        needs_review=triage.needs_review,
        language=language,
        linked_to=linked,
        participants=mail.cc[:20],
    )
    events = [
        AuditEvent(
            action="ticket_created",
            actor=mail.sender or "unknown",
            detail=f"mail {mail.message_id}",
        )
    ]
    if linked is not None and match.ticket is not None:
        detail = (
            f"follow-up of closed {match.ticket.ref}"
            if match.ticket.status == "closed"
            else f"answers {match.ticket.ref}, but the sender does not take part in it"
        )
        events.append(AuditEvent(action="linked", detail=detail))
    if match.ignored_tag:
        events.append(
            AuditEvent(
                action="tag_ignored",
                actor=mail.sender or "unknown",
                detail=f"{match.ignored_tag}: sender is not a participant",
            )
        )
    events.extend(_triage_events(triage))
    mails: tuple[MailIntent, ...] = ()
    if verdict.acknowledge:
        mails = (_acknowledgement(mail, ticket, priority, promise, language),)
    else:
        events.append(AuditEvent(action="not_acknowledged", detail=f"rule={verdict.rule}"))
    return IntakePlan(
        disposition="ticket_created",
        rule=verdict.rule,
        new_ticket=ticket,
        triage=triage,
        events=tuple(events),
        mails=mails,
    )


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
        events.append(
            AuditEvent(action="breach_suspected", detail="; ".join(triage.breach_reasons))
        )
    return events


def _acknowledgement(
    mail: ParsedMail, ticket: NewTicket, priority: str | None, promise: PromisePolicy, language: str
) -> MailIntent:
    context: tuple[tuple[str, object], ...] = (
        ("subject", ticket.subject),
        ("requester_name", ticket.requester_name),
        ("priority", priority),
        ("first_response_hours", promise.hours_for(priority)),
        ("attachments", tuple(a.filename for a in mail.attachments)),
        ("dropped_attachments", mail.dropped_attachments),
    )
    refs = (*mail.references[-10:], mail.message_id)
    return MailIntent(
        template="acknowledgement",
        to=(mail.sender,),
        purpose="ack",
        context=context,
        in_reply_to=mail.message_id,
        references=refs,
        locale=language,
    )


# -- agent actions, review, escalation and SLA steps ---------------------------------------------

REQUESTER_TEMPLATES = {"resolved": "resolved", "closed": "closed", "pending": "question"}


@dataclass(frozen=True, slots=True, kw_only=True)
class TierInfo:
    """A tier as the planners need it."""

    key: str
    name: str
    group: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskPolicy:
    """The desk's rules the lifecycle planners apply."""

    sla: SlaPolicy
    tiers: Mapping[str, TierInfo]
    security_contact: str
    auto_close_after: timedelta
    tell_relaxed_target: bool = False  # mail the requester when a target moves later, too


def local_time(value: datetime | None, zone: str) -> str:
    """A time as people at the desk read it: '2026-11-27 14:00 +08'."""
    if value is None:
        return "-"
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def merge_updates(first: TicketUpdate, second: TicketUpdate) -> TicketUpdate:
    """Two updates of the same ticket as one: later fields and status win, lists concatenate."""
    fields = dict(first.fields)
    fields.update(second.fields)
    status = first.status
    if second.status is not None:
        status = (
            first.status[0] if first.status else second.status[0],
            second.status[1],
            second.status[2],
        )
    return replace(
        first,
        fields=tuple(fields.items()),
        status=status,
        events=first.events + second.events,
        mails=first.mails + second.mails,
        decisions=first.decisions + second.decisions,
        sla_event=second.sla_event or first.sla_event,
        note=second.note or first.note,
        effects=first.effects + second.effects,
    )


def _requester_mail(
    ticket: TicketState, template: str, purpose: str, **context: object
) -> MailIntent:
    base: dict[str, object] = {"subject": ticket.subject, "requester_name": ticket.requester_name}
    base.update(context)
    refs = (ticket.last_message_id,) if ticket.last_message_id else ()
    return MailIntent(
        template=template,
        to=(ticket.requester,),
        purpose=purpose,
        context=tuple(base.items()),
        in_reply_to=ticket.last_message_id,
        references=refs,
        locale=ticket.language,
    )


def _responded(ticket: TicketState, now: datetime) -> tuple[tuple[str, object], ...]:
    """The first agent answer to the requester stops the first-response clock."""
    return (("first_response_at", now),) if ticket.first_response_at is None else ()


def plan_status(
    ticket: TicketState,
    target: str,
    actor: str,
    reason: str,
    now: datetime,
    *,
    note: str = "",
    reopen_hours: float = 72.0,
) -> TicketUpdate:
    """Move a ticket to `target`, telling the requester when it is resolved, closed or pending."""
    if not can_transition(ticket.status, target):
        hint = " (a reply to a closed ticket opens a new one)" if ticket.status == "closed" else ""
        raise InvalidAction(f"{ticket.ref} is {ticket.status}: cannot become {target}{hint}")
    fields: dict[str, object] = {"status": target}
    mails: tuple[MailIntent, ...] = ()
    if target == "resolved":
        fields.update(resolved_at=now, resolution_note=note or reason)
    if target == "closed":
        fields["closed_at"] = now
    if target in ("open", "in_progress") and ticket.status == "resolved":
        fields["resolved_at"] = None
    template = REQUESTER_TEMPLATES.get(target)
    if template is not None:
        mails = (
            _requester_mail(
                ticket, template, target, note=note or reason, reopen_hours=reopen_hours
            ),
        )
        fields.update(_responded(ticket, now))
    return TicketUpdate(
        ticket_id=ticket.id,
        ref=ticket.ref,
        actor=actor,
        fields=tuple(fields.items()),
        status=(ticket.status, target, reason),
        events=(
            AuditEvent(
                action="status_changed",
                actor=actor,
                detail=f"{ticket.status} -> {target}: {reason}",
            ),
        ),
        mails=mails,
        note=("note", note) if note else None,
    )


def plan_assign(
    ticket: TicketState,
    tier: str,
    actor: str,
    reason: str,
    policy: DeskPolicy,
    dossier: Dossier,
    now: datetime,
    *,
    tell_requester: bool = True,
) -> TicketUpdate:
    """Give the ticket to a tier: the tier's group gets the escalation mail with the dossier."""
    if tier not in policy.tiers:
        raise InvalidAction(f"unknown tier {tier!r}; tiers are {', '.join(policy.tiers)}")
    if tier == ticket.tier:
        raise InvalidAction(f"{ticket.ref} is already with {tier}")
    info = policy.tiers[tier]
    facts = clock_facts(ticket)
    views = {c: clock_view(c, facts, policy.sla, now) for c in CLOCKS}
    zone = policy.sla.calendar.timezone
    staff = MailIntent(
        template="escalation",
        to=(info.group,),
        purpose=f"esc-{tier}",
        context=_dossier_context(ticket, dossier, views, zone, reason, info.name),
        in_reply_to=ticket.last_message_id,
        locale="en",
    )
    mails = [staff]
    fields: dict[str, object] = {"tier": tier}
    if ticket.status == "new":
        fields["status"] = "open"
    if tell_requester and _rank(tier) > _rank(ticket.tier):
        expected = views["resolution"].due
        mails.append(
            _requester_mail(
                ticket,
                "escalated",
                f"escalated-{tier}",
                tier_name=info.name,
                expected=local_time(expected, zone),
            )
        )
    up = "escalated" if _rank(tier) > _rank(ticket.tier) else "assigned"
    status = (ticket.status, "open", "assigned to a tier") if ticket.status == "new" else None
    return TicketUpdate(
        ticket_id=ticket.id,
        ref=ticket.ref,
        actor=actor,
        fields=tuple(fields.items()),
        status=status,
        events=(AuditEvent(action=up, actor=actor, detail=f"{ticket.tier} -> {tier}: {reason}"),),
        mails=tuple(mails),
    )


def plan_escalation(
    ticket: TicketState,
    actor: str,
    reason: str,
    policy: DeskPolicy,
    dossier: Dossier,
    now: datetime,
) -> TicketUpdate:
    """Move the ticket one tier up (L1 -> L2 -> L3)."""
    up = next_tier(ticket.tier)
    if up is None:
        raise InvalidAction(f"{ticket.ref} is already with {ticket.tier}, the top tier")
    return plan_assign(ticket, up, actor, reason, policy, dossier, now)


def plan_breach_route(
    ticket: TicketState,
    reasons: tuple[str, ...],
    actor: str,
    policy: DeskPolicy,
    dossier: Dossier,
    now: datetime,
) -> TicketUpdate:
    """A suspected data breach: P1, straight to L3, and the security contact is alerted."""
    marked = replace(ticket, priority="P1")
    update = (
        plan_assign(
            marked, "L3", actor, "suspected data breach", policy, dossier, now, tell_requester=False
        )
        if ticket.tier != "L3"
        else TicketUpdate(ticket_id=ticket.id, ref=ticket.ref, actor=actor)
    )
    alert = MailIntent(
        template="breach_alert",
        to=(policy.security_contact,),
        purpose="breach",
        context=(("ticket", _summary(ticket, policy.sla.calendar.timezone)), ("reasons", reasons)),
        locale="en",
    )
    flag = TicketUpdate(
        ticket_id=ticket.id,
        ref=ticket.ref,
        actor=actor,
        fields=(("priority", "P1"), ("breach_suspected", True)),
        events=(AuditEvent(action="security_alerted", actor=actor, detail="; ".join(reasons)),),
        mails=(alert,),
    )
    return merge_updates(update, flag)


def plan_target_update(
    ticket: TicketState, priority: str, policy: DeskPolicy, now: datetime
) -> MailIntent | None:
    """The requester's short update when a new priority moves the promised time: the first
    response while none was given, else the resolution. Only for a tighter target, unless the
    desk also tells relaxed ones; None when nothing the requester was promised moves."""
    if ticket.status in ("resolved", "closed") or priority == ticket.priority:
        return None
    clock = "first_response" if ticket.first_response_at is None else "resolution"
    facts = clock_facts(ticket)
    before = clock_view(clock, facts, policy.sla, now).due
    after = clock_view(clock, replace(facts, priority=priority), policy.sla, now).due
    if before is None or after is None or after == before:
        return None
    if after > before and not policy.tell_relaxed_target:
        return None
    zone = policy.sla.calendar.timezone
    return _requester_mail(
        ticket,
        "target_changed",
        f"target-{priority}",
        priority=priority,
        first_response=clock == "first_response",
        due=local_time(after, zone),
        sooner=after < before,
    )


def plan_fields(
    ticket: TicketState,
    changes: Mapping[str, str],
    actor: str,
    suggestions: tuple[Suggestion, ...] = (),
    categories: frozenset[str] = frozenset(),
    policy: DeskPolicy | None = None,
    now: datetime | None = None,
) -> TicketUpdate:
    """Set kind, category or priority by hand; each is stored as a label for retraining, next to
    what the model had suggested for that head (so auto-applied suggestions get checked too)."""
    for head, value in changes.items():
        _check_label(head, value, categories)
    suggested = {s.head: s.label for s in suggestions}
    decisions = tuple((h, v, suggested.get(h)) for h, v in changes.items())
    detail = " ".join(f"{h}={v}" for h, v in changes.items())
    return TicketUpdate(
        ticket_id=ticket.id,
        ref=ticket.ref,
        actor=actor,
        fields=tuple(changes.items()),
        decisions=decisions,
        events=(AuditEvent(action="fields_changed", actor=actor, detail=detail),),
        mails=_target_mails(ticket, changes, policy, now),
    )


def _target_mails(
    ticket: TicketState,
    labels: Mapping[str, str],
    policy: DeskPolicy | None,
    now: datetime | None,
) -> tuple[MailIntent, ...]:
    if policy is None or now is None or "priority" not in labels:
        return ()
    mail = plan_target_update(ticket, labels["priority"], policy, now)
    return () if mail is None else (mail,)


def unsure_heads(suggestions: tuple[Suggestion, ...]) -> tuple[str, ...]:
    """Heads that wait for an agent: suggested but not applied, or not suggested at all."""
    applied = {s.head for s in suggestions if s.applied}
    return tuple(h for h in HEADS if h not in applied)


def plan_review(
    ticket: TicketState,
    suggestions: tuple[Suggestion, ...],
    corrections: Mapping[str, str],
    actor: str,
    *,
    accept: tuple[str, ...] = (),
    decided: frozenset[str] = frozenset(),
    categories: frozenset[str] = frozenset(),
    policy: DeskPolicy | None = None,
    now: datetime | None = None,
) -> TicketUpdate:
    """L1's verdict on some heads: a correction sets a head, an accept takes its suggestion.

    Only the heads decided here are labelled (a label is what the next model learns from, so
    nothing is accepted silently); the ticket leaves the queue once every unsure head has been
    decided, now or before. Raises InvalidAction for an unknown head, an invalid value, or an
    accept of a head with no suggestion.
    """
    labels: dict[str, str] = {}
    suggested = {s.head: s.label for s in suggestions}
    for head in accept:
        if head not in HEADS:
            raise InvalidAction(f"unknown field {head!r}; the fields are {', '.join(HEADS)}")
        if head not in corrections:
            if not suggested.get(head):
                raise InvalidAction(f"nothing was suggested for {head}: give a value")
            labels[head] = str(suggested[head])
    for head, label in corrections.items():
        _check_label(head, label, categories)
        labels[head] = label
    if not labels:
        raise InvalidAction("nothing decided: accept a suggestion or give a value")
    waiting = set(unsure_heads(suggestions)) - decided - set(labels)
    fields: dict[str, object] = dict(labels, needs_review=bool(waiting))
    status = None
    if ticket.status == "new" and not waiting:
        fields["status"] = "open"
        status = ("new", "open", "reviewed by L1")
    kept = [h for h in labels if labels[h] == suggested.get(h)]
    changed = [f"{h}: {suggested.get(h)} -> {labels[h]}" for h in labels if h not in kept]
    detail = ("accepted " + ", ".join(kept) if kept else "") + (
        "; corrected " + ", ".join(changed) if changed else ""
    )
    return TicketUpdate(
        ticket_id=ticket.id,
        ref=ticket.ref,
        actor=actor,
        fields=tuple(fields.items()),
        status=status,
        decisions=tuple((h, labels[h], suggested.get(h)) for h in labels),
        events=(AuditEvent(action="reviewed", actor=actor, detail=detail.strip("; ")),),
        mails=_target_mails(ticket, labels, policy, now),
    )


def _check_label(head: str, value: str, categories: frozenset[str] = frozenset()) -> None:
    """Raises InvalidAction for an unknown head or a value outside its known classes (for
    category: the desk's categories, when it has a list); every label is 1 to MAX_LABEL
    printable characters, so none overflows its column or carries a control character."""
    if len(value) > MAX_LABEL or not value.isprintable() or not value.strip():
        raise InvalidAction(f"{head} must be 1 to {MAX_LABEL} printable characters")
    if head not in HEADS:
        raise InvalidAction(f"unknown field {head!r}; the fields are {', '.join(HEADS)}")
    if head == "kind" and value not in KINDS:
        raise InvalidAction(f"kind must be one of {', '.join(KINDS)}, not {value!r}")
    if head == "priority" and value not in PRIORITIES:
        raise InvalidAction(f"priority must be one of {', '.join(PRIORITIES)}, not {value!r}")
    if head == "category" and categories and value not in categories:
        raise InvalidAction(f"unknown category {value!r}; known: {', '.join(sorted(categories))}")


COMMAND_LINE = re.compile(r"#(" + "|".join(MAIL_COMMANDS) + r")\b(.*)", re.IGNORECASE | re.DOTALL)
_WROTE = re.compile(r"On .{0,200} wrote:", re.DOTALL)
MAX_LABEL = 64


def parse_agent_commands(text: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """Commands on lines of their own (`#resolve fixed the cable`), and the rest of the reply.

    Quoted history ('>' lines and everything after an 'On ... wrote:' line) is dropped from the
    rest, so the requester gets the agent's words, not our own mail back. Each line is stripped
    before an anchored match, so every pattern here runs in linear time.
    """
    commands = []
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith(">") or _WROTE.fullmatch(stripped):
            break
        found = COMMAND_LINE.match(stripped)
        if found:
            commands.append((found.group(1).lower(), found.group(2).strip()[:200]))
        else:
            kept.append(line)
    return tuple(commands), "\n".join(kept).strip()


def plan_agent_reply(
    ticket: TicketState,
    agent: str,
    text: str,
    policy: DeskPolicy,
    dossier: Dossier,
    now: datetime,
    *,
    allowed: frozenset[str] = frozenset(MAIL_COMMANDS),
    categories: frozenset[str] | None = None,
) -> TicketUpdate:
    """A verified agent answered a ticket mail: run its #commands, send the rest to the requester.

    Raises InvalidAction for a command the agent's tiers may not use by mail ([tiers.X]
    mail_commands) or a #category that is not one of `categories` (None: not checked).
    """
    commands, reply = parse_agent_commands(text)
    for name, argument in commands:
        if name not in allowed:
            raise InvalidAction(f"#{name} is not allowed by mail for {agent}")
        if name == "category" and categories is not None and argument not in categories:
            raise InvalidAction(f"unknown category {argument[:64]!r}")
    update = TicketUpdate(
        ticket_id=ticket.id,
        ref=ticket.ref,
        actor=agent,
        events=(
            AuditEvent(
                action="agent_reply",
                actor=agent,
                detail=" ".join(f"#{c}" for c, _ in commands) or "answer only",
            ),
        ),
    )
    current = ticket
    if reply:
        answer = _requester_mail(ticket, "agent_reply", "reply", reply=reply)
        fields: dict[str, object] = dict(_responded(ticket, now))
        status = None
        if ticket.status in ("new", "open"):
            fields["status"] = "in_progress"
            status = (ticket.status, "in_progress", "an agent answered")
        update = merge_updates(
            update,
            TicketUpdate(
                ticket_id=ticket.id,
                ref=ticket.ref,
                actor=agent,
                fields=tuple(fields.items()),
                status=status,
                mails=(answer,),
            ),
        )
        current = replace(
            ticket,
            status=str(fields.get("status", ticket.status)),
            first_response_at=ticket.first_response_at or now,
        )
    for name, argument in commands:
        step = _command(current, name, argument, agent, policy, dossier, now)
        update = merge_updates(update, step)
        current = _after(current, step)
    return update


def _command(
    ticket: TicketState,
    name: str,
    argument: str,
    agent: str,
    policy: DeskPolicy,
    dossier: Dossier,
    now: datetime,
) -> TicketUpdate:
    if name in PROACTIVE_COMMANDS or argument.startswith("--publish"):
        return plan_proactive_command(ticket, name, argument, agent, policy, now)
    if name in ("resolve", "pending", "close"):
        target = {"resolve": "resolved", "pending": "pending", "close": "closed"}[name]
        return plan_status(
            ticket,
            target,
            agent,
            f"#{name} by mail",
            now,
            note=argument,
            reopen_hours=policy.auto_close_after.total_seconds() / 3600,
        )
    if name == "escalate":
        return plan_escalation(ticket, agent, argument or "#escalate by mail", policy, dossier, now)
    if name == "assign":
        return plan_assign(ticket, argument.upper(), agent, "#assign by mail", policy, dossier, now)
    return plan_fields(
        ticket,
        {
            name: argument.upper()
            if name == "priority"
            else argument.lower()
            if name == "kind"
            else argument
        },
        agent,
        dossier.suggestions,
        policy=policy,
        now=now,
    )


PROACTIVE_COMMANDS = ("major", "update", "call", "solved")


def plan_proactive_command(
    ticket: TicketState, name: str, argument: str, agent: str, policy: DeskPolicy, now: datetime
) -> TicketUpdate:
    """#major accept|reject, #update TEXT, #call ..., #solved, #resolve --publish NOTE.

    What reaches beyond this ticket (the members of a major incident, a calendar invitation, the
    knowledge base) is returned as an effect, done by pipeline/jobs/proactive.py after the
    update is applied; the arguments are checked here, so a bad one is refused and audited.
    """
    from pipeline.stages.calls import parse_call

    base = TicketUpdate(ticket_id=ticket.id, ref=ticket.ref, actor=agent)
    hours = policy.auto_close_after.total_seconds() / 3600
    if name == "major":
        action = argument.strip().lower()
        if action not in ("accept", "reject"):
            raise InvalidAction("use #major accept or #major reject")
        return replace(base, effects=(("major", action),))
    if name == "update":
        if not argument.strip():
            raise InvalidAction(
                "#update needs the text to send, e.g. #update the vendor is on site"
            )
        return replace(base, effects=(("major_update", argument.strip()),))
    if name == "call":
        parse_call(argument, policy.sla.calendar.timezone)
        return replace(base, effects=(("call", argument.strip()),))
    if name == "solved":
        from pipeline.stages.first_diagnosis import plan_self_served

        solved = plan_self_served(ticket, agent, now, reopen_hours=hours)
        if solved is None:
            raise InvalidAction(f"{ticket.ref} is {ticket.status}: cannot be resolved")
        return solved
    note = argument.removeprefix("--publish").strip()
    if name != "resolve" or not note:
        raise InvalidAction("use #resolve --publish NOTE (the note becomes a known fix)")
    update = plan_status(
        ticket, "resolved", agent, "#resolve by mail", now, note=note, reopen_hours=hours
    )
    return replace(update, effects=(("publish", note),))


def _after(ticket: TicketState, update: TicketUpdate) -> TicketState:
    """The ticket as the next command sees it."""
    values = {
        k: v
        for k, v in update.fields
        if k in ("status", "tier", "priority", "kind", "category", "first_response_at")
    }
    return replace(ticket, **values)  # type: ignore[arg-type]


def plan_sla_step(
    ticket: TicketState, action: SlaAction, policy: DeskPolicy, dossier: Dossier, now: datetime
) -> TicketUpdate:
    """Act on a warning (mail the tier) or a breach (record it, escalate one tier)."""
    what = "first response" if action.clock == "first_response" else "resolution"
    zone = policy.sla.calendar.timezone
    marker = TicketUpdate(
        ticket_id=ticket.id,
        ref=ticket.ref,
        actor="sla",
        sla_event=(action.clock, action.kind, action.tier),
        events=(
            AuditEvent(
                action=f"sla_{action.kind}",
                actor="sla",
                detail=f"{what} due {local_time(action.due, zone)} ({action.tier})",
            ),
        ),
    )
    if action.kind == "warning" or action.escalate_to is None:  # tell the tier that has it
        info = policy.tiers[action.tier]
        mail = MailIntent(
            template="sla_warning",
            to=(info.group,),
            purpose=f"{'warn' if action.kind == 'warning' else 'missed'}-{action.clock}-{action.tier}",
            context=(
                ("ticket", _summary(ticket, zone)),
                ("what", what),
                ("due", local_time(action.due, zone)),
                ("missed", action.kind == "breach"),
                ("escalates", policy.sla.escalates(action.clock, ticket.priority)),
            ),
            locale="en",
        )
        return replace(marker, mails=(mail,))
    return merge_updates(
        marker,
        plan_assign(
            ticket, action.escalate_to, "sla", f"{what} target missed", policy, dossier, now
        ),
    )


def plan_auto_close(ticket: TicketState, policy: DeskPolicy, now: datetime) -> TicketUpdate | None:
    """Close a resolved ticket after the quiet period, or None while it is not due."""
    if ticket.status != "resolved" or ticket.resolved_at is None:
        return None
    if now - ticket.resolved_at < policy.auto_close_after:
        return None
    return plan_status(
        ticket,
        "closed",
        "tiket",
        "no reply after resolution",
        now,
        note="closed automatically: no reply after resolution",
    )


def clock_facts(ticket: TicketState) -> ClockFacts:
    """The SLA clocks' view of a ticket (breach suspects run on P1 clocks)."""
    priority = "P1" if ticket.breach_suspected else ticket.priority
    return ClockFacts(
        created_at=ticket.created_at,
        priority=priority,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at,
        changes=ticket.changes,
    )


def _rank(tier: str) -> int:
    return TIERS.index(tier) if tier in TIERS else 0


def _summary(ticket: TicketState, zone: str) -> dict[str, object]:
    return {
        "ref": ticket.ref,
        "subject": ticket.subject,
        "requester": ticket.requester,
        "requester_name": ticket.requester_name,
        "status": ticket.status,
        "tier": ticket.tier,
        "priority": ticket.priority or "-",
        "kind": ticket.kind or "-",
        "category": ticket.category or "-",
        "created": local_time(ticket.created_at, zone),
        "breach_suspected": ticket.breach_suspected,
    }


def _dossier_context(
    ticket: TicketState,
    dossier: Dossier,
    views: Mapping[str, ClockView],
    zone: str,
    reason: str,
    tier_name: str,
) -> tuple[tuple[str, object], ...]:
    clocks = tuple(
        {
            "name": "first response" if c == "first_response" else "resolution",
            "due": local_time(v.due, zone),
            "state": v.state.upper() if v.breached else v.state,
            "left": _hours(v.remaining),
        }
        for c, v in views.items()
    )
    return (
        ("ticket", _summary(ticket, zone)),
        ("reason", reason),
        ("tier_name", tier_name),
        (
            "suggestions",
            tuple(
                {
                    "head": s.head,
                    "label": s.label or "-",
                    "confidence": f"{s.confidence:.0%}",
                    "applied": s.applied,
                }
                for s in dossier.suggestions
            ),
        ),
        ("clocks", clocks),
        (
            "conversation",
            tuple(
                {"at": at, "direction": d, "sender": who, "body": body[:3000]}
                for at, d, who, body in dossier.conversation[-10:]
            ),
        ),
        (
            "similar",
            tuple(
                {
                    "ref": s.ref,
                    "subject": s.subject,
                    "score": f"{s.score:.2f}",
                    "note": s.resolution_note,
                }
                for s in dossier.similar
            ),
        ),
    )


def _hours(value: timedelta) -> str:
    hours = value.total_seconds() / 3600
    return f"{hours:.1f} h" if hours >= 0 else f"{-hours:.1f} h over"
