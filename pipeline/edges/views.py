"""Views: read-only queries that the CLI shows (tickets, inbound mail, quarantine, outbox) as dicts.

Every dict is JSON-ready (times as ISO 8601 UTC strings); these are the CLI's --json contract.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from peewee import fn

from pipeline.edges import models as m
from pipeline.edges.store import outbox_recipients
from pipeline.errors import NotFound


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def ticket_dict(ticket: m.Ticket, message_count: int) -> dict[str, Any]:
    """The JSON form of a ticket (the contract of `tiket tickets list/show --json`)."""
    return {
        "ref": ticket.ref,
        "subject": ticket.subject,
        "requester": ticket.requester,
        "requester_name": ticket.requester_name,
        "status": ticket.status,
        "kind": ticket.kind,
        "category": ticket.category,
        "priority": ticket.priority,
        "tier": ticket.tier,
        "breach_suspected": ticket.breach_suspected,
        "needs_review": ticket.needs_review,
        "mailbox": ticket.mailbox,
        "language": ticket.language,
        "linked_to": ticket.linked_to.ref if ticket.linked_to_id else None,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "messages": message_count,
    }


def list_tickets(
    status: str | None = None, tier: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Tickets, newest first, optionally filtered by status and tier."""
    counts = m.Message.select(m.Message.ticket, fn.COUNT(m.Message.id).alias("n")).group_by(
        m.Message.ticket
    )
    query = m.Ticket.select().order_by(m.Ticket.id.desc()).limit(limit)
    if status:
        query = query.where(m.Ticket.status == status)
    if tier:
        query = query.where(m.Ticket.tier == tier)
    tickets = list(query)
    ids = [t.id for t in tickets]
    number = (
        {
            row.ticket_id: row.n  # type: ignore[attr-defined]  # the COUNT alias
            for row in counts.where(m.Message.ticket.in_(ids))
        }
        if ids
        else {}
    )
    return [ticket_dict(t, number.get(t.id, 0)) for t in tickets]


def show_ticket(ref: str) -> dict[str, Any]:
    """One ticket with its conversation, suggestions, attachments and audit trail."""
    ticket = m.Ticket.get_or_none(m.Ticket.ref == ref.upper())
    if ticket is None:
        raise NotFound(f"no ticket {ref}")
    messages = list(ticket.messages.order_by(m.Message.id))
    data = ticket_dict(ticket, len(messages))
    data["participants"] = [{"address": p.address, "role": p.role} for p in ticket.participants]
    data["conversation"] = [
        {
            "direction": msg.direction,
            "from": msg.sender,
            "subject": msg.subject,
            "message_id": msg.message_id,
            "at": _iso(msg.created_at),
            "body": msg.body,
            "attachments": [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "sha256": a.sha256,
                }
                for a in msg.attachments
            ],
        }
        for msg in messages
    ]
    data["suggestions"] = [
        {
            "head": s.head,
            "label": s.label,
            "confidence": round(s.confidence, 4),
            "applied": s.applied,
            "model_version": s.model_version,
        }
        for s in ticket.suggestions
    ]
    data["events"] = [
        {"at": _iso(e.created_at), "action": e.action, "actor": e.actor, "detail": e.detail}
        for e in ticket.events.order_by(m.AuditRow.id)
    ]
    data["outbox"] = [
        {"message_id": o.message_id, "template": o.template, "status": o.status}
        for o in ticket.outbox.order_by(m.OutboxRow.id)
    ]
    return data


def list_inbound(limit: int = 10000) -> list[dict[str, Any]]:
    """Every received mail and what became of it, oldest first."""
    rows = list(
        m.Inbound.select(
            m.Inbound.id,
            m.Inbound.mailbox,
            m.Inbound.uid,
            m.Inbound.uidvalidity,
            m.Inbound.message_id,
            m.Inbound.state,
            m.Inbound.disposition,
            m.Inbound.rule,
            m.Inbound.ticket,
            m.Inbound.acknowledged,
            m.Inbound.attempts,
            m.Inbound.received_at,
            m.Inbound.on_server,
        )
        .order_by(m.Inbound.id)
        .limit(limit)
    )
    ticket_ids = {r.ticket_id for r in rows if r.ticket_id}
    refs = (
        {
            t.id: t.ref
            for t in m.Ticket.select(m.Ticket.id, m.Ticket.ref).where(m.Ticket.id.in_(ticket_ids))
        }
        if ticket_ids
        else {}
    )
    return [
        {
            "id": r.id,
            "mailbox": r.mailbox,
            "uid": r.uid,
            "uidvalidity": r.uidvalidity,
            "message_id": r.message_id,
            "disposition": "quarantined" if r.state == "quarantined" else r.disposition,
            "rule": r.rule,
            "ticket": refs.get(r.ticket_id or 0),
            "acknowledged": r.acknowledged,
            "attempts": r.attempts,
            "received_at": _iso(r.received_at),
            "on_server": r.on_server,
        }
        for r in rows
    ]


def list_quarantine() -> list[dict[str, Any]]:
    """Quarantined mails, oldest first."""
    rows = m.Inbound.select().where(m.Inbound.state == "quarantined").order_by(m.Inbound.id)
    return [
        {
            "id": r.id,
            "mailbox": r.mailbox,
            "uid": r.uid,
            "message_id": r.message_id,
            "stage": r.stage,
            "reason": r.reason,
            "attempts": r.attempts,
            "size": r.size,
            "received_at": _iso(r.received_at),
        }
        for r in rows
    ]


def show_quarantine(inbound_id: int) -> dict[str, Any]:
    """One quarantined mail with its traceback and the start of its raw bytes."""
    row = m.Inbound.get_or_none((m.Inbound.id == inbound_id) & (m.Inbound.state == "quarantined"))
    if row is None:
        raise NotFound(f"no quarantined mail with id {inbound_id}")
    data = {
        "id": row.id,
        "mailbox": row.mailbox,
        "uid": row.uid,
        "message_id": row.message_id,
        "stage": row.stage,
        "reason": row.reason,
        "attempts": row.attempts,
        "sha256": row.sha256,
        "size": row.size,
        "traceback": row.traceback,
    }
    stored = m.InboundRaw.get_or_none(m.InboundRaw.inbound == row.id)
    data["headers"] = (
        bytes(stored.raw if stored else b"")[:4096]
        .split(b"\n\n")[0]
        .split(b"\r\n\r\n")[0]
        .decode("utf-8", "replace")
    )
    return data


def list_outbox(limit: int = 10000) -> list[dict[str, Any]]:
    """Outbox rows, oldest first."""
    rows = m.OutboxRow.select().order_by(m.OutboxRow.id).limit(limit)
    return [
        {
            "id": r.id,
            "message_id": r.message_id,
            "to": outbox_recipients(r.recipients),
            "subject": r.subject,
            "template": r.template,
            "status": r.status,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "next_attempt_at": _iso(r.next_attempt_at),
            "sent_at": _iso(r.sent_at),
        }
        for r in rows
    ]
