"""Migrations: ordered, recorded schema changes for SQLite and PostgreSQL.

Each migration is (version, name, function(db)); `migrate` applies the missing ones in order, each in
its own transaction, and records it in schema_version. Never edit a released migration: add one.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable

from peewee import Database

from pipeline import models

log = logging.getLogger(__name__)


def _initial_schema(db: Database) -> None:
    db.create_tables([m for m in models.ALL_MODELS if m is not models.SchemaVersion], safe=True)


def _outbox_due_index(db: Database) -> None:
    db.execute_sql("CREATE INDEX IF NOT EXISTS outbox_status_due ON outbox (status, next_attempt_at)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS inbound_state_attempts ON inbound (state, attempts)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS outbox_ack_sender ON outbox "
                   "(first_recipient, template, created_at)")


MIGRATIONS: tuple[tuple[int, str, Callable[[Database], None]], ...] = (
    (1, "initial schema", _initial_schema),
    (2, "indexes for the outbox job, retries and the acknowledgement cap", _outbox_due_index),
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
