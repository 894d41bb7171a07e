"""CLI: parse argv, load settings, call one function, map errors to exit codes (0 ok, 1 runtime, 2 usage/config).

Every subcommand's help ends with an example.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.edges.files import restrict_umask
from pipeline.errors import ConfigError, InvalidAction, NotFound, TiketError
from pipeline.settings import Settings, load_settings
from pipeline.stages.display import neutralise, neutralise_line
from pipeline.vocabulary import HEADS, KINDS, PRIORITIES, TIERS

if TYPE_CHECKING:
    from pipeline.app import RunSummary, Tiket

log = logging.getLogger("tiket")
Handler = Callable[[argparse.Namespace, Settings], int]


def _parser_with_example(
    sub: Any, name: str, help_text: str, example: str, handler: Handler | None = None
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command tree; the model commands' own options only when `command` is one."""
    parser = argparse.ArgumentParser(
        prog="tiket",
        description="Email-driven ticket intake for IT service desks.",
        epilog="example:\n  tiket run --once",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML file (default: $TIKET_CONFIG, ./tiket.toml, ~/.config/tiket/tiket.toml, "
        "/etc/tiket/tiket.toml, else the embedded defaults)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _parser_with_example(
        sub, "init", "create or migrate the database", "tiket --config desk.toml init", cmd_init
    )
    run = _parser_with_example(
        sub, "run", "watch the mailboxes and send mail (until SIGTERM)", "tiket run --once", cmd_run
    )
    run.add_argument(
        "--once",
        action="store_true",
        help="process everything pending, deliver due mail, print a summary, exit",
    )
    run.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="with --once: log every mail (the daemon always does)",
    )
    secret = _parser_with_example(
        sub, "secret", "manage the desk secret that signs our Message-IDs", "tiket secret rotate"
    )
    ssub = secret.add_subparsers(dest="secret_command", metavar="ACTION", required=True)
    _parser_with_example(
        ssub,
        "rotate",
        "start signing with a new key; the old one verifies for [security] token_grace_days",
        "tiket --config desk.toml secret rotate",
        cmd_secret_rotate,
    )
    _parser_with_example(
        sub,
        "prune",
        "empty the raw bytes of mail older than the [retention] days (the daemon does it daily)",
        "tiket --config desk.toml prune",
        cmd_prune,
    )
    _parser_with_example(
        sub,
        "check",
        "validate the config and reach every mailbox, the database and the SMTP server",
        "tiket --config desk.toml check",
        cmd_check,
    )

    tickets = _parser_with_example(sub, "tickets", "list and show tickets", "tiket tickets list")
    tsub = tickets.add_subparsers(dest="tickets_command", metavar="ACTION", required=True)
    tlist = _parser_with_example(
        tsub,
        "list",
        "list tickets, newest first",
        "tiket tickets list --status new --json",
        cmd_tickets_list,
    )
    tlist.add_argument("--status", help="only this status (new, open, in_progress, pending, ...)")
    tlist.add_argument("--tier", help="only this tier (L1, L2, L3)")
    tlist.add_argument(
        "--breached",
        action="store_true",
        help="only tickets whose first-response or resolution target is missed",
    )
    tlist.add_argument("--json", action="store_true", help="one JSON array")
    tshow = _parser_with_example(
        tsub,
        "show",
        "one ticket with its conversation and audit trail",
        "tiket tickets show TKT-000001 --json",
        cmd_tickets_show,
    )
    tshow.add_argument("ref")
    tshow.add_argument("--json", action="store_true")
    tshow.add_argument(
        "--no-similar", action="store_true", help="skip the similar resolved tickets (faster)"
    )
    for name, help_text, example in (
        (
            "assign",
            "give a ticket to a tier (mails the tier's group)",
            "tiket tickets assign TKT-000012 --tier L2   (or --agent anna@example.org)",
        ),
        (
            "escalate",
            "move a ticket one tier up (L1 -> L2 -> L3)",
            "tiket tickets escalate TKT-000012 --reason 'needs a network engineer'",
        ),
        (
            "resolve",
            "resolve a ticket; the requester gets the note and can reopen by replying",
            "tiket tickets resolve TKT-000012 --note 'Replaced the toner cartridge'",
        ),
        (
            "close",
            "close a ticket (a later reply opens a new, linked ticket)",
            "tiket tickets close TKT-000012",
        ),
        ("reopen", "reopen a resolved ticket", "tiket tickets reopen TKT-000012"),
        (
            "pending",
            "ask the requester a question; the SLA clocks pause until they answer",
            "tiket tickets pending TKT-000012 --note 'Which floor is the printer on?'",
        ),
        (
            "breach",
            "flag a suspected data breach: P1, straight to L3, security alerted",
            "tiket tickets breach TKT-000012 --reason 'customer list sent to a wrong address'",
        ),
    ):
        action = _parser_with_example(tsub, name, help_text, example, cmd_ticket_action)
        action.add_argument("ref")
        if name == "assign":  # here --agent is whom the ticket goes to; --by who acts
            whom = action.add_mutually_exclusive_group(required=True)
            whom.add_argument("--tier", choices=TIERS)
            whom.add_argument("--agent", metavar="ADDR", help="one agent (a tier member)")
            action.add_argument("--by", default="cli", help="who acts (for the audit trail)")
        else:
            action.add_argument("--agent", default="cli", help="who acts (for the audit trail)")
        if name in ("escalate", "breach"):
            action.add_argument("--reason", default="")
        if name in ("resolve", "close", "reopen", "pending"):
            action.add_argument("--note", default="", required=name in ("resolve", "pending"))
        if name == "resolve":
            action.add_argument(
                "--publish",
                action="store_true",
                help="offer the note as a known fix in later acknowledgements",
            )
    from pipeline.proactive_cli import register as register_proactive
    from pipeline.proactive_cli import register_tickets

    register_tickets(tsub)
    for name, help_text, example in (
        (
            "reply",
            "answer the requester (threaded mail; the answer joins the conversation)",
            "tiket tickets reply TKT-000012 --agent anna@example.org --body-file answer.txt",
        ),
        (
            "note",
            "add an internal note to a ticket (never mailed)",
            "echo 'called the user, waiting for the vendor' | tiket tickets note TKT-000012 --body-file -",
        ),
    ):
        action = _parser_with_example(tsub, name, help_text, example, cmd_ticket_text)
        action.add_argument("ref")
        action.add_argument("--agent", default="cli", help="who acts (for the audit trail)")
        action.add_argument(
            "--body-file", required=True, metavar="F", help="the text, from a file or - for stdin"
        )
    merge = _parser_with_example(
        tsub,
        "merge",
        "merge a duplicate into another ticket (messages move, its requester is told)",
        "tiket tickets merge TKT-000013 --into TKT-000012",
        cmd_ticket_merge,
    )
    merge.add_argument("ref")
    merge.add_argument("--into", required=True, metavar="REF")
    merge.add_argument("--agent", default="cli", help="who acts (for the audit trail)")

    web = _parser_with_example(
        sub,
        "web",
        "serve the agents' web console (waitress) on [web] listen",
        "tiket web --listen 127.0.0.1:8080",
        cmd_web,
    )
    web.add_argument("--listen", metavar="HOST:PORT", help="override [web] listen")
    wsub = web.add_subparsers(dest="web_command", metavar="ACTION")
    sessions = _parser_with_example(
        wsub, "sessions", "signed-in console sessions", "tiket web sessions list"
    )
    sesub = sessions.add_subparsers(dest="sessions_command", metavar="ACTION", required=True)
    slist = _parser_with_example(
        sesub,
        "list",
        "live sessions, newest first",
        "tiket web sessions list --json",
        cmd_web_sessions,
    )
    slist.add_argument("--json", action="store_true")
    srevoke = _parser_with_example(
        sesub,
        "revoke",
        "sign a session out (by id), or every session of an agent",
        "tiket web sessions revoke --agent anna@example.org",
        cmd_web_sessions,
    )
    srevoke.add_argument("id", nargs="?", type=int)
    srevoke.add_argument("--agent", default="", help="revoke every session of this agent")

    review = _parser_with_example(
        sub,
        "review",
        "the L1 review queue: accept or correct suggestions (interactive without an action)",
        "tiket review --agent anna@example.org",
        cmd_review,
    )
    review.add_argument("--agent", default="l1", help="who decides (for the audit trail)")
    rsub = review.add_subparsers(dest="review_command", metavar="ACTION")
    rlist = _parser_with_example(
        rsub,
        "list",
        "tickets waiting for review, oldest first",
        "tiket review list --json",
        cmd_review_list,
    )
    rlist.add_argument("--json", action="store_true")
    raccept = _parser_with_example(
        rsub,
        "accept",
        "accept the suggestions of a ticket (all not yet decided, or the --field ones)",
        "tiket review accept TKT-000007 --field category",
        cmd_review_accept,
    )
    raccept.add_argument("ref")
    raccept.add_argument("--agent", default="l1", help="who decides (for the audit trail)")
    raccept.add_argument(
        "--field", action="append", choices=HEADS, help="accept only this field's suggestion"
    )
    rset = _parser_with_example(
        rsub,
        "set",
        "decide kind, category or priority of a ticket (only the fields given are saved)",
        "tiket review set TKT-000007 --kind incident --priority P2",
        cmd_review_set,
    )
    rset.add_argument("ref")
    rset.add_argument("--agent", default="l1", help="who decides (for the audit trail)")
    rset.add_argument("--kind", choices=KINDS)
    rset.add_argument("--category")
    rset.add_argument("--priority", choices=PRIORITIES)

    sla = _parser_with_example(sub, "sla", "service-level clocks", "tiket sla check")
    ssub = sla.add_subparsers(dest="sla_command", metavar="ACTION", required=True)
    scheck = _parser_with_example(
        ssub,
        "check",
        "what the SLA job would do (route breaches, warn, escalate, auto-close); --apply does it",
        "tiket sla check --now 2026-11-27T15:00:00+08:00",
        cmd_sla_check,
    )
    scheck.add_argument("--now", help="ISO 8601 time to evaluate at (default: now)")
    scheck.add_argument(
        "--apply",
        action="store_true",
        help="act: send the warnings and escalations (default: "
        "print what would happen and change nothing)",
    )

    inbound = _parser_with_example(
        sub, "inbound", "received mail and what became of it", "tiket inbound list --json"
    )
    isub = inbound.add_subparsers(dest="inbound_command", metavar="ACTION", required=True)
    ilist = _parser_with_example(
        isub,
        "list",
        "every received mail with its disposition",
        "tiket inbound list --json",
        cmd_inbound_list,
    )
    ilist.add_argument("--json", action="store_true")

    quarantine = _parser_with_example(
        sub, "quarantine", "mails that could not be processed", "tiket quarantine list"
    )
    qsub = quarantine.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)
    qlist = _parser_with_example(
        qsub,
        "list",
        "quarantined mails with stage and reason",
        "tiket quarantine list --json",
        cmd_quarantine_list,
    )
    qlist.add_argument("--json", action="store_true")
    qshow = _parser_with_example(
        qsub,
        "show",
        "one quarantined mail with its traceback",
        "tiket quarantine show 17",
        cmd_quarantine_show,
    )
    qshow.add_argument("id", type=int)
    qshow.add_argument("--json", action="store_true")
    qrel = _parser_with_example(
        qsub,
        "release",
        "replay a quarantined mail (after a fix)",
        "tiket quarantine release 17",
        cmd_quarantine_release,
    )
    qrel.add_argument("id", type=int)

    outbox = _parser_with_example(
        sub, "outbox", "outgoing mail and its delivery state", "tiket outbox list"
    )
    osub = outbox.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    olist = _parser_with_example(
        osub,
        "list",
        "every outgoing mail with status and attempts",
        "tiket outbox list --json",
        cmd_outbox_list,
    )
    olist.add_argument("--json", action="store_true")

    from pipeline.digest_cli import register as register_digest

    register_digest(sub)
    register_proactive(sub)
    if command in MODEL_COMMANDS:  # only these import scikit-learn (and only when run)
        from classifiers.cli import register

        register(sub)
    else:
        for name, help_text in MODEL_COMMANDS.items():
            _parser_with_example(sub, name, help_text, f"tiket {name} --help")
    return parser


