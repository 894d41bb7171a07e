"""Majors: what a major incident's candidacy, acceptance, rejection, updates and resolution change (pure)

Each planner returns the TicketUpdate of one ticket (the parent or one member), like the
lifecycle planners; pipeline/jobs/major_incident.py loads the tickets, applies the updates and
keeps the major-incident rows. The parent runs on P1 clocks at L3 once accepted; members skip L1
review and their own SLA steps, hear once that the problem is known, hear every status update
and are resolved with the parent's note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from pipeline.records import AuditEvent, MailIntent, TicketState, TicketUpdate
from pipeline.stages.lifecycle import local_time, plan_status


def plan_candidate(
    parent: TicketState,
    members: Sequence[TicketState],
    *,
    to: tuple[str, ...],  # the L3 group first, then the managers
    signature: str,
    expected: float,
    zone: str,
    now: datetime,
) -> TicketUpdate:
    """The new parent: one alert to L3 and the managers, a note listing the members."""
    first = min(m.created_at for m in members)
    rows = tuple(
        {
            "ref": m.ref,
            "requester": m.requester,
            "subject": m.subject,
            "created": local_time(m.created_at, zone),
        }
        for m in members
    )
    alert = MailIntent(
        template="major_alert",
        to=to[:1],
        purpose="major-alert",
        context=(
            ("subject", parent.subject),
            ("members", rows),
            ("requesters", len({m.requester for m in members})),
            ("signature", signature),
            ("category", parent.category or "-"),
            ("first_seen", local_time(first, zone)),
            ("detected", local_time(now, zone)),
            ("minutes", round((now - first).total_seconds() / 60)),
            ("expected", f"{expected:.1f}"),
        ),
        locale="en",
    )
    # one mail per audience: L3's, whose replies carry #major (a reply token is issued to the
    # recipients of one mail), and the managers' (who are told, and decide nothing by mail)
    alerts = (alert,) + (
        (replace(alert, to=to[1:], purpose="major-alert-managers"),) if to[1:] else ()
    )
    listing = "\n".join(
        f"{r['ref']}  {r['created']}  {r['requester']}: {r['subject']}" for r in rows
    )
    return TicketUpdate(
        ticket_id=parent.id,
        ref=parent.ref,
        actor="tiket",
        events=(
            AuditEvent(
                action="major_candidate",
                detail=f"{len(rows)} similar incidents from {alert.context[2][1]} requesters "
                f"since {local_time(first, zone)}; words: {signature[:200]}",
            ),
        ),
        mails=alerts,
        note=("note", f"Major-incident candidate. Members:\n{listing}"),
    )


def plan_member_linked(ticket_id: int, ref: str, parent_ref: str, how: str) -> TicketUpdate:
    """A ticket joins a major incident (audit only; the mail comes on acceptance)."""
    return TicketUpdate(
        ticket_id=ticket_id,
        ref=ref,
        actor="tiket",
        events=(AuditEvent(action="major_linked", detail=f"member of {parent_ref} ({how})"),),
    )


def plan_accept(parent: TicketState, actor: str) -> TicketUpdate:
    """The parent becomes the major incident: P1, L3, open."""
    status = (parent.status, "open", "major incident accepted") if parent.status == "new" else None
    fields: tuple[tuple[str, object], ...] = (("priority", "P1"), ("tier", "L3"))
    if status:
        fields += (("status", "open"),)
    return TicketUpdate(
        ticket_id=parent.id,
        ref=parent.ref,
        actor=actor,
        fields=fields,
        status=status,
        events=(AuditEvent(action="major_accepted", actor=actor, detail="P1 at L3"),),
    )


def plan_known_problem(
    member: TicketState, parent: TicketState, actor: str, *, tell: bool
) -> TicketUpdate:
    """A member of an accepted major incident: no L1 review; its requester hears (once) that the
    problem is known and being worked on."""
    mails: tuple[MailIntent, ...] = ()
    if tell:
        refs = (member.last_message_id,) if member.last_message_id else ()
        mails = (
            MailIntent(
                template="known_problem",
                to=(member.requester,),
                purpose="known-problem",
                context=(
                    ("subject", member.subject),
                    ("requester_name", member.requester_name),
                    ("parent_ref", parent.ref),
                    ("parent_subject", parent.subject),
                ),
                in_reply_to=member.last_message_id,
                references=refs,
                locale=member.language,
            ),
        )
    return TicketUpdate(
        ticket_id=member.id,
        ref=member.ref,
        actor=actor,
        fields=(("needs_review", False),),
        events=(
            AuditEvent(
                action="major_member",
                actor=actor,
                detail=f"part of major incident {parent.ref}"
                + ("; requester told it is a known problem" if tell else ""),
            ),
        ),
        mails=mails,
    )


def plan_reject(
    parent: TicketState, actor: str, now: datetime, suppress_until: datetime, zone: str
) -> TicketUpdate:
    """Not a major incident: the parent closes quietly; the pattern rests until `suppress_until`."""
    return TicketUpdate(
        ticket_id=parent.id,
        ref=parent.ref,
        actor=actor,
        fields=(("status", "closed"), ("closed_at", now), ("resolution_note", "rejected")),
        status=(parent.status, "closed", "major-incident candidate rejected"),
        events=(
            AuditEvent(
                action="major_rejected",
                actor=actor,
                detail=f"members go on as ordinary tickets; not proposed again before "
                f"{local_time(suppress_until, zone)}",
            ),
        ),
    )


def plan_broadcast(member: TicketState, parent: TicketState, text: str, actor: str) -> TicketUpdate:
    """A status update of the parent, mailed to one member's requester."""
    refs = (member.last_message_id,) if member.last_message_id else ()
    return TicketUpdate(
        ticket_id=member.id,
        ref=member.ref,
        actor=actor,
        events=(AuditEvent(action="major_update_sent", actor=actor, detail=f"from {parent.ref}"),),
        mails=(
            MailIntent(
                template="major_update",
                to=(member.requester,),
                purpose="major-update",
                context=(
                    ("subject", member.subject),
                    ("requester_name", member.requester_name),
                    ("parent_ref", parent.ref),
                    ("parent_subject", parent.subject),
                    ("update", text),
                ),
                in_reply_to=member.last_message_id,
                references=refs,
                locale=member.language,
            ),
        ),
    )


def plan_update_note(parent: TicketState, text: str, actor: str, recipients: int) -> TicketUpdate:
    """The update as written on the parent (conversation and audit)."""
    return TicketUpdate(
        ticket_id=parent.id,
        ref=parent.ref,
        actor=actor,
        events=(
            AuditEvent(
                action="major_update",
                actor=actor,
                detail=f"sent to {recipients} requester(s): {text[:200]}",
            ),
        ),
        note=("note", f"Status update: {text}"),
    )


def plan_member_resolved(
    member: TicketState,
    parent: TicketState,
    note: str,
    actor: str,
    now: datetime,
    *,
    reopen_hours: float,
) -> TicketUpdate | None:
    """Resolve a member with the parent's note (None when it is already resolved or closed)."""
    if member.status in ("resolved", "closed"):
        return None
    update = plan_status(
        member,
        "resolved",
        actor,
        f"major incident {parent.ref} resolved",
        now,
        note=note,
        reopen_hours=reopen_hours,
    )
    return update
