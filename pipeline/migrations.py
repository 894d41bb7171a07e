"""Migrations: ordered, recorded schema changes for SQLite and PostgreSQL.

Each migration is (version, name, function(db)); `migrate` applies the missing ones in order, each in
its own transaction, and records it in schema_version. Never edit a released migration: add one.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable

from peewee import Database
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_migrations

from pipeline import models

log = logging.getLogger(__name__)


V1_MODELS = ("ticket", "participant", "inbound", "message", "attachment", "suggestion",
             "decision", "auditevent", "outbox")


def _initial_schema(db: Database) -> None:
    tables = [m for m in models.ALL_MODELS if m._meta.table_name in V1_MODELS]
    with _without_columns(models.Ticket, "assignee", "resolution_note"):
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


def _lifecycle(db: Database) -> None:
    migrator = SchemaMigrator.from_database(db)
    run_migrations(migrator.add_column("ticket", "assignee", models.Ticket.assignee),
                   migrator.add_column("ticket", "resolution_note", models.Ticket.resolution_note))
    db.create_tables([models.StatusChange, models.SlaEvent, models.Lease], safe=True)
    db.execute_sql("CREATE INDEX IF NOT EXISTS ticket_tier_status ON ticket (tier, status)")


def _outbox_due_index(db: Database) -> None:
    db.execute_sql("CREATE INDEX IF NOT EXISTS outbox_status_due ON outbox (status, next_attempt_at)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS inbound_state_attempts ON inbound (state, attempts)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS outbox_ack_sender ON outbox "
                   "(first_recipient, template, created_at)")


MIGRATIONS: tuple[tuple[int, str, Callable[[Database], None]], ...] = (
    (1, "initial schema", _initial_schema),
    (2, "indexes for the outbox job, retries and the acknowledgement cap", _outbox_due_index),
    (3, "lifecycle: assignee, resolution note, status changes, SLA events, leases", _lifecycle),
)


def applied_versions(db: Database) -> set[int]:
    """Versions already recorded in schema_version (creating that table when missing)."""
    db.create_tables([models.SchemaVersion], safe=True)
    return {row.version for row in models.SchemaVersion.select(models.SchemaVersion.version)}


def migrate(db: Database) -> list[int]:
    """Apply every missing migration in order; returns the versions applied now."""
    done = applied_versions(db)
    applied = []
    for version, name, function in MIGRATIONS:
        if version in done:
            continue
        with db.atomic():
            function(db)
            models.SchemaVersion.create(version=version, name=name,
                                        applied_at=datetime.now(timezone.utc).replace(tzinfo=None))
        log.info("migration applied version=%d name=%r", version, name)
        applied.append(version)
    return applied


def current_version(db: Database) -> int:
    """The highest applied migration, 0 for an empty database."""
    return max(applied_versions(db), default=0)


def latest_version() -> int:
    """The highest migration this code knows."""
    return MIGRATIONS[-1][0]
