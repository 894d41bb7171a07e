"""Migrations: ordered, recorded schema changes for SQLite and PostgreSQL.

Each migration is (version, name, function(db)); `migrate` applies the missing ones in order, each in
its own transaction, and records it in schema_version. Never edit a released migration: add one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from peewee import BlobField, Database, Field, PostgresqlDatabase
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_migrations

from pipeline.edges import models

log = logging.getLogger(__name__)


V1_MODELS = (
    "ticket",
    "participant",
    "inbound",
    "message",
    "attachment",
    "suggestion",
    "decision",
    "auditevent",
    "outbox",
)


def _initial_schema(db: Database) -> None:
    tables = [m for m in models.ALL_MODELS if m._meta.table_name in V1_MODELS]
    with (
        _with_field(models.Inbound, "raw", BlobField()),  # moved to inbound_raw by migration 11
        _without_columns(models.Ticket, "assignee", "resolution_note", "version"),
        _without_columns(models.Inbound, "sender_key", "body_key", "arrived_at"),
        _without_columns(models.OutboxRow, "recipient_key"),
    ):
        db.create_tables(tables, safe=True)


class _without_columns:
    """Create a v1 table without columns that a later migration adds (keeps v1 what it was)."""

    def __init__(self, model: type[models.BaseModel], *names: str) -> None:
        self.model = model
        self.fields = [model._meta.fields[n] for n in names]

    def __enter__(self) -> None:
        for field in self.fields:
            self.model._meta.remove_field(field.name)

    def __exit__(self, *exc: object) -> None:
        for field in self.fields:
            self.model._meta.add_field(field.name, field)


class _with_field:
    """Create a v1 table with a column that a later migration moved away."""

    def __init__(self, model: type[models.BaseModel], name: str, field: Field) -> None:
        self.model, self.name, self.field = model, name, field

    def __enter__(self) -> None:
        self.model._meta.add_field(self.name, self.field)

    def __exit__(self, *exc: object) -> None:
        self.model._meta.remove_field(self.name)


def _lifecycle(db: Database) -> None:
    migrator = SchemaMigrator.from_database(db)
    run_migrations(
        migrator.add_column("ticket", "assignee", models.Ticket.assignee),
        migrator.add_column("ticket", "resolution_note", models.Ticket.resolution_note),
    )
    db.create_tables([models.StatusChange, models.SlaEvent, models.Lease], safe=True)
    db.execute_sql("CREATE INDEX IF NOT EXISTS ticket_tier_status ON ticket (tier, status)")


def _outbox_due_index(db: Database) -> None:
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS outbox_status_due ON outbox (status, next_attempt_at)"
    )
    db.execute_sql("CREATE INDEX IF NOT EXISTS inbound_state_attempts ON inbound (state, attempts)")
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS outbox_ack_sender ON outbox "
        "(first_recipient, template, created_at)"
    )


def _wide_uids(db: Database) -> None:
    """IMAP UIDs and UIDVALIDITY are unsigned 32-bit and Maildir uids 60-bit hashes: BIGINT.

    SQLite's INTEGER is already 64-bit; PostgreSQL's integer is signed 32-bit.
    """
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(
            "ALTER TABLE inbound ALTER COLUMN uid TYPE BIGINT, ALTER COLUMN uidvalidity TYPE BIGINT"
        )


def _digest_indexes(db: Database) -> None:
    """Indexes for the managers' digest: resolutions by day, the open backlog (index-only: tier,
    age and the breach flag), escalations by day."""
    db.execute_sql("CREATE INDEX IF NOT EXISTS ticket_resolved_at ON ticket (resolved_at)")
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS ticket_open_backlog ON ticket "
        "(status, tier, created_at, breach_suspected)"
    )
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS auditevent_action_created ON auditevent (action, created_at)"
    )


SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS ticket_fts USING fts5(subject)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5(body, ticket_id UNINDEXED)",
    "CREATE TRIGGER IF NOT EXISTS ticket_fts_ai AFTER INSERT ON ticket BEGIN "
    "INSERT INTO ticket_fts (rowid, subject) VALUES (new.id, new.subject); END",
    "CREATE TRIGGER IF NOT EXISTS ticket_fts_au AFTER UPDATE OF subject ON ticket BEGIN "
    "UPDATE ticket_fts SET subject = new.subject WHERE rowid = new.id; END",
    "CREATE TRIGGER IF NOT EXISTS ticket_fts_ad AFTER DELETE ON ticket BEGIN "
    "DELETE FROM ticket_fts WHERE rowid = old.id; END",
    "CREATE TRIGGER IF NOT EXISTS message_fts_ai AFTER INSERT ON message BEGIN "
    "INSERT INTO message_fts (rowid, body, ticket_id) VALUES (new.id, new.body, new.ticket_id); END",
    "CREATE TRIGGER IF NOT EXISTS message_fts_au AFTER UPDATE OF ticket_id ON message BEGIN "
    "UPDATE message_fts SET ticket_id = new.ticket_id WHERE rowid = new.id; END",
    "CREATE TRIGGER IF NOT EXISTS message_fts_ad AFTER DELETE ON message BEGIN "
    "DELETE FROM message_fts WHERE rowid = old.id; END",
    "INSERT INTO ticket_fts (rowid, subject) SELECT id, subject FROM ticket",
    "INSERT INTO message_fts (rowid, body, ticket_id) SELECT id, body, ticket_id FROM message",
)
"""SQLite full-text search: FTS5 tables kept by triggers, so every writer (intake, the desk, a
bulk load) feeds them without knowing."""

POSTGRES_SEARCH = (
    "CREATE INDEX IF NOT EXISTS ticket_subject_fts ON ticket "
    "USING gin (to_tsvector('simple', subject))",
    "CREATE INDEX IF NOT EXISTS message_body_fts ON message "
    "USING gin (to_tsvector('simple', body))",
)
"""PostgreSQL full-text search: expression indexes (nothing to keep in step)."""


QUEUE_INDEX = (
    "CREATE INDEX IF NOT EXISTS ticket_queue ON ticket (status, tier, needs_review, priority, "
    "breach_suspected, first_response_at, created_at, assignee)"
)
"""Covers the console queue's filters and its nominal deadline: sorting and counting the open
tickets never reads the table (a page then reads its 50 rows)."""


def _web_console(db: Database) -> None:
    """The web console: a version per ticket (edit conflicts), sessions, sign-in requests, saved
    views, canned replies, full-text search and the queue's index."""
    db.execute_sql("ALTER TABLE ticket ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
    db.create_tables(
        [models.WebSession, models.SignInRequest, models.SavedView, models.CannedReply], safe=True
    )
    db.execute_sql(QUEUE_INDEX)
    for sql in POSTGRES_SEARCH if isinstance(db, PostgresqlDatabase) else SQLITE_SEARCH:
        db.execute_sql(sql)
    now = datetime.now(UTC).replace(tzinfo=None)
    for name, body in CANNED_REPLIES:
        models.CannedReply.create(name=name, body=body, updated_by="tiket", updated_at=now)


CANNED_REPLIES = (
    (
        "Password reset done",
        "Hello {requester_name},\n\nI have reset your password. You will be asked to choose a "
        "new one at your next sign-in.\n\nRegards,\n{agent_name}\n{desk_name}",
    ),
    (
        "Need more details",
        "Hello {requester_name},\n\nto look into {ref} ({subject}) I need a little more: "
        "what exactly happens, since when, and a screenshot of any error message.\n\n"
        "Regards,\n{agent_name}\n{desk_name}",
    ),
)
"""The canned replies a new desk starts with (the desk edits them in the console)."""


def _flood_keys(db: Database) -> None:
    """Normalised sender and body keys for the acknowledgement caps and the loop guard."""
    migrator = SchemaMigrator.from_database(db)
    run_migrations(
        migrator.add_column("inbound", "sender_key", models.Inbound.sender_key),
        migrator.add_column("inbound", "body_key", models.Inbound.body_key),
        migrator.add_column("outbox", "recipient_key", models.OutboxRow.recipient_key),
    )
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS outbox_ack_key ON outbox (recipient_key, template, created_at)"
    )
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS outbox_template_created ON outbox (template, created_at)"
    )
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS inbound_loop ON inbound (sender_key, body_key, received_at)"
    )


