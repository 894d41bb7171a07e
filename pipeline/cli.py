"""CLI: parse argv, load settings, call one function, map errors to exit codes (0 ok, 1 runtime, 2 usage/config).

Every subcommand's help ends with an example.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from pipeline.errors import ConfigError, NotFound, TiketError
from pipeline.settings import Settings, load_settings

log = logging.getLogger("tiket")
Handler = Callable[[argparse.Namespace, Settings], int]


def _parser_with_example(sub: Any, name: str, help_text: str, example: str,
                         handler: Handler | None = None) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, description=help_text, epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(
        prog="tiket", description="Email-driven ticket intake for IT service desks.",
        epilog="example:\n  tiket run --once", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="FILE", help="TOML file (default: $TIKET_CONFIG, "
                        "else the embedded defaults)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _parser_with_example(sub, "init", "create or migrate the database", "tiket --config desk.toml init",
                         cmd_init)
    run = _parser_with_example(sub, "run", "watch the mailboxes and send mail (until SIGTERM)",
                               "tiket run --once", cmd_run)
    run.add_argument("--once", action="store_true",
                     help="process everything pending, deliver due mail, print a summary, exit")
    _parser_with_example(sub, "check", "validate the config and reach every mailbox, the database "
                         "and the SMTP server", "tiket --config desk.toml check", cmd_check)

    tickets = _parser_with_example(sub, "tickets", "list and show tickets", "tiket tickets list")
    tsub = tickets.add_subparsers(dest="tickets_command", metavar="ACTION", required=True)
    tlist = _parser_with_example(tsub, "list", "list tickets, newest first",
                                 "tiket tickets list --status new --json", cmd_tickets_list)
    tlist.add_argument("--status", help="only this status (new, open, in_progress, pending, ...)")
    tlist.add_argument("--tier", help="only this tier (L1, L2, L3)")
    tlist.add_argument("--json", action="store_true", help="one JSON array")
    tshow = _parser_with_example(tsub, "show", "one ticket with its conversation and audit trail",
                                 "tiket tickets show TKT-000001 --json", cmd_tickets_show)
    tshow.add_argument("ref")
    tshow.add_argument("--json", action="store_true")

    inbound = _parser_with_example(sub, "inbound", "received mail and what became of it",
                                   "tiket inbound list --json")
    isub = inbound.add_subparsers(dest="inbound_command", metavar="ACTION", required=True)
    ilist = _parser_with_example(isub, "list", "every received mail with its disposition",
                                 "tiket inbound list --json", cmd_inbound_list)
    ilist.add_argument("--json", action="store_true")

    quarantine = _parser_with_example(sub, "quarantine", "mails that could not be processed",
                                      "tiket quarantine list")
    qsub = quarantine.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)
    qlist = _parser_with_example(qsub, "list", "quarantined mails with stage and reason",
                                 "tiket quarantine list --json", cmd_quarantine_list)
    qlist.add_argument("--json", action="store_true")
    qshow = _parser_with_example(qsub, "show", "one quarantined mail with its traceback",
                                 "tiket quarantine show 17", cmd_quarantine_show)
    qshow.add_argument("id", type=int)
    qshow.add_argument("--json", action="store_true")
    qrel = _parser_with_example(qsub, "release", "replay a quarantined mail (after a fix)",
                                "tiket quarantine release 17", cmd_quarantine_release)
    qrel.add_argument("id", type=int)

    outbox = _parser_with_example(sub, "outbox", "outgoing mail and its delivery state",
                                  "tiket outbox list")
    osub = outbox.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    olist = _parser_with_example(osub, "list", "every outgoing mail with status and attempts",
                                 "tiket outbox list --json", cmd_outbox_list)
    olist.add_argument("--json", action="store_true")

    try:
        from classifiers.cli import register
    except ImportError:  # classifiers not installed: intake still works, triage degrades
        pass
    else:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tiket` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
    except TiketError as exc:
        print(f"tiket: {exc}", file=sys.stderr)
        return 1


def setup_logging(level: str) -> None:
    """key=value lines on stderr (journald and docker pick them up); mail-parser's chatter muted."""
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("mailparser").setLevel(logging.CRITICAL)
    logging.getLogger("imapclient").setLevel(logging.WARNING)


def _runtime(settings: Settings) -> Any:
    from pipeline.daemon import build_runtime

    return build_runtime(settings)


