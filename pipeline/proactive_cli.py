"""Proactive CLI: `tiket major ...` (major incidents) and `tiket tickets call` (calls with the user).

cli.py calls `register(subparsers)` and `register_tickets(tickets_subparsers)`; each handler takes
(args, settings) and returns the exit code. Every action goes through the application object, the
same path agents' mail commands take.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from pipeline.cli import _parser_with_example
from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.app import Tiket


def register(subparsers: Any) -> None:
    """Add `major` (list, accept, reject, update) to the `tiket` command tree."""
    major = _parser_with_example(
        subparsers, "major", "major incidents (bursts of similar incidents)", "tiket major list"
    )
    msub = major.add_subparsers(dest="major_command", metavar="ACTION", required=True)
    mlist = _parser_with_example(
        msub,
        "list",
        "major incidents with members, time to detection and time to resolution",
        "tiket major list --json",
        cmd_major_list,
    )
    mlist.add_argument("--json", action="store_true")
    for name, help_text in (
        ("accept", "accept a candidate: P1 at L3, every member's requester told it is known"),
        ("reject", "reject a candidate: the members go on as ordinary tickets"),
    ):
        action = _parser_with_example(
            msub, name, help_text, f"tiket major {name} TKT-000042", cmd_major_decide
        )
        action.add_argument("ref", help="the parent ticket")
        action.add_argument("--agent", default="cli", help="who decides (for the audit trail)")
    update = _parser_with_example(
        msub,
        "update",
        "mail a status update to every requester linked to an accepted major incident",
        "tiket major update TKT-000042 --note 'The vendor is replacing the gateway; ETA 11:00'",
        cmd_major_update,
    )
    update.add_argument("ref", help="the parent ticket")
    update.add_argument("--note", required=True, help="the update's text")
    update.add_argument("--agent", default="cli", help="who writes (for the audit trail)")


def register_tickets(tickets: Any) -> None:
    """Add `tickets call` to the `tiket tickets` actions."""
    call = _parser_with_example(
        tickets,
        "call",
        "mail the requester a calendar invitation for a call (or cancel it)",
        "tiket tickets call TKT-000012 --at '2026-12-03 10:00' --minutes 30 "
        "--where https://meet.example.org/desk-12",
        cmd_tickets_call,
    )
    call.add_argument("ref")
    call.add_argument("--at", help="local start, YYYY-MM-DD HH:MM in [desk] timezone")
    call.add_argument("--minutes", type=int, help="length (default: [calls] default_minutes)")
    call.add_argument("--where", help="a meeting URL or a phone number")
    call.add_argument("--cancel", action="store_true", help="cancel the booked call")
    call.add_argument(
        "--agent", default="", help="the organiser's address (default: [desk] address)"
    )


def _app(settings: Settings) -> Tiket:
    from pipeline.app import Tiket

    app = Tiket(settings)
    app.require_database()
    return app


def cmd_major_list(args: argparse.Namespace, settings: Settings) -> int:
    rows = _app(settings).proactive.majors.summaries()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no major incidents")
        return 0
    print("REF         STATUS     MEMBERS  STARTED              DETECTED(min)  RESOLVED(min)")
    for r in rows:
        print(
            f"{r['ref']:<11} {r['status']:<10} {r['members']:>7}  {r['started_at'][:16]:<20} "
            f"{r['minutes_to_detection'] if r['minutes_to_detection'] is not None else '-':>13}  "
            f"{r['minutes_to_resolution'] if r['minutes_to_resolution'] is not None else '-':>13}"
        )
    return 0


def cmd_major_decide(args: argparse.Namespace, settings: Settings) -> int:
    app = _app(settings)
    majors = app.proactive.majors
    if args.major_command == "accept":
        told = majors.accept(args.ref.upper(), args.agent, app.clock())
        print(
            f"{args.ref.upper()} accepted: P1 at L3; {told} requester(s) told it is a known problem"
        )
    else:
        majors.reject(args.ref.upper(), args.agent, app.clock())
        print(f"{args.ref.upper()} rejected: its members go on as ordinary tickets")
    app.deliver_outbox()
    return 0


def cmd_major_update(args: argparse.Namespace, settings: Settings) -> int:
    app = _app(settings)
    sent = app.proactive.majors.broadcast(args.ref.upper(), args.note, args.agent, app.clock())
    app.deliver_outbox()
    print(f"update sent to {sent} requester(s)")
    return 0


def cmd_tickets_call(args: argparse.Namespace, settings: Settings) -> int:
    if args.cancel:
        argument = "cancel"
    elif args.at and args.where:
        minutes = args.minutes or int(settings.section("calls")["default_minutes"])
        argument = f"{args.at} {minutes}m {args.where}"
    else:
        print("tiket: give --at and --where (or --cancel)", file=sys.stderr)
        return 2
    app = _app(settings)
    update = app.proactive.call(
        args.ref, argument, args.agent or settings.desk.address, app.clock()
    )
    app.deliver_outbox()
    print(f"{update.ref}: {update.events[0].action.replace('_', ' ')}: {update.events[0].detail}")
    return 0
