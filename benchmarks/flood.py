"""Floods and loops: 10,000 mails from one sender plus a naive auto-responder, against the cap.

    python benchmarks/flood.py [--mails 10000] [--chunk 1000] [--cap 10] [--database-url URL]

The mails arrive in a Maildir in chunks; after each chunk one intake pass runs (as the daemon's
poll would) and the process's RSS is printed, so a leak shows as growth from chunk to chunk. Then
a naive auto-responder (no Auto-Submitted, In-Reply-To our mail) answers every mail we sent, for
a few rounds. Printed: tickets, acknowledgements (must be <= the cap), responder rounds until rest,
RSS before and after. tests/test_floods.py runs the same helpers on a smaller count.
"""

from __future__ import annotations

import argparse
import email
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def flood_mail(n: int, sender: str) -> bytes:
    """Mail n of a flood: a fresh Message-ID and subject each time, one sender."""
    return (
        f"From: Flood <{sender}>\r\nTo: support@example.org\r\nSubject: Urgent request {n}\r\n"
        f"Message-ID: <flood-{n}-{sender}>\r\nDate: Fri, 27 Nov 2026 08:00:00 +0000\r\n\r\n"
        f"Please help with item {n}.\r\n"
    ).encode()


def naive_reply(ours: bytes) -> bytes:
    """What a naive auto-responder answers to one of our mails: no Auto-Submitted, no
    Precedence, no loop marker copied, an ordinary "Re:" subject, In-Reply-To our Message-ID."""
    head = email.message_from_bytes(ours.split(b"\r\n\r\n", 1)[0])
    to = str(head["To"]).split(",")[0].strip()
    return (
        f"From: {to}\r\nTo: {head['From']}\r\nSubject: Re: {head['Subject']}\r\n"
        f"Message-ID: <auto-{abs(hash(head['Message-ID']))}@{to.split('@')[-1]}>\r\n"
        f"In-Reply-To: {head['Message-ID']}\r\nReferences: {head['Message-ID']}\r\n"
        "Date: Fri, 27 Nov 2026 08:00:05 +0000\r\n\r\n"
        "Thank you for your mail. I am out of the office and will answer when I am back.\r\n"
    ).encode()


def naive_replies(rows: Iterable[Any]) -> list[tuple[int, bytes]]:
    """(outbox row id, the responder's answer) for each outbox row given."""
    return [(row.id, naive_reply(bytes(row.raw))) for row in rows]


def put(maildir: Path, name: str, raw: bytes) -> None:
    """Deliver one mail into a Maildir's new/."""
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    (maildir / "new" / name).write_bytes(raw)


def rss_mb() -> float:
    """Resident set size of this process now, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--cap", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    from pipeline.app import Tiket
    from pipeline.cli import setup_logging
    from pipeline.edges import models as m
    from pipeline.jobs.intake import NoTriage
    from tests.tiket_fixtures import test_settings

    setup_logging("ERROR")
    work = Path(tempfile.mkdtemp(prefix="tiket-flood-"))
    extra: dict[str, dict[str, Any]] = {"intake": {"ack_cap_per_hour": args.cap}}
    if args.database_url:
        extra["database"] = {"url": args.database_url}
    runtime = Tiket.open(test_settings(work, extra=extra), triager=NoTriage())
    maildir = work / "Maildir"
    sender = "flooder@example.com"
    started, rss = time.perf_counter(), []
    for start in range(0, args.mails, args.chunk):
        for n in range(start, min(args.mails, start + args.chunk)):
            put(maildir, f"f{n}", flood_mail(n, sender))
        runtime.run_once()
        rss.append(rss_mb())
        print(f"  after {min(args.mails, start + args.chunk):>6} mails: RSS {rss[-1]:.0f} MB")
    flood_seconds = time.perf_counter() - started
    answered: set[int] = set()
    rounds = []
    for round_ in range(args.rounds):
        replies = naive_replies(m.OutboxRow.select().where(m.OutboxRow.id.not_in(answered or {0})))
        answered |= {row_id for row_id, _ in replies}
        rounds.append(len(replies))
        for row_id, raw in replies:
            put(maildir, f"r{round_}-{row_id}", raw)
        runtime.run_once()
    tickets = m.Ticket.select().count()
    acks = (
        m.OutboxRow.select()
        .where(
            (m.OutboxRow.first_recipient == sender) & (m.OutboxRow.template == "acknowledgement")
        )
        .count()
    )
    total_out = m.OutboxRow.select().count()
    print(
        f"flood: {args.mails} mails from one sender in {flood_seconds:.1f} s "
        f"({args.mails / flood_seconds:.0f} mails/s), cap {args.cap}/hour"
    )
    print(f"  tickets             {tickets}")
    print(f"  acknowledgements    {acks} (cap {args.cap}); all mail sent to anyone: {total_out}")
    print(f"  auto-responder      answers per round {rounds} (0 = at rest)")
    print(
        f"  RSS                 {rss[0]:.0f} MB after the first chunk, {rss[-1]:.0f} MB after "
        f"the last ({rss[-1] - rss[0]:+.0f} MB over {len(rss) - 1} more chunks)"
    )
    ok = acks <= args.cap and total_out <= args.cap and rounds[-1] == 0
    print("  RESULT              " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
