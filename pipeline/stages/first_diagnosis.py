"""First diagnosis: the acknowledgement's troubleshooting questions, known fixes, breach steps, #solved (pure)

The acknowledgement of a new ticket carries, in this order of precedence: for a suspected breach,
the breach policy's first steps for the user (and nothing else); for a ticket of an accepted major
incident, the known-problem notice; otherwise the diagnosis questions of its category (only when
triage applied the category: never a guess) and up to a few known fixes. The requester answering
`#solved` (Malay `#selesai`) on a line of its own resolves the ticket as self-served.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from pipeline.records import AuditEvent, IntakePlan, MailIntent, TicketState, TicketUpdate
from pipeline.stages.known_fixes import FixMatch
from pipeline.stages.lifecycle import can_transition, merge_updates, plan_status
from pipeline.vocabulary import DEFAULT_CATEGORIES as DIAGNOSIS_CATEGORIES

SOLVED_LINE = re.compile(r"^\s*#(solved|selesai)\b", re.IGNORECASE)


def diagnosis_key(category: str | None) -> str | None:
    """The diagnosis template of an applied category, or None (unknown or custom category)."""
    if not category:
        return None
    key = category.strip().lower().replace(" ", "_").replace("-", "_")
    return key if key in DIAGNOSIS_CATEGORIES else None


def shape_acknowledgement(
    plan: IntakePlan,
    *,
    fixes: tuple[FixMatch, ...] = (),
    breach_steps: tuple[str, ...] = (),
    known_problem: tuple[str, str] | None = None,
) -> IntakePlan:
    """The plan with its acknowledgement enriched (a plan without one is returned as it is).

    `known_problem` is (parent ref, parent subject) of an accepted major incident: the ticket
    skips L1 review and the mail says the problem is known and being worked on.
    """
    ticket = plan.new_ticket
    if ticket is None:
        return plan
    breach = ticket.breach_suspected
    diagnosis = None if (breach or known_problem) else diagnosis_key(ticket.category)
    extra: dict[str, object] = {
        "kind": ticket.kind,
        "diagnosis": diagnosis,
        "known_fixes": ()
        if (breach or known_problem)
        else tuple(
            {"title": f.fix.title, "summary": f.fix.summary, "source": f.fix.source} for f in fixes
        ),
        "breach_steps": breach_steps if breach else (),
        "known_problem": None
        if known_problem is None or breach
        else {"ref": known_problem[0], "subject": known_problem[1]},
    }
    mails = tuple(
        replace(m, context=_with(m, extra)) if m.template == "acknowledgement" else m
        for m in plan.mails
    )
    events = plan.events
    if extra["known_problem"] is not None:
        ticket = replace(ticket, needs_review=False)
        events = tuple(e for e in events if e.action != "review_queued") + (
            AuditEvent(action="major_matched", detail=f"known problem {known_problem[0]}"),  # type: ignore[index]
        )
    elif diagnosis or fixes:
        shown = [f"diagnosis={diagnosis}"] if diagnosis else []
        shown += [f"fix={f.fix.source}:{f.fix.key}({f.score:.2f})" for f in fixes]
        if plan.mails and not breach:
            events = events + (AuditEvent(action="first_diagnosis", detail=" ".join(shown)),)
    return replace(plan, new_ticket=ticket, mails=mails, events=events)


def _with(intent: MailIntent, extra: dict[str, object]) -> tuple[tuple[str, object], ...]:
    context = dict(intent.context)
    context.update(extra)
    return tuple(context.items())


def says_solved(text: str) -> bool:
    """True when a reply has `#solved` or `#selesai` on a line of its own, above any quote."""
    for line in text.splitlines():
        if line.startswith(">") or re.match(r"^\s*On .{0,200} wrote:\s*$", line):
            return False
        if SOLVED_LINE.match(line):
            return True
    return False


def plan_self_served(
    ticket: TicketState, actor: str, now: datetime, *, reopen_hours: float
) -> TicketUpdate | None:
    """Resolve a ticket the requester solved themselves, or None when it cannot be resolved now."""
    if not can_transition(ticket.status, "resolved"):
        return None
    note = "Solved by the requester (#solved) with the first-diagnosis steps or a known fix."
    update = plan_status(
        ticket, "resolved", actor, "self-served", now, note=note, reopen_hours=reopen_hours
    )
    served = TicketUpdate(
        ticket_id=ticket.id,
        ref=ticket.ref,
        actor=actor,
        fields=(("needs_review", False),),
        events=(AuditEvent(action="self_served", actor=actor, detail="#solved"),),
    )
    return merge_updates(update, served)