def _proactive(db: Database) -> None:
    """Major incidents and their members, calls, published fixes (issue 13)."""
    from pipeline.edges.proactive_models import PROACTIVE_MODELS

    db.create_tables(list(PROACTIVE_MODELS), safe=True)


REDUNDANT_INDEXES = (
    "ticket_status",  # ticket_open_backlog (status, tier, created_at, breach_suspected)
    "participant_ticket_id",  # participant (ticket_id, address), unique
    "inbound_state",  # inbound_state_attempts (state, attempts)
    "auditrow_action",  # auditevent_action_created (action, created_at)
    "auditevent_action",  # the same, named before the model class was renamed
    "outboxrow_first_recipient",  # outbox_ack_sender (first_recipient, template, created_at)
    "outbox_first_recipient",
    "outboxrow_status",  # outbox_status_due (status, next_attempt_at)
    "outbox_status",
    "slaevent_ticket_id",  # slaevent (ticket_id, clock, kind, tier), unique
)
"""Single-column indexes (named by Peewee after the model class) that are prefixes of a composite
index, which serves their queries."""


def _drop_redundant_indexes(db: Database) -> None:
    """Every index is paid on each INSERT and UPDATE of its columns; these serve no query that
    the composite index they prefix does not (migration 9: numbers 6-8 are taken by other work)."""
    for name in REDUNDANT_INDEXES:
        db.execute_sql(f"DROP INDEX IF EXISTS {name}")


