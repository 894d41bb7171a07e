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
from typing import Any

from pipeline.edges.files import private_dir, restrict_umask
from pipeline.errors import ConfigError, InvalidAction, NotFound, TiketError
from pipeline.settings import Settings, load_settings
from pipeline.stages.display import neutralise, neutralise_line

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


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(
        prog="tiket",
        description="Email-driven ticket intake for IT service desks.",
        epilog="example:\n  tiket run --once",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML file (default: $TIKET_CONFIG, else the embedded defaults)",
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
    for name, help_text, example in (
        (
            "assign",
            "give a ticket to a tier (mails the tier's group)",
            "tiket tickets assign TKT-000012 --tier L2",
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
        action.add_argument("--agent", default="cli", help="who acts (for the audit trail)")
        if name == "assign":
            action.add_argument("--tier", required=True, choices=("L1", "L2", "L3"))
        if name in ("escalate", "breach"):
            action.add_argument("--reason", default="")
        if name in ("resolve", "close", "reopen", "pending"):
            action.add_argument("--note", default="", required=name in ("resolve", "pending"))

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
        "accept every suggestion of a ticket",
        "tiket review accept TKT-000007",
        cmd_review_accept,
    )
    raccept.add_argument("ref")
    raccept.add_argument("--agent", default="l1", help="who decides (for the audit trail)")
    rset = _parser_with_example(
        rsub,
        "set",
        "correct kind, category or priority of a ticket",
        "tiket review set TKT-000007 --kind incident --priority P2",
        cmd_review_set,
    )
    rset.add_argument("ref")
    rset.add_argument("--agent", default="l1", help="who decides (for the audit trail)")
    rset.add_argument("--kind", choices=("incident", "request"))
    rset.add_argument("--category")
    rset.add_argument("--priority", choices=("P1", "P2", "P3", "P4"))

    sla = _parser_with_example(sub, "sla", "service-level clocks", "tiket sla check")
    ssub = sla.add_subparsers(dest="sla_command", metavar="ACTION", required=True)
    scheck = _parser_with_example(
        ssub,
        "check",
        "run the SLA job once: route breaches, warn, escalate, auto-close",
        "tiket sla check --now 2026-11-27T15:00:00+08:00",
        cmd_sla_check,
    )
    scheck.add_argument("--now", help="ISO 8601 time to evaluate at (what-if and tests)")

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
    try:
        from classifiers.cli import register
    except ImportError:  # classifiers not installed: intake still works, triage degrades
        pass
    else:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tiket` console script."""
    restrict_umask()  # the database, outbox, attachments and model are personal data
    parser = build_parser()
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


def _runtime(settings: Settings) -> Any:
    from pipeline.daemon import build_runtime

    return build_runtime(settings)


def _open_store(settings: Settings) -> Any:
    from pipeline.edges.store import open_store

    return open_store(settings)


def _show_rows(
    args: argparse.Namespace,
    settings: Settings,
    load: Callable[[], list[dict[str, Any]]],
    columns: Sequence[str],
    empty: str,
) -> int:
    """The shared shape of the list commands: JSON with --json, else a table."""
    _open_store(settings)
    rows = load()
    if args.json:
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

    private_dir(settings.data_dir)
    store = _open_store(settings)
    print(f"database ready at {settings.database.url} (schema version {latest_version()})")
    path = Path(settings.security.secret_file).expanduser()
    print(f"desk secret {'created' if create_secret(path) else 'kept'} at {path} (mode 0600)")
    return 0 if store.schema_ok() else 1


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

    done = prune_raw(_open_store(settings), settings, datetime.now(UTC))
    print(
        f"raw bytes emptied: {done.processed} processed and {done.quarantined} quarantined mail(s)"
    )
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the daemon, or one pass with --once."""
    if not args.once:  # a SIGTERM while starting up (imports, migrations) is a clean stop too
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    from pipeline.daemon import Daemon, run_once

    runtime = _runtime(settings)
    if not args.once:
        return Daemon(runtime).run()
    if not args.verbose:  # the summary says it all; warnings and errors still show
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    summary = run_once(runtime)
    _print_summary(settings, runtime, summary)
    return 1 if summary.failed_mailboxes else 0


def _print_summary(settings: Settings, runtime: Any, summary: Any) -> None:
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
    version = getattr(runtime.triager, "version", None)
    failure = getattr(runtime.triager, "_failure", None)
    print(f"  triage model     {version or failure or 'not loaded'}")
    print(f"  outbox           {settings.outbox.url}")
    print(f"  database         {settings.database.url}")
    for failed in summary.failed_mailboxes:
        print(f"  MAILBOX FAILED   {failed}")
    for held in summary.standing_by:
        print(f"  standing by      {held}")
    print("next: tiket tickets list | tiket tickets show TKT-000001 | tiket inbound list")


def agent_mail_warnings(settings: Settings) -> list[str]:
    """What `tiket check` says about agent mail verification (loudly when it is weakened)."""
    security = settings.security
    if not settings.agents:
        return ["agent mail: ok (no tier members, so no commands by mail)"]
    if security.agent_mail_auth == "token":
        return [
            'agent mail: WARNING: agent_mail_auth = "token": commands run on possession of a '
            "token alone, WITHOUT checking DMARC/DKIM/SPF. Anyone who sees one of our mails to an "
            "agent (a forward, a mailbox breach) can act as that agent. Set trusted_authserv_id "
            'and agent_mail_auth = "token+dmarc" once your server adds Authentication-Results.'
        ]
    if not security.trusted_authserv_id:
        return [
            'agent mail: WARNING: agent_mail_auth = "token+dmarc" but [security] '
            "trusted_authserv_id is empty: EVERY agent command by mail will be refused"
        ]
    return [
        f"agent mail: ok (token + DMARC or aligned DKIM/SPF per the Authentication-Results "
        f"of {security.trusted_authserv_id})"
    ]


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Validate config and reach every mailbox, the database and the outbox."""
    from pipeline.daemon import make_source
    from pipeline.edges.smtp_sender import open_sender

    problems = 0
    print(f"config: ok ({', '.join(settings.sources)})")
    for line in agent_mail_warnings(settings):
        print(line)
    try:
        store = _open_store(settings)
        print(f"database: ok ({settings.database.url}, schema ok: {store.schema_ok()})")
    except Exception as exc:  # report every failure, then exit 1
        problems += 1
        print(f"database: FAILED: {type(exc).__name__}: {exc}")
    for mailbox in settings.mailboxes:
        source = make_source(mailbox)
        try:
            uidvalidity = source.open()
            print(
                f"mailbox {mailbox.name}: ok ({len(source.pending_uids())} mail(s) waiting, "
                f"uidvalidity {uidvalidity}, idle {source.idle_supported})"
            )
        except TiketError as exc:
            problems += 1
            print(f"mailbox {mailbox.name}: FAILED: {exc}")
        finally:
            source.close()
    try:
        with open_sender(settings.outbox, settings.sources[-1]):
            print(f"outbox: ok ({settings.outbox.url})")
    except TiketError as exc:
        problems += 1
        print(f"outbox: FAILED: {exc}")
    return 1 if problems else 0


def cmd_tickets_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.edges.views import list_tickets

    _open_store(settings)
    rows = list_tickets(status=args.status, tier=args.tier)
    if args.breached:
        rows = _breached_only(settings, rows)
    if args.json:
        _print_json(rows)
    else:
        _print_table(
            rows,
            ("ref", "status", "priority", "kind", "category", "requester", "subject"),
            "no tickets",
        )
    return 0


def _breached_only(settings: Settings, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from pipeline.jobs.desk import Desk
    from pipeline.stages.lifecycle import clock_facts
    from pipeline.stages.sla import CLOCKS, clock_view

    desk = Desk(settings, _open_store(settings))
    now = datetime.now(UTC)
    kept = []
    for row in rows:
        facts = clock_facts(desk.store.ticket_state(row["ref"]))
        missed = [c for c in CLOCKS if clock_view(c, facts, desk.policy.sla, now).breached]
        if missed:
            kept.append(dict(row, breached=missed))
    return kept


def _clocks_and_similar(desk: Any, ref: str) -> dict[str, Any]:
    from pipeline.stages.lifecycle import clock_facts
    from pipeline.stages.sla import CLOCKS, clock_view

    ticket = desk.store.ticket_state(ref)
    now = datetime.now(UTC)
    clocks = []
    for name in CLOCKS:
        view = clock_view(name, clock_facts(ticket), desk.policy.sla, now)
        state = (
            "breached"
            if view.breached
            else "met"
            if view.stopped_at
            else "paused"
            if view.paused
            else "running"
        )
        clocks.append(
            {
                "clock": name,
                "state": state,
                "due": view.due.isoformat(timespec="minutes") if view.due else None,
            }
        )
    similar = [
        {
            "ref": s.ref,
            "subject": s.subject,
            "score": round(s.score, 3),
            "resolution_note": s.resolution_note,
        }
        for s in desk.dossier(ticket).similar
    ]
    return {"sla": clocks, "similar": similar}


def _desk(settings: Settings) -> Any:
    from pipeline.jobs.desk import Desk

    return Desk(settings, _open_store(settings))


def cmd_ticket_action(args: argparse.Namespace, settings: Settings) -> int:
    """assign / escalate / resolve / close / reopen / pending / breach."""
    desk = _desk(settings)
    now = datetime.now(UTC)
    action = args.tickets_command
    if action == "assign":
        desk.assign(args.ref, args.tier, args.agent, now)
    elif action == "escalate":
        desk.escalate(args.ref, args.agent, args.reason or f"escalated by {args.agent}", now)
    elif action == "breach":
        desk.flag_breach(args.ref, args.agent, args.reason or f"flagged by {args.agent}", now)
    else:
        target = {"resolve": "resolved", "close": "closed", "reopen": "open", "pending": "pending"}[
            action
        ]
        desk.set_status(args.ref, target, args.agent, args.note, now)
    from pipeline.daemon import build_runtime, deliver_outbox

    deliver_outbox(build_runtime(settings))
    from pipeline.review import state_line

    print(state_line(desk.store.ticket_state(args.ref)))
    return 0


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    """The interactive queue (a real terminal), or one of its script actions."""
    from pipeline.review import run_review

    run_review(_desk(settings), args.agent, input, sys.stdout)
    return 0


def cmd_review_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.review import review_item

    desk = _desk(settings)
    items = [review_item(desk, ticket_id) for ticket_id in desk.store.review_queue()]
    if args.json:
        _print_json(items)
    else:
        rows = [
            dict(
                i,
                suggested=" ".join(
                    f"{s['head']}={s['label']}({s['confidence']:.0%})"
                    for s in i["suggestions"]  # type: ignore[attr-defined]
                ),
            )
            for i in items
        ]
        _print_table(
            rows,
            ("ref", "created_at", "requester", "suggested", "subject"),
            "the review queue is empty",
        )
    return 0


def cmd_review_accept(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.review import state_line

    desk = _desk(settings)
    desk.review(args.ref, {}, args.agent, datetime.now(UTC))
    print(state_line(desk.store.ticket_state(args.ref)))
    return 0


def cmd_review_set(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.review import state_line

    changes = {
        k: v
        for k, v in (("kind", args.kind), ("category", args.category), ("priority", args.priority))
        if v
    }
    if not changes:
        print("tiket: give at least one of --kind, --category, --priority", file=sys.stderr)
        return 2
    desk = _desk(settings)
    desk.review(args.ref, changes, args.agent, datetime.now(UTC))
    print(state_line(desk.store.ticket_state(args.ref)))
    return 0


def cmd_sla_check(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.daemon import build_runtime, deliver_outbox

    try:
        now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    except ValueError:
        print(f"tiket: --now: not an ISO 8601 time: {args.now!r}", file=sys.stderr)
        return 2
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    desk = _desk(settings)
    run = desk.run_sla(now)
    deliver_outbox(build_runtime(settings), now)
    print(
        f"sla check at {now.isoformat(timespec='minutes')}: {run.breach_routes} breach route(s), "
        f"{run.warnings} warning(s), {run.breaches} breach(es), {run.escalations} "
        f"escalation(s), {run.closed} auto-closed"
    )
    return 0


def cmd_tickets_show(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.edges.views import show_ticket

    desk = _desk(settings)
    data = show_ticket(args.ref)
    data.update(_clocks_and_similar(desk, args.ref))
    if args.json:
        _print_json(data)
        return 0
    print(f"{data['ref']}  {data['subject']}")
    print(
        f"  status {data['status']}  priority {data['priority'] or '-'}  kind {data['kind'] or '-'}"
        f"  category {data['category'] or '-'}  tier {data['tier']}"
        f"{'  DATA BREACH SUSPECTED' if data['breach_suspected'] else ''}"
    )
    print(
        f"  requester {data['requester_name']} <{data['requester']}>  created {data['created_at']}"
    )
    for s in data["suggestions"]:
        print(
            f"  suggestion {s['head']}: {s['label']} ({s['confidence']:.2f}) "
            f"{'applied' if s['applied'] else 'waits for review'}"
        )
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
    print("\naudit:")
    for e in data["events"]:
        print(f"  {e['at']} {e['action']} by {e['actor']}: {e['detail']}")
    return 0


def cmd_inbound_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.edges.views import list_inbound

    return _show_rows(
        args,
        settings,
        list_inbound,
        ("id", "mailbox", "uid", "disposition", "rule", "ticket", "acknowledged", "message_id"),
        "no mail received yet",
    )


def cmd_quarantine_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.edges.views import list_quarantine

    return _show_rows(
        args,
        settings,
        list_quarantine,
        ("id", "mailbox", "stage", "attempts", "reason"),
        "quarantine is empty",
    )


def cmd_quarantine_show(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.edges.views import show_quarantine

    _open_store(settings)
    data = show_quarantine(args.id)
    if args.json:
        _print_json(data)
    else:
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
    from pipeline.daemon import build_runtime, hold
    from pipeline.edges import models as m

    runtime = build_runtime(settings)
    runtime.store.release(args.id, datetime.now(UTC), "cli")
    mailbox = m.Inbound.get_by_id(args.id).mailbox
    if not hold(runtime, f"mailbox:{mailbox}"):
        print(f"mail {args.id} released; the daemon working {mailbox} will process it")
        return 0
    for result in runtime.intake.process_pending(mailbox):
        print(
            f"mail {result.inbound_id}: {result.disposition}"
            f"{' ' + result.ticket_ref if result.ticket_ref else ''}"
            f"{' (' + result.error + ')' if result.error else ''}"
        )
    return 0


def cmd_outbox_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.edges.views import list_outbox

    return _show_rows(
        args,
        settings,
        list_outbox,
        ("id", "status", "attempts", "template", "to", "subject"),
        "outbox is empty",
    )


if __name__ == "__main__":
    sys.exit(main())
