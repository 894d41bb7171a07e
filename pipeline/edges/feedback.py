"""Feedback (EDGE): L1's decisions as training rows, so every correction teaches the next model.

One row per reviewed ticket in the training CSV format (subject, body, type, category, priority,
weight): the latest decision per head wins; the body is the ticket's first inbound mail.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pipeline.edges import models as m
from pipeline.edges.store import open_database

COLUMNS = ("subject", "body", "type", "category", "priority", "weight", "group")


def feedback_rows(weight: float) -> list[dict[str, Any]]:
    """The desk's own labels, newest decision per ticket and head, with the given weight."""
    labels: dict[int, dict[str, str]] = {}
    for decision in m.Decision.select().order_by(m.Decision.id):
        labels.setdefault(decision.ticket_id, {})[decision.head] = decision.label
    if not labels:
        return []
    bodies: dict[int, str] = {}
    for message in (
        m.Message.select(m.Message.ticket, m.Message.body)
        .where(m.Message.ticket.in_(list(labels)) & (m.Message.direction == "in"))
        .order_by(m.Message.id)
    ):
        bodies.setdefault(message.ticket_id, message.body)
    rows = []
    for ticket in m.Ticket.select(m.Ticket.id, m.Ticket.subject).where(
        m.Ticket.id.in_(list(labels))
    ):
        heads = labels[ticket.id]
        rows.append(
            {
                "subject": ticket.subject,
                "body": bodies.get(ticket.id, ""),
                "type": heads.get("kind", ""),
                "category": heads.get("category", ""),
                "priority": heads.get("priority", ""),
                "weight": weight,
                "group": f"feedback-{ticket.id}",
            }
        )
    return rows


def write_feedback_csv(settings: Any, path: Path, weight: float) -> int:
    """Write the feedback rows to a CSV file; returns how many rows were written.

    `settings` is pipeline's Settings (typed Any: classifiers passes its own protocol view of it).
    """
    open_database(settings)
    rows = feedback_rows(weight)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