MODEL_COMMANDS = {
    "train": "train the triage model on labelled tickets (tiket train --help)",
    "evaluate": "measure the triage model on labelled tickets (tiket evaluate --help)",
    "classify": "suggest kind, category and priority for a mail (tiket classify --help)",
}


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in argv (the first word that is not an option or its value)."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tiket` console script."""
    restrict_umask()  # the database, outbox, attachments and model are personal data
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_of(argv))
    args = parser.parse_args(argv)
    stdout, sys.stdout = sys.stdout, SafeOutput(sys.stdout)  # mail text may hold escapes
    try:
        return _main(args)
    finally:
        sys.stdout = stdout


class SafeOutput:
    """stdout with control and bidi characters from mail shown as visible escapes."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return int(self.stream.write(neutralise(text)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class SafeFormatter(logging.Formatter):
    """Log lines whose message cannot carry a terminal escape or start a forged line."""

    def format(self, record: logging.LogRecord) -> str:
        safe = logging.makeLogRecord(record.__dict__)
        safe.msg, safe.args = neutralise_line(record.getMessage()), None
        return neutralise(super().format(safe))


def _main(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"tiket: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.desk.log_level)
    try:
        return int(args.handler(args, settings))
    except ConfigError as exc:
        print(f"tiket: configuration error: {exc}", file=sys.stderr)
        return 2
    except NotFound as exc:
        print(f"tiket: {exc}", file=sys.stderr)
        return 1
    except InvalidAction as exc:
        print(f"tiket: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `tiket ... | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except TiketError as exc:
        print(f"tiket: {exc}", file=sys.stderr)
        return 1


def setup_logging(level: str) -> None:
    """key=value lines on stderr (journald and docker pick them up); mail-parser's chatter muted."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:  # ours (basicConfig), not a test's capture
            handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.getLogger("mailparser").setLevel(logging.CRITICAL)
    logging.getLogger("imapclient").setLevel(logging.WARNING)
    logging.getLogger("peewee").setLevel(logging.INFO)  # its DEBUG lines carry mail bodies