def _arrival(db: Database) -> None:
    """When the mail server took each mail (IMAP INTERNALDATE, a Maildir file's mtime): a backlog
    fetched at once after downtime arrived over hours, and the burst detector must see that."""
    migrator = SchemaMigrator.from_database(db)
    run_migrations(migrator.add_column("inbound", "arrived_at", models.Inbound.arrived_at))


def _raw_apart(db: Database) -> None:
    """Each mail's raw bytes move to inbound_raw: SQLite rewrites the whole row, blob and all, on
    each of the updates a mail's row gets (claimed, done, moved on the server)."""
    db.create_tables([models.InboundRaw], safe=True)
    db.execute_sql("INSERT INTO inbound_raw (inbound_id, raw) SELECT id, raw FROM inbound")
    # SQLite 3.35+ (checked when the database is opened); never a table rebuild, whose DROP TABLE
    # would run the ON DELETE actions of every row that refers to an inbound mail
    db.execute_sql("ALTER TABLE inbound DROP COLUMN raw")


SEARCH_WITHOUT_COPIES = (
    "DROP TRIGGER IF EXISTS ticket_fts_ai",
    "DROP TRIGGER IF EXISTS ticket_fts_au",
    "DROP TRIGGER IF EXISTS ticket_fts_ad",
    "DROP TABLE IF EXISTS ticket_fts",
    "DROP TRIGGER IF EXISTS message_fts_ai",
    "DROP TRIGGER IF EXISTS message_fts_au",
    "DROP TRIGGER IF EXISTS message_fts_ad",
    "DROP TABLE IF EXISTS message_fts",
    "CREATE VIRTUAL TABLE ticket_fts USING fts5(subject, content='ticket', content_rowid='id', "
    "detail=none)",
    "CREATE TRIGGER ticket_fts_ai AFTER INSERT ON ticket BEGIN "
    "INSERT INTO ticket_fts (rowid, subject) VALUES (new.id, new.subject); END",
    "CREATE TRIGGER ticket_fts_ad AFTER DELETE ON ticket BEGIN "
    "INSERT INTO ticket_fts (ticket_fts, rowid, subject) VALUES ('delete', old.id, old.subject); "
    "END",
    "CREATE TRIGGER ticket_fts_au AFTER UPDATE OF subject ON ticket BEGIN "
    "INSERT INTO ticket_fts (ticket_fts, rowid, subject) VALUES ('delete', old.id, old.subject); "
    "INSERT INTO ticket_fts (rowid, subject) VALUES (new.id, new.subject); END",
    "CREATE VIRTUAL TABLE message_fts USING fts5(body, ticket_id UNINDEXED, content='message', "
    "content_rowid='id', detail=none)",
    "CREATE TRIGGER message_fts_ai AFTER INSERT ON message BEGIN "
    "INSERT INTO message_fts (rowid, body, ticket_id) VALUES (new.id, new.body, new.ticket_id); END",
    "CREATE TRIGGER message_fts_ad AFTER DELETE ON message BEGIN "
    "INSERT INTO message_fts (message_fts, rowid, body, ticket_id) "
    "VALUES ('delete', old.id, old.body, old.ticket_id); END",
    "CREATE TRIGGER message_fts_au AFTER UPDATE OF body ON message BEGIN "
    "INSERT INTO message_fts (message_fts, rowid, body, ticket_id) "
    "VALUES ('delete', old.id, old.body, old.ticket_id); "
    "INSERT INTO message_fts (rowid, body, ticket_id) VALUES (new.id, new.body, new.ticket_id); END",
    "INSERT INTO ticket_fts (ticket_fts) VALUES ('rebuild')",
    "INSERT INTO message_fts (message_fts) VALUES ('rebuild')",
)
"""SQLite: the search indexes read subjects and bodies (and a message's ticket id) from the
ticket and message tables themselves (external-content FTS5 tables) instead of keeping a second
copy of each, and keep no word positions (detail=none): the console asks for words and prefixes,
never phrases (console_store.fts_query splits words as the tokenizer does)."""


def _search_without_copies(db: Database) -> None:
    """Search without copies of subjects and bodies (SQLite; PostgreSQL indexes expressions)."""
    if not isinstance(db, PostgresqlDatabase):
        for sql in SEARCH_WITHOUT_COPIES:
            db.execute_sql(sql)


