"""Benchmark: build the managers' digest (figures + rendering) on a SQLite database of 1 M tickets.

The database is built once (cached in --dir, default a folder in the system temp dir) through the
real migrations, then bulk-loaded with executemany in one transaction with the secondary indexes
dropped and recreated afterwards: 90 days of tickets with suggestions (90 %), L1 decisions (20 %),
status changes, SLA events, escalation and intake audit events, inbound rows (1.1 per ticket, raw
empty) and outbox rows. Prints the build time, the DB size and the median of 3 digest builds.

    .venv/bin/python benchmarks/digest.py [--tickets 1000000] [--dir DIR] [--rebuild]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.edges.store import Store, open_database
from pipeline.jobs.digest_job import compute_figures, load_digest_input, render_digest
from pipeline.settings import Settings, load_settings
from pipeline.stages.digest import build_digest

NOW = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)
DAYS = 90
KINDS = ("incident", "request", "question")
CATEGORIES = (
    "network",
    "hardware",
    "software",
    "account",
    "email",
    "printer",
    "security",
    "access",
    "phone",
    "other",
)
PRIORITIES = ("P1", "P2", "P3", "P4", None)
PRIORITY_WEIGHTS = (3, 15, 50, 27, 5)
FR_HOURS = {"P1": 0.6, "P2": 1.2, "P3": 1.8, "P4": 2.2, None: 1.8}
MAILBOXES = ("support", "helpdesk", "security")
OPEN = ("new", "open", "in_progress", "pending")
DISPOSITIONS = (
    ("ticket_created", None),
    ("reply_added", None),
    ("screened", "is_bounce"),
    ("screened", "is_auto_reply"),
    ("screened", "is_own_mail"),
    ("duplicate", None),
    ("quarantined", None),
)


def fmt(moment: datetime) -> str:
    """peewee's SQLite text form of a naive UTC time."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def write_config(folder: Path) -> Path:
    path = folder / "tiket.toml"
    path.write_text(
        f"""[desk]
data_dir = "{folder}"
timezone = "Asia/Kuala_Lumpur"
log_level = "WARNING"
[database]
url = "sqlite:///{folder / "tiket.db"}"
[triage]
build_default = false
[outbox]
url = "file:{folder / "outbox"}"
tls = "none"
[digest]
managers = ["it-managers@example.org"]
""",
        encoding="utf-8",
    )
    return path