def _open_store(settings: Settings) -> Any:
    from datetime import timedelta

    from pipeline.store import Store, open_database

    db = open_database(settings)
    store = Store(db, settings.data_dir / "attachments", settings.desk.ref_prefix,
                  timedelta(seconds=settings.outbox.give_up_after_seconds))
    store.migrate()
    return store


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _print_table(rows: list[dict[str, Any]], columns: Sequence[str], empty: str) -> None:
    if not rows:
        print(empty)
        return
    widths = {c: min(60, max(len(c), *(len(str(r.get(c) or "")) for r in rows))) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c) if row.get(c) is not None else "-")[:60].ljust(widths[c])
                        for c in columns))


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    """Create or migrate the database."""
    from pipeline.migrations import latest_version

    store = _open_store(settings)
    print(f"database ready at {settings.database.url} (schema version {latest_version()})")
    return 0 if store.schema_ok() else 1


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the daemon, or one pass with --once."""
    from pipeline.daemon import Daemon, run_once

    runtime = _runtime(settings)
    if not args.once:
        return Daemon(runtime).run()
    summary = run_once(runtime)
    _print_summary(settings, runtime, summary)
    return 1 if summary.failed_mailboxes else 0


def _print_summary(settings: Settings, runtime: Any, summary: Any) -> None:
    d = summary.dispositions
    screened = ", ".join(f"{rule} {n}" for rule, n in sorted(summary.rules.items())
                         if rule in ("is_bounce", "is_auto_reply", "is_own_mail"))
    print(f"tiket: {summary.fetched} mail(s) fetched from {len(settings.mailboxes)} mailbox(es)")
    print(f"  tickets created  {d['ticket_created']}")
    print(f"  replies threaded {d['reply_added']}")
    print(f"  screened         {d['screened']}" + (f" ({screened})" if screened else ""))
    print(f"  duplicates       {d['duplicate']}")
    print(f"  quarantined      {d['quarantined']}  (see: tiket quarantine list)")
    print(f"  acknowledgements {summary.acknowledged} queued; outbox delivered "
          f"{summary.delivery.sent}, retrying {summary.delivery.retried}, "
          f"failed {summary.delivery.failed}")
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


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Validate config and reach every mailbox, the database and the outbox."""
    from pipeline.daemon import make_source
    from pipeline.smtp_sender import open_sender

    problems = 0
    print(f"config: ok ({', '.join(settings.sources)})")
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
            print(f"mailbox {mailbox.name}: ok ({len(source.pending_uids())} mail(s) waiting, "
                  f"uidvalidity {uidvalidity}, idle {source.idle_supported})")
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
    from pipeline.views import list_tickets

    _open_store(settings)
    rows = list_tickets(status=args.status, tier=args.tier)
    if args.json:
        _print_json(rows)
    else:
        _print_table(rows, ("ref", "status", "priority", "kind", "category", "requester", "subject"),
                     "no tickets")
    return 0


def cmd_tickets_show(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.views import show_ticket

    _open_store(settings)
    data = show_ticket(args.ref)
    if args.json:
        _print_json(data)
        return 0
    print(f"{data['ref']}  {data['subject']}")
    print(f"  status {data['status']}  priority {data['priority'] or '-'}  kind {data['kind'] or '-'}"
          f"  category {data['category'] or '-'}  tier {data['tier']}"
          f"{'  DATA BREACH SUSPECTED' if data['breach_suspected'] else ''}")
    print(f"  requester {data['requester_name']} <{data['requester']}>  created {data['created_at']}")
    for s in data["suggestions"]:
        print(f"  suggestion {s['head']}: {s['label']} ({s['confidence']:.2f}) "
              f"{'applied' if s['applied'] else 'waits for review'}")
    for msg in data["conversation"]:
        print(f"\n--- {msg['direction']} {msg['at']} from {msg['from']}: {msg['subject']}")
        print(msg["body"][:2000])
    print("\naudit:")
    for e in data["events"]:
        print(f"  {e['at']} {e['action']} by {e['actor']}: {e['detail']}")
    return 0


def cmd_inbound_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.views import list_inbound

    _open_store(settings)
    rows = list_inbound()
    if args.json:
        _print_json(rows)
    else:
        _print_table(rows, ("id", "mailbox", "uid", "disposition", "rule", "ticket", "acknowledged",
                            "message_id"), "no mail received yet")
    return 0


def cmd_quarantine_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.views import list_quarantine

    _open_store(settings)
    rows = list_quarantine()
    if args.json:
        _print_json(rows)
    else:
        _print_table(rows, ("id", "mailbox", "stage", "attempts", "reason"), "quarantine is empty")
    return 0


def cmd_quarantine_show(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.views import show_quarantine

    _open_store(settings)
    data = show_quarantine(args.id)
    if args.json:
        _print_json(data)
    else:
        for key in ("id", "mailbox", "uid", "message_id", "stage", "reason", "attempts", "size",
                    "sha256"):
            print(f"{key}: {data[key]}")
        print(f"\nheaders:\n{data['headers']}\n\ntraceback:\n{data['traceback'] or '-'}")
    return 0


def cmd_quarantine_release(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline import models as m
    from pipeline.daemon import build_runtime, hold

    runtime = build_runtime(settings)
    runtime.store.release(args.id, datetime.now(timezone.utc), "cli")
    mailbox = m.Inbound.get_by_id(args.id).mailbox
    if not hold(runtime, f"mailbox:{mailbox}"):
        print(f"mail {args.id} released; the daemon working {mailbox} will process it")
        return 0
    for result in runtime.intake.process_pending(mailbox):
        print(f"mail {result.inbound_id}: {result.disposition}"
              f"{' ' + result.ticket_ref if result.ticket_ref else ''}"
              f"{' (' + result.error + ')' if result.error else ''}")
    return 0


def cmd_outbox_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.views import list_outbox

    _open_store(settings)
    rows = list_outbox()
    if args.json:
        _print_json(rows)
    else:
        _print_table(rows, ("id", "status", "attempts", "template", "to", "subject"),
                     "outbox is empty")
    return 0


if __name__ == "__main__":
    sys.exit(main())
