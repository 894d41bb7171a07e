"""Review (skin, terminal): the L1 queue of tickets whose suggestions were not applied, oldest first.

One key per decision: [a]ccept the suggestions, correct [k]ind, [c]ategory or [p]riority,
[e]scalate, [s]kip, [q]uit. Every decision is stored next to the original suggestion (a label the
next model learns from).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from pipeline.errors import InvalidAction
from pipeline.jobs.desk import Desk

if TYPE_CHECKING:
    from pipeline.app import Tiket
from pipeline.records import TicketState
from pipeline.vocabulary import KINDS, PRIORITIES

Ask = Callable[[str], str]


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
    app: Tiket,
    agent: str,
    ask: Ask,
    out: TextIO,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """The interactive loop; returns how many tickets were decided."""
    desk = app.desk
    queue = app.store.review_queue()
    decided = 0
    if not queue:
        print("The review queue is empty.", file=out)
        return 0
    for number, ticket_id in enumerate(queue, start=1):
        item = app.review_item(ticket_id, similar=True)
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