SEARCH_INDEX_PER_BATCH = (
    "CREATE TABLE search_deferred (ticket_after INTEGER NOT NULL, message_after INTEGER NOT NULL)",
    "DROP TRIGGER ticket_fts_ai",
    "CREATE TRIGGER ticket_fts_ai AFTER INSERT ON ticket "
    "WHEN NOT EXISTS (SELECT 1 FROM search_deferred) BEGIN "
    "INSERT INTO ticket_fts (rowid, subject) VALUES (new.id, new.subject); END",
    "DROP TRIGGER message_fts_ai",
    "CREATE TRIGGER message_fts_ai AFTER INSERT ON message "
    "WHEN NOT EXISTS (SELECT 1 FROM search_deferred) BEGIN "
    "INSERT INTO message_fts (rowid, body, ticket_id) VALUES (new.id, new.body, new.ticket_id); END",
)
"""SQLite: an intake batch indexes its new tickets and messages for search in one statement at its
end (Store.batch) instead of one trigger call per row. Inside a transaction, FTS5 writes its
pending terms out as a new segment at every statement that touches the index, so row by row each
mail left two small segments to be merged again and again. While a batch runs, its transaction
holds the one row of search_deferred (the highest ids before it), which turns the insert triggers
off; no other connection ever sees that row, since it is gone before the commit."""


def _search_index_per_batch(db: Database) -> None:
    """Insert triggers that an intake batch can turn off (SQLite; PostgreSQL indexes expressions)."""
    if not isinstance(db, PostgresqlDatabase):
        for sql in SEARCH_INDEX_PER_BATCH:
            db.execute_sql(sql)


MIGRATIONS: tuple[tuple[int, str, Callable[[Database], None]], ...] = (
    (1, "initial schema", _initial_schema),
    (2, "indexes for the outbox job, retries and the acknowledgement cap", _outbox_due_index),
    (3, "lifecycle: assignee, resolution note, status changes, SLA events, leases", _lifecycle),
    (4, "64-bit mailbox uids and uidvalidity (PostgreSQL)", _wide_uids),
    (5, "indexes for the managers' digest", _digest_indexes),
    (6, "normalised sender, recipient and body keys for the flood caps", _flood_keys),
    (
        7,
        "web console: ticket versions, sessions, saved views, canned replies, search",
        _web_console,
    ),
    (8, "major incidents, calls, published fixes", _proactive),
    (9, "drop single-column indexes that prefix a composite one", _drop_redundant_indexes),
    (10, "the server's arrival time of each mail", _arrival),
    (11, "raw bytes of inbound mail in a table of their own", _raw_apart),
    (
        12,
        "search reads subjects and bodies from their tables (SQLite)",
        _search_without_copies,
    ),
    (
        13,
        "an intake batch indexes its mails for search at its end (SQLite)",
        _search_index_per_batch,
    ),
)


def applied_versions(db: Database) -> set[int]:
    """Versions already recorded in schema_version (creating that table when missing)."""
    db.create_tables([models.SchemaVersion], safe=True)
    return {row.version for row in models.SchemaVersion.select(models.SchemaVersion.version)}


_LOCK_KEY = 0x7469_6B65_74  # "tiket": the PostgreSQL advisory lock that serialises migrations


@contextmanager
def _migration_lock(db: Database) -> Iterator[None]:
    """Several daemons may start at once on one database: one migrates, the others wait.

    PostgreSQL: a session advisory lock (concurrent CREATE TABLE IF NOT EXISTS can still fail on
    PostgreSQL). SQLite serialises writers itself; each migration takes the write lock at BEGIN.
    """
    if not isinstance(db, PostgresqlDatabase):
        yield
        return
    db.execute_sql("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        yield
    finally:
        db.execute_sql("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def migrate(db: Database) -> list[int]:
    """Apply every missing migration in order; returns the versions applied now.

    Safe when several processes start together: a version another process applied meanwhile is
    skipped (checked again inside the migration's own write transaction).
    """
    with _migration_lock(db):
        return _migrate_locked(db)


def _migrate_locked(db: Database) -> list[int]:
    done = applied_versions(db)
    applied = []
    lock = {} if isinstance(db, PostgresqlDatabase) else {"lock_type": "IMMEDIATE"}
    for version, name, function in MIGRATIONS:
        if version in done:
            continue
        with db.atomic(**lock):
            if models.SchemaVersion.get_or_none(models.SchemaVersion.version == version):
                continue
            function(db)
            models.SchemaVersion.create(
                version=version, name=name, applied_at=datetime.now(UTC).replace(tzinfo=None)
            )
        log.info("migration applied version=%d name=%r", version, name)
        applied.append(version)
    return applied


def current_version(db: Database) -> int:
    """The highest applied migration, 0 for an empty database."""
    return max(applied_versions(db), default=0)


def latest_version() -> int:
    """The highest migration this code knows."""
    return MIGRATIONS[-1][0]