class Loader:
    """Bulk insert through one sqlite3 connection, one transaction."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
            "PRAGMA cache_size=-1000000; PRAGMA temp_store=MEMORY;"
        )

    def drop_indexes(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).fetchall()
        for name, _ in rows:
            self.conn.execute(f'DROP INDEX "{name}"')
        return [sql for _, sql in rows]

    def insert(self, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" * len(columns))
        names = ", ".join(f'"{c}"' for c in columns)
        self.conn.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)


def build(folder: Path, tickets: int) -> None:
    """Create the schema through the migrations, then bulk-load everything."""
    settings = load_settings(write_config(folder), env={})
    db = open_database(settings)
    Store(db, folder / "attachments", "TKT").migrate()
    db.close()
    loader = Loader(folder / "tiket.db")
    indexes = loader.drop_indexes()
    rng = random.Random(42)
    start = NOW - timedelta(days=DAYS)
    step = DAYS * 86400 / tickets
    facts: list[tuple[datetime, str | None, str]] = []
    loader.conn.execute("BEGIN")

    def ticket_rows() -> Iterator[tuple[Any, ...]]:
        for i in range(1, tickets + 1):
            created = start + timedelta(seconds=i * step + rng.random() * step)
            priority = rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0]
            age_h = (NOW - created).total_seconds() / 3600
            first = created + timedelta(hours=rng.expovariate(1 / FR_HOURS[priority]))
            first_at = fmt(first) if first < NOW and rng.random() < 0.97 else None
            resolved_h = rng.expovariate(1 / 20)
            if resolved_h < age_h and rng.random() < 0.97:
                status = rng.choice(("resolved", "closed", "closed"))
                resolved_at = fmt(created + timedelta(hours=resolved_h))
                closed_at = (
                    fmt(created + timedelta(hours=resolved_h + 48)) if status == "closed" else None
                )
            else:
                status, resolved_at, closed_at = rng.choice(OPEN), None, None
            tier = rng.choices(("L1", "L2", "L3"), (85, 12, 3))[0]
            breach = rng.random() < 0.004
            facts.append((created, first_at, tier))
            yield (
                i,
                f"TKT-{i:07d}",
                f"Printer {i % 500} on floor {i % 17} does not print",
                f"user{i % 20000}@example.com",
                "",
                status,
                rng.choice(KINDS),
                rng.choice(CATEGORIES),
                priority,
                tier,
                breach,
                rng.random() < 0.3,
                rng.choice(MAILBOXES),
                "en",
                fmt(created),
                fmt(created),
                first_at,
                resolved_at,
                closed_at,
            )

    loader.insert(
        "ticket",
        (
            "id",
            "ref",
            "subject",
            "requester",
            "requester_name",
            "status",
            "kind",
            "category",
            "priority",
            "tier",
            "breach_suspected",
            "needs_review",
            "mailbox",
            "language",
            "created_at",
            "updated_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
        ),
        ticket_rows(),
    )
    _related(loader, rng, facts)
    loader.conn.execute("COMMIT")
    for sql in indexes:
        loader.conn.execute(sql)
    loader.conn.execute("ANALYZE")
    loader.conn.close()
    (folder / "BUILT").write_text(str(tickets), encoding="utf-8")


def _related(
    loader: Loader, rng: random.Random, facts: list[tuple[datetime, str | None, str]]
) -> None:
    heads = ("kind", "category", "priority")

    def suggestions() -> Iterator[tuple[Any, ...]]:
        for i, (created, _, _) in enumerate(facts, 1):
            if rng.random() < 0.9:
                for head in heads:
                    label = (
                        rng.choice(CATEGORIES)
                        if head == "category"
                        else rng.choice(KINDS)
                        if head == "kind"
                        else rng.choice(PRIORITIES[:4])
                    )
                    yield (
                        i,
                        head,
                        label,
                        rng.random(),
                        rng.random() < 0.6,
                        "bench-1",
                        fmt(created),
                    )

    def decisions() -> Iterator[tuple[Any, ...]]:
        for i, (created, _, _) in enumerate(facts, 1):
            if rng.random() < 0.2:
                for head in rng.sample(heads, rng.randint(1, 2)):
                    label = (
                        rng.choice(CATEGORIES)
                        if head == "category"
                        else rng.choice(KINDS)
                        if head == "kind"
                        else rng.choice(PRIORITIES[:4])
                    )
                    at = created + timedelta(hours=rng.random() * 4)
                    yield (i, head, label, None, "agent@example.org", fmt(min(at, NOW)))

    def status_changes() -> Iterator[tuple[Any, ...]]:
        for i, (created, first_at, _) in enumerate(facts, 1):
            yield (i, "new", "open", "tiket", "", fmt(created))
            if first_at:
                yield (i, "open", "in_progress", "agent@example.org", "", first_at)

    def sla_events() -> Iterator[tuple[Any, ...]]:
        for i, (created, _, tier) in enumerate(facts, 1):
            if rng.random() < 0.05:
                at = min(created + timedelta(hours=3), NOW)
                yield (i, rng.choice(("first_response", "resolution")), "breach", tier, fmt(at))

    def audit_events() -> Iterator[tuple[Any, ...]]:
        for i, (created, _, tier) in enumerate(facts, 1):
            yield (i, "created", "tiket", "", fmt(created))
            if tier != "L1":
                at = min(created + timedelta(hours=3, minutes=1), NOW)
                yield (i, "escalated", "tiket", f"L1 -> {tier}: first response breached", fmt(at))

    def inbound() -> Iterator[tuple[Any, ...]]:
        uid = 0
        for i, (created, _, _) in enumerate(facts, 1):
            for extra in range(2 if rng.random() < 0.1 else 1):
                uid += 1
                disposition, rule = DISPOSITIONS[0] if extra == 0 else rng.choice(DISPOSITIONS[1:])
                yield (
                    "support",
                    1,
                    uid,
                    f"<m{uid}@bench>",
                    f"{uid:064x}",
                    b"",
                    0,
                    fmt(created),
                    "done",
                    disposition,
                    rule,
                    i if extra == 0 else None,
                    1,
                    "processed",
                    extra == 0,
                )

    def outbox() -> Iterator[tuple[Any, ...]]:
        for i, (created, _, _) in enumerate(facts, 1):
            failed = rng.random() < 0.005
            yield (
                f"<TKT-{i:07d}.ack@bench>",
                i,
                "acknowledgement",
                f"user{i}@example.com",
                f"user{i}@example.com",
                "[TKT] ack",
                b"",
                "failed" if failed else "sent",
                1,
                fmt(created),
                fmt(created + timedelta(days=2)),
                fmt(created),
            )

    loader.insert(
        "suggestion",
        ("ticket_id", "head", "label", "confidence", "applied", "model_version", "created_at"),
        suggestions(),
    )
    loader.insert(
        "decision", ("ticket_id", "head", "label", "suggested", "agent", "created_at"), decisions()
    )
    loader.insert(
        "statuschange",
        ("ticket_id", "from_status", "to_status", "actor", "reason", "created_at"),
        status_changes(),
    )
    loader.insert("slaevent", ("ticket_id", "clock", "kind", "tier", "created_at"), sla_events())
    loader.insert(
        "auditevent", ("ticket_id", "action", "actor", "detail", "created_at"), audit_events()
    )
    loader.insert(
        "inbound",
        (
            "mailbox",
            "uidvalidity",
            "uid",
            "message_id",
            "sha256",
            "raw",
            "size",
            "received_at",
            "state",
            "disposition",
            "rule",
            "ticket_id",
            "attempts",
            "on_server",
            "acknowledged",
        ),
        inbound(),
    )
    loader.insert(
        "outbox",
        (
            "message_id",
            "ticket_id",
            "template",
            "recipients",
            "first_recipient",
            "subject",
            "raw",
            "status",
            "attempts",
            "next_attempt_at",
            "give_up_at",
            "created_at",
        ),
        outbox(),
    )


def table_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {
            t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
            for t in (
                "ticket",
                "suggestion",
                "decision",
                "statuschange",
                "slaevent",
                "auditevent",
                "inbound",
                "outbox",
            )
        }
    finally:
        conn.close()


def time_digest(settings: Settings, store: Store, day: date) -> tuple[float, float, float, int]:
    """(load s, build s, render s, mail bytes) of one digest."""
    t0 = time.perf_counter()
    inp = load_digest_input(store.db, settings, day, NOW)
    t1 = time.perf_counter()
    figures = build_digest(inp)
    t2 = time.perf_counter()
    mail = render_digest(figures, settings, NOW)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2, len(mail.raw)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.gettempdir()) / f"tiket-digest-bench-{args.tickets}"
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "tiket.db"
    if args.rebuild or not (folder / "BUILT").exists():
        for stale in folder.glob("tiket.db*"):
            stale.unlink()
        began = time.perf_counter()
        build(folder, args.tickets)
        print(f"built {args.tickets:,} tickets in {time.perf_counter() - began:.1f} s")
    settings = load_settings(write_config(folder), env={})
    store = Store(open_database(settings), folder / "attachments", "TKT")
    store.migrate()
    day = NOW.astimezone(
        __import__("zoneinfo").ZoneInfo(settings.desk.timezone)
    ).date() - timedelta(days=1)
    counts = table_counts(db_path)
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    print(f"database size: {db_path.stat().st_size / 2**20:,.0f} MiB ({db_path})")
    runs = [time_digest(settings, store, day) for _ in range(3)]
    totals = [sum(r[:3]) for r in runs]
    best = runs[totals.index(statistics.median(totals))]
    print(
        f"digest for {day}: median of 3 = {statistics.median(totals):.3f} s "
        f"(load {best[0]:.3f} s, figures {best[1]:.3f} s, render {best[2]:.3f} s; "
        f"first run {totals[0]:.3f} s; mail {best[3]:,} bytes)"
    )
    figures = compute_figures(store, settings, day, NOW)
    print(
        f"figures: {figures.intake.total} tickets in, {figures.resolution.overall.measured} "
        f"resolved, backlog {figures.backlog.total}, breaches {figures.breach_count}, "
        f"escalations {figures.escalation_count}, received {figures.health.received}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
