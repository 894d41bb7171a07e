"""Agent actions: pure planners for what the console and the CLI add to the lifecycle (pure)

Replying, internal notes, assigning one agent, merging a duplicate, sign-in mails and canned
replies. Each planner returns a TicketUpdate (or a MailIntent) that the desk renders and the
store applies in one transaction, exactly like lifecycle.py's planners.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from pipeline.errors import InvalidAction
from pipeline.records import AuditEvent, MailIntent, TicketState, TicketUpdate
from pipeline.stages.lifecycle import _requester_mail, _responded
from pipeline.vocabulary import OPEN_STATES

MAX_TEXT = 20000
"""Longest reply or note an agent may send (a pasted log belongs in an attachment)."""


def _text(kind: str, text: str) -> str:
    body = text.strip()
    if not body:
        raise InvalidAction(f"a {kind} needs some text")
    if len(body) > MAX_TEXT:
        raise InvalidAction(f"a {kind} is at most {MAX_TEXT} characters")
    return body


def plan_reply(ticket: TicketState, agent: str, text: str, now: datetime) -> TicketUpdate:
    """Answer the requester: the mail is threaded on the ticket's last message, the answer joins
    the conversation, the first answer stops the first-response clock, new/open -> in progress."""
    body = _text("reply", text)
    if ticket.status == "closed":
        raise InvalidAction(f"{ticket.ref} is closed: a reply cannot reach it")
    fields: dict[str, object] = dict(_responded(ticket, now))
    status = None
    if ticket.status in ("new", "open"):
        fields["status"] = "in_progress"
        status = (ticket.status, "in_progress", "an agent answered")
    return TicketUpdate(
        ticket_id=ticket.id,
        ref=ticket.ref,
        actor=agent,
        fields=tuple(fields.items()),
        status=status,
        events=(AuditEvent(action="replied", actor=agent, detail=body[:200]),),
        mails=(_requester_mail(ticket, "agent_reply", "reply", reply=body),),
        note=("out", body),
    )


def plan_note(ticket: TicketState, agent: str, text: str) -> TicketUpdate:
    """An internal note: kept in the conversation for the desk, never mailed to anyone."""
    body = _text("note", text)
    return TicketUpdate(
        ticket_id=ticket.id,
        ref=ticket.ref,
        actor=agent,
        events=(AuditEvent(action="note_added", actor=agent, detail=body[:200]),),
        note=("note", body),
    )


def plan_assign_agent(
    ticket: TicketState, agent: str, actor: str, agents: Mapping[str, str]
) -> TicketUpdate:
    """Give a ticket to one agent (`agents`: address -> their tier). An agent of another tier
    takes the ticket into that tier (use assign-to-tier first when the tier should be told)."""
    address = agent.strip().lower()
    if address not in agents:
        raise InvalidAction(f"{agent!r} is not an agent (a member of a [tiers.*] section)")
    if ticket.status not in OPEN_STATES:
        raise InvalidAction(f"{ticket.ref} is {ticket.status}: reopen it first")
    if ticket.assignee == address:
        raise InvalidAction(f"{ticket.ref} is already assigned to {address}")
    fields: dict[str, object] = {"assignee": address}
    tier = agents[address]
    if tier and tier != ticket.tier:
        fields["tier"] = tier
    return TicketUpdate(
        ticket_id=ticket.id,
        ref=ticket.ref,
        actor=actor,
        fields=tuple(fields.items()),
        events=(
            AuditEvent(
                action="assigned_agent",
                actor=actor,
                detail=f"{ticket.assignee or '-'} -> {address}"
                + (f" ({ticket.tier} -> {tier})" if "tier" in fields else ""),
            ),
        ),
    )


def plan_merge(source: TicketState, target: TicketState, actor: str, now: datetime) -> TicketUpdate:
    """Merge a duplicate into another ticket: its messages and participants move over, it is
    closed with a note, and its requester is told where their request now lives."""
    if source.id == target.id:
        raise InvalidAction("a ticket cannot be merged into itself")
    if source.status == "closed":
        raise InvalidAction(f"{source.ref} is closed")
    if target.status == "closed":
        raise InvalidAction(f"{target.ref} is closed: merge into an open ticket")
    note = f"merged into {target.ref}"
    mail = _requester_mail(
        source, "merged", "merged", target_ref=target.ref, target_subject=target.subject
    )
    # the requester answers on the ticket that carries the work from now on
    mail = replace(mail, context=(*mail.context, ("ref_now", target.ref)))
    return TicketUpdate(
        ticket_id=source.id,
        ref=source.ref,
        actor=actor,
        fields=(
            ("status", "closed"),
            ("closed_at", now),
            ("resolution_note", note),
            ("needs_review", False),
        ),
        status=(source.status, "closed", note),
        events=(AuditEvent(action="merged", actor=actor, detail=f"into {target.ref}"),),
        mails=(mail,),
        merge_into=target.id,
        merge_events=(
            AuditEvent(
                action="merged_in", actor=actor, detail=f"{source.ref}: {source.subject[:120]}"
            ),
        ),
    )


def sign_in_mail(address: str, link: str, minutes: int) -> MailIntent:
    """The one-time sign-in link for an agent."""
    return MailIntent(
        template="sign_in",
        to=(address,),
        purpose="sign-in",
        context=(("link", link), ("minutes", minutes), ("address", address)),
        locale="en",
    )


class _Placeholders(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"  # an unknown placeholder stays visible for the agent to fix


def fill_canned(body: str, values: Mapping[str, str]) -> str:
    """A canned reply with its {placeholders} filled; unknown ones are left as written."""
    try:
        return string.Formatter().vformat(body, (), _Placeholders(values))
    except (ValueError, IndexError):  # a stray brace: show the template as written
        return body