def _app(settings: Settings, *, create: bool = False) -> Tiket:
    """The application object; its database must exist unless this command may create it."""
    from pipeline.app import Tiket

    app = Tiket(settings)
    if not create:
        app.require_database()
    return app


def _show_rows(
    rows: list[dict[str, Any]], as_json: bool, columns: Sequence[str], empty: str
) -> int:
    """The shared shape of the list commands: JSON with --json, else a table."""
    if as_json:
        _print_json(rows)
    else:
        _print_table(rows, columns, empty)
    return 0


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _print_table(rows: list[dict[str, Any]], columns: Sequence[str], empty: str) -> None:
    if not rows:
        print(empty)
        return
    widths = {c: min(60, max(len(c), *(len(str(r.get(c) or "")) for r in rows))) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print(
            "  ".join(
                str(row.get(c) if row.get(c) is not None else "-")[:60].ljust(widths[c])
                for c in columns
            )
        )


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    """Create or migrate the database."""
    from pipeline.edges.migrations import latest_version
    from pipeline.edges.secrets import create_secret

    app = _app(settings, create=True)
    print(f"database ready at {settings.database.url} (schema version {latest_version()})")
    path = Path(settings.security.secret_file).expanduser()
    print(f"desk secret {'created' if create_secret(path) else 'kept'} at {path} (mode 0600)")
    return 0 if app.store.schema_ok() else 1


def cmd_secret_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Put a new key in front; old tokens keep working for the grace period."""
    from pipeline.edges.secrets import rotate_secret

    path = Path(settings.security.secret_file).expanduser()
    rotate_secret(path, datetime.now(UTC))
    print(
        f"desk secret rotated at {path}; tokens of the old key verify for "
        f"{settings.security.token_grace_days:g} more day(s)"
    )
    return 0


def cmd_prune(args: argparse.Namespace, settings: Settings) -> int:
    """Run the retention job once."""
    from pipeline.jobs.retention import prune_raw

    done = prune_raw(_app(settings).store, settings, datetime.now(UTC))
    print(
        f"raw bytes emptied: {done.processed} processed and {done.quarantined} quarantined mail(s)"
    )
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the daemon, or one pass with --once."""
    if not args.once:  # a SIGTERM while starting up (imports, migrations) is a clean stop too
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    app = _app(settings, create=True)
    if not args.once and settings.section("web")["enabled"]:
        from pipeline.web.serve import serve_in_thread

        serve_in_thread(app)
    if not args.once:
        from pipeline.daemon import Daemon

        return Daemon(app).run()
    if not args.verbose:  # the summary says it all; warnings and errors still show
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    summary = app.run_once()
    _print_summary(settings, app, summary)
    return 1 if summary.failed_mailboxes else 0


def _print_summary(settings: Settings, app: Tiket, summary: RunSummary) -> None:
    d = summary.dispositions
    screened = ", ".join(
        f"{rule} {n}"
        for rule, n in sorted(summary.rules.items())
        if rule in ("is_bounce", "is_auto_reply", "is_own_mail")
    )
    print(f"tiket: {summary.fetched} mail(s) fetched from {len(settings.mailboxes)} mailbox(es)")
    print(f"  tickets created  {d['ticket_created']}")
    print(f"  replies threaded {d['reply_added']}")
    print(f"  screened         {d['screened']}" + (f" ({screened})" if screened else ""))
    print(f"  duplicates       {d['duplicate']}")
    print(f"  quarantined      {d['quarantined']}  (see: tiket quarantine list)")
    print(
        f"  acknowledgements {summary.acknowledged} queued; outbox delivered "
        f"{summary.delivery.sent}, retrying {summary.delivery.retried}, "
        f"failed {summary.delivery.failed}"
    )
    if summary.sla.breach_routes or summary.sla.escalations or summary.sla.warnings:
        print(
            f"  sla job          {summary.sla.breach_routes} breach route(s) to L3 + security, "
            f"{summary.sla.warnings} warning(s), {summary.sla.escalations} escalation(s)"
        )
    print(f"  triage model     {app.model_status()}")
    print(f"  outbox           {settings.outbox.url}")
    print(f"  database         {settings.database.url}")
    for failed in summary.failed_mailboxes:
        print(f"  MAILBOX FAILED   {failed}")
    for held in summary.standing_by:
        print(f"  standing by      {held}")
    print("next: tiket tickets list | tiket tickets show TKT-000001 | tiket inbound list")


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Validate config and reach every mailbox, the database and the outbox."""
    from pipeline.app import Tiket

    report = Tiket(settings).check()
    for line in report.lines:
        print(line)
    return 1 if report.problems else 0


def cmd_tickets_list(args: argparse.Namespace, settings: Settings) -> int:
    rows = _app(settings).list_tickets(status=args.status, tier=args.tier, breached=args.breached)
    columns = ("ref", "status", "priority", "kind", "category", "requester", "subject")
    return _show_rows(rows, args.json, columns, "no tickets")


def cmd_ticket_action(args: argparse.Namespace, settings: Settings) -> int:
    """assign / escalate / resolve / close / reopen / pending / breach."""
    from pipeline.review import state_line

    app = _app(settings)
    now = app.clock()
    action = args.tickets_command
    if action == "assign" and args.agent:
        app.desk.assign_agent(args.ref, args.agent, args.by, now)
    elif action == "assign":
        app.desk.assign(args.ref, args.tier, args.by, now)
    elif action == "escalate":
        app.desk.escalate(args.ref, args.agent, args.reason or f"escalated by {args.agent}", now)
    elif action == "breach":
        app.desk.flag_breach(args.ref, args.agent, args.reason or f"flagged by {args.agent}", now)
    else:
        target = {"resolve": "resolved", "close": "closed", "reopen": "open", "pending": "pending"}
        app.desk.set_status(args.ref, target[action], args.agent, args.note, now)
        if action == "resolve" and args.publish:
            app.proactive.publish(args.ref, args.note, args.agent, now)
    app.deliver_outbox()
    print(state_line(app.store.ticket_state(args.ref)))
    return 0


def cmd_ticket_text(args: argparse.Namespace, settings: Settings) -> int:
    """reply / note: the text from a file or stdin."""
    from pipeline.review import state_line

    if args.body_file == "-":
        text = sys.stdin.read()
    else:
        try:
            with open(args.body_file, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            print(f"tiket: --body-file: {exc.strerror}: {args.body_file}", file=sys.stderr)
            return 2
    app = _app(settings)
    if args.tickets_command == "reply":
        app.desk.reply(args.ref, args.agent, text, app.clock())
    else:
        app.desk.note(args.ref, args.agent, text, app.clock())
    app.deliver_outbox()
    print(state_line(app.store.ticket_state(args.ref)))
    return 0


def cmd_ticket_merge(args: argparse.Namespace, settings: Settings) -> int:
    """Merge a duplicate into another ticket."""
    from pipeline.review import state_line

    app = _app(settings)
    app.desk.merge(args.ref, args.into, args.agent, app.clock())
    app.deliver_outbox()
    print(state_line(app.store.ticket_state(args.into)))
    return 0


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the console (the web stack is imported here only)."""
    from pipeline.web.serve import serve

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    app = _app(settings, create=True)
    app.connect()
    serve(app, args.listen)
    return 0


def cmd_web_sessions(args: argparse.Namespace, settings: Settings) -> int:
    """List or revoke console sessions."""
    console = _app(settings).console
    if args.sessions_command == "list":
        columns = ("id", "agent", "via", "ip", "created_at", "expires_at", "user_agent")
        return _show_rows(console.sessions(), args.json, columns, "no live sessions")
    if args.id is None and not args.agent:
        print("tiket: give a session id or --agent ADDR", file=sys.stderr)
        return 2
    revoked = console.revoke(args.id, args.agent)
    print(f"{revoked} session(s) revoked")
    return 0 if revoked else 1


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    """The interactive queue (a real terminal), or one of its script actions."""
    from pipeline.review import run_review

    run_review(_app(settings), args.agent, input, sys.stdout)
    return 0


def cmd_review_list(args: argparse.Namespace, settings: Settings) -> int:
    items = _app(settings).review_queue()
    if args.json:
        _print_json(items)
        return 0
    rows = [
        dict(
            i,
            suggested=" ".join(
                f"{s['head']}={s['label']}({s['confidence']:.0%})" for s in i["suggestions"]
            ),
        )
        for i in items
    ]
    columns = ("ref", "created_at", "requester", "suggested", "subject")
    return _show_rows(rows, False, columns, "the review queue is empty")


def cmd_review_accept(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.review import state_line

    app = _app(settings)
    if args.field:
        app.desk.review(args.ref, {}, args.agent, app.clock(), accept=tuple(args.field))
    else:
        app.desk.accept_all(args.ref, args.agent, app.clock())
    print(state_line(app.store.ticket_state(args.ref)))
    return 0


def cmd_review_set(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.review import state_line

    fields = (("kind", args.kind), ("category", args.category), ("priority", args.priority))
    changes = {k: v for k, v in fields if v}
    if not changes:
        print("tiket: give at least one of --kind, --category, --priority", file=sys.stderr)
        return 2
    app = _app(settings)
    app.desk.review(args.ref, changes, args.agent, app.clock())
    print(state_line(app.store.ticket_state(args.ref)))
    return 0


def cmd_sla_check(args: argparse.Namespace, settings: Settings) -> int:
    """What the SLA job would do at --now (a dry run), or do it with --apply."""
    try:
        now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    except ValueError:
        print(f"tiket: --now: not an ISO 8601 time: {args.now!r}", file=sys.stderr)
        return 2
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    app = _app(settings)
    run = app.run_sla(now, apply=args.apply)
    if args.apply:
        app.deliver_outbox(now)
    for line in run.planned:
        print(f"  {line}")
    verb = "done" if args.apply else "would do (dry run; --apply to act)"
    print(
        f"sla check at {now.isoformat(timespec='minutes')} {verb}: {run.breach_routes} breach "
        f"route(s), {run.warnings} warning(s), {run.breaches} breach(es), {run.escalations} "
        f"escalation(s), {run.closed} auto-closed"
    )
    return 0


def cmd_tickets_show(args: argparse.Namespace, settings: Settings) -> int:
    data = _app(settings).show_ticket(args.ref, similar=not args.no_similar)
    if args.json:
        _print_json(data)
        return 0
    breach = "  DATA BREACH SUSPECTED" if data["breach_suspected"] else ""
    print(f"{data['ref']}  {data['subject']}")
    print(
        f"  status {data['status']}  priority {data['priority'] or '-'}  kind {data['kind'] or '-'}"
        f"  category {data['category'] or '-'}  tier {data['tier']}{breach}"
    )
    print(
        f"  requester {data['requester_name']} <{data['requester']}>  created {data['created_at']}"
    )
    for s in data["suggestions"]:
        state = "applied" if s["applied"] else "waits for review"
        print(f"  suggestion {s['head']}: {s['label']} ({s['confidence']:.2f}) {state}")
    for msg in data["conversation"]:
        print(f"\n--- {msg['direction']} {msg['at']} from {msg['from']}: {msg['subject']}")
        print(msg["body"][:2000])
    for clock in data["sla"]:
        print(f"  {clock['clock']}: {clock['state']}, due {clock['due'] or '-'}")
    for similar in data["similar"]:
        print(
            f"  similar {similar['ref']} ({similar['score']:.2f}) {similar['subject']}: "
            f"{similar['resolution_note'][:120]}"
        )
    major = data.get("major_incident")
    if major and major["role"] == "parent":
        print(f"  major incident ({major['status']}), members: {', '.join(major['members'])}")
    elif major:
        print(f"  member of major incident {major['parent']} ({major['status']})")
    for call in data.get("calls", []):
        print(
            f"  call {call['starts_at']} {call['minutes']} min {call['where']} "
            f"by {call['organiser']}: {call['status']}"
        )
    print("\naudit:")
    for e in data["events"]:
        print(f"  {e['at']} {e['action']} by {e['actor']}: {e['detail']}")
    return 0


def cmd_inbound_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.edges.views import list_inbound

    _app(settings).connect()
    columns = (
        "id",
        "mailbox",
        "uid",
        "disposition",
        "rule",
        "ticket",
        "acknowledged",
        "message_id",
    )
    return _show_rows(list_inbound(), args.json, columns, "no mail received yet")


def cmd_quarantine_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.edges.views import list_quarantine

    _app(settings).connect()
    columns = ("id", "mailbox", "stage", "attempts", "reason")
    return _show_rows(list_quarantine(), args.json, columns, "quarantine is empty")


def cmd_quarantine_show(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.edges.views import show_quarantine

    _app(settings).connect()
    data = show_quarantine(args.id)
    if args.json:
        _print_json(data)
        return 0
    for key in (
        "id",
        "mailbox",
        "uid",
        "message_id",
        "stage",
        "reason",
        "attempts",
        "size",
        "sha256",
    ):
        print(f"{key}: {data[key]}")
    print(f"\nheaders:\n{data['headers']}\n\ntraceback:\n{data['traceback'] or '-'}")
    return 0


def cmd_quarantine_release(args: argparse.Namespace, settings: Settings) -> int:
    results = _app(settings).release_quarantine(args.id, "cli")
    if results is None:
        print(f"mail {args.id} released; the daemon working its mailbox will process it")
        return 0
    for result in results:
        ref = f" {result.ticket_ref}" if result.ticket_ref else ""
        error = f" ({result.error})" if result.error else ""
        print(f"mail {result.inbound_id}: {result.disposition}{ref}{error}")
    return 0


def cmd_outbox_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.edges.views import list_outbox

    _app(settings).connect()
    columns = ("id", "status", "attempts", "template", "to", "subject")
    return _show_rows(list_outbox(), args.json, columns, "outbox is empty")


if __name__ == "__main__":
    sys.exit(main())
