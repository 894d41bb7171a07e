"""Review (EDGE, terminal): the L1 queue of tickets whose suggestions were not applied, oldest first.

One key per decision: [a]ccept the suggestions, correct [k]ind, [c]ategory or [p]riority,
[e]scalate, [s]kip, [q]uit. Every decision is stored next to the original suggestion (a label the
next model learns from).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from pipeline.errors import InvalidAction
from pipeline.jobs.desk import Desk
from pipeline.records import TicketState
from pipeline.stages.lifecycle import KINDS, PRIORITIES

Ask = Callable[[str], str]


def review_item(desk: Desk, ticket_id: int) -> dict[str, object]:
    """One queue entry as JSON-ready data (for `review list --json` and the screen)."""
    ticket = desk.store.ticket_state(ticket_id)
    dossier = desk.dossier(ticket)
    body = dossier.conversation[0][3] if dossier.conversation else ""
    return {
        "ref": ticket.ref,
        "subject": ticket.subject,
        "requester": ticket.requester,
        "created_at": ticket.created_at.isoformat(timespec="seconds"),
        "status": ticket.status,
        "breach_suspected": ticket.breach_suspected,
        "current": {"kind": ticket.kind, "category": ticket.category, "priority": ticket.priority},
        "suggestions": [
            {
                "head": s.head,
                "label": s.label,
                "confidence": round(s.confidence, 4),
                "applied": s.applied,
            }
            for s in dossier.suggestions
        ],
        "similar": [
            {
                "ref": s.ref,
                "subject": s.subject,
                "score": round(s.score, 3),
                "resolution_note": s.resolution_note,
            }
            for s in dossier.similar
        ],
        "body": body,
    }


def show(item: dict[str, object], out: TextIO, position: str) -> None:
    """Print one ticket of the queue."""
    print(f"\n{'=' * 72}\n{position}  {item['ref']}  {item['subject']}", file=out)
    print(
        f"from {item['requester']}  received {item['created_at']}"
        f"{'   ** SUSPECTED DATA BREACH **' if item['breach_suspected'] else ''}",
        file=out,
    )
    print("-" * 72, file=out)
    print(
        textwrap.shorten(str(item["body"]), 1200, placeholder=" [...]")
        if len(str(item["body"])) > 1200
        else item["body"],
        file=out,
    )
    print("-" * 72, file=out)
    for s in item["suggestions"]:  # type: ignore[attr-defined]
        state = "applied" if s["applied"] else "unsure "
        print(f"  {s['head']:9s} {str(s['label']):24s} {s['confidence']:5.0%}  {state}", file=out)
    if not item["suggestions"]:
        print("  no suggestions (no model answered)", file=out)
    for s in item["similar"]:  # type: ignore[attr-defined]
        print(
            f"  similar {s['ref']} ({s['score']:.2f}) {s['subject']}\n"
            f"          resolved: {s['resolution_note'][:150]}",
            file=out,
        )


def run_review(
    desk: Desk,
    agent: str,
    ask: Ask,
    out: TextIO,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """The interactive loop; returns how many tickets were decided."""
    queue = desk.store.review_queue()
    decided = 0
    if not queue:
        print("The review queue is empty.", file=out)
        return 0
    for number, ticket_id in enumerate(queue, start=1):
        item = review_item(desk, ticket_id)
        show(item, out, f"[{number}/{len(queue)}]")
        while True:
            key = ask("[a]ccept  [k]ind  [c]ategory  [p]riority  [e]scalate  [s]kip  [q]uit > ")
            key = key.strip().lower()[:1]
            if key == "q":
                return decided
            if key == "s":
                break
            try:
                if _decide(desk, str(item["ref"]), key, agent, ask, clock()):
                    decided += 1
                    print(f"  saved {item['ref']}", file=out)
                    break
            except InvalidAction as exc:
                print(f"  {exc}", file=out)
    print(f"Done: {decided} decided.", file=out)
    return decided


def _decide(desk: Desk, ref: str, key: str, agent: str, ask: Ask, now: datetime) -> bool:
    if key == "a":
        desk.review(ref, {}, agent, now)
        return True
    if key == "e":
        desk.review(ref, {}, agent, now)
        desk.escalate(ref, agent, "escalated from L1 review", now)
        return True
    head = {"k": "kind", "c": "category", "p": "priority"}.get(key)
    if head is None:
        return False
    choices = {"kind": "/".join(KINDS), "priority": "/".join(PRIORITIES)}.get(head, "any name")
    value = ask(f"  {head} ({choices}) > ").strip()
    if not value:
        return False
    if head == "priority":
        value = value.upper()
    desk.review(ref, {head: value.lower() if head == "kind" else value}, agent, now)
    return True


def state_line(ticket: TicketState) -> str:
    """A one-line summary used in CLI confirmations."""
    return (
        f"{ticket.ref} {ticket.status} {ticket.tier} {ticket.priority or '-'} "
        f"{ticket.kind or '-'} {ticket.category or '-'}"
    )
