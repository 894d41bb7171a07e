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

if TYPE_CHECKING:
    from pipeline.app import Tiket
from pipeline.records import TicketState
from pipeline.stages.lifecycle import unsure_heads
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
    """The interactive loop; returns how many tickets were decided. Ctrl-C or Ctrl-D stops it
    cleanly (what was saved stays saved)."""
    queue = app.store.review_queue()
    decided = 0
    if not queue:
        print("The review queue is empty.", file=out)
        return 0
    for number, ticket_id in enumerate(queue, start=1):
        item = app.review_item(ticket_id, similar=True)
        show(item, out, f"[{number}/{len(queue)}]")
        try:
            outcome = _review_one(app, str(item["ref"]), agent, ask, out, clock)
        except (EOFError, KeyboardInterrupt):
            print(f"\nStopped: {decided} decided.", file=out)
            return decided
        if outcome == "quit":
            return decided
        decided += outcome == "decided"
    print(f"Done: {decided} decided.", file=out)
    return decided


PROMPT = "[a]ccept  [k]ind  [c]ategory  [p]riority  [e]scalate  [s]kip  [q]uit > "
FIELD_KEYS = {"k": "kind", "c": "category", "p": "priority"}


def _review_one(
    app: Tiket, ref: str, agent: str, ask: Ask, out: TextIO, clock: Callable[[], datetime]
) -> str:
    """One ticket until it is decided, skipped or the agent quits: decided | skipped | quit."""
    desk = app.desk
    while True:
        key = ask(PROMPT).strip().lower()[:1]
        if key in ("q", "s"):
            return "quit" if key == "q" else "skipped"
        try:
            if key == "a":
                desk.accept_all(ref, agent, clock())
            elif key == "e":
                desk.accept_all(ref, agent, clock())
                desk.escalate(ref, agent, "escalated from L1 review", clock())
            elif key in FIELD_KEYS:
                head = FIELD_KEYS[key]
                value = _pick(head, _choices(app, head), ask)
                if value is None:
                    continue
                desk.review(ref, {head: value}, agent, clock())
            else:
                print(f"  unknown key {key or '(none)'!r}: use a, k, c, p, e, s or q", file=out)
                continue
        except InvalidAction as exc:
            print(f"  {exc}", file=out)
            continue
        ticket = app.store.ticket_state(ref)
        if not ticket.needs_review:
            print(f"  saved {ref}", file=out)
            return "decided"
        print(f"  saved; still to decide: {', '.join(_waiting(app, ticket.id))}", file=out)


def _choices(app: Tiket, head: str) -> tuple[str, ...]:
    """The known classes of a head, for the pick-list (categories: the desk's list)."""
    if head == "kind":
        return KINDS
    if head == "priority":
        return PRIORITIES
    return tuple(sorted(app.categories))


def _pick(head: str, choices: tuple[str, ...], ask: Ask) -> str | None:
    """Ask for a value: a number from the pick-list or the value itself; None when left empty."""
    listing = "  ".join(f"{n}) {c}" for n, c in enumerate(choices, start=1))
    answer = ask(f"  {head} ({listing or 'any name'}) > ").strip()
    if not answer:
        return None
    if answer.isdigit() and 1 <= int(answer) <= len(choices):
        return choices[int(answer) - 1]
    if head == "priority":
        return answer.upper()
    return answer.lower() if head == "kind" else answer


def _waiting(app: Tiket, ticket_id: int) -> list[str]:
    decided = app.store.decided_heads(ticket_id)
    return [h for h in unsure_heads(app.store.suggestions(ticket_id)) if h not in decided]


def state_line(ticket: TicketState) -> str:
    """A one-line summary used in CLI confirmations."""
    return (
        f"{ticket.ref} {ticket.status} {ticket.tier} {ticket.priority or '-'} "
        f"{ticket.kind or '-'} {ticket.category or '-'}"
    )
