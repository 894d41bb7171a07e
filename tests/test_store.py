"""Store: leases between daemons, migrations from an older schema, idempotent receive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from peewee import SqliteDatabase

from pipeline.app import Tiket, holder_is_dead
from pipeline.edges import migrations
from pipeline.edges import models as m
from pipeline.edges.console_store import fts_query
from pipeline.edges.store import open_database
from pipeline.jobs.intake import NoTriage
from pipeline.records import RawMail
from tests.tiket_fixtures import test_settings

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
TTL = timedelta(seconds=60)


def test_a_lease_has_one_live_holder_and_passes_on_after_expiry(tmp_path: Path) -> None:
    """A holds; B is refused until A's lease expires; A renews while it lives."""
    store = Tiket.open(test_settings(tmp_path), triager=NoTriage()).store
    assert store.acquire_lease("mailbox:x", "hostA:1", TTL, NOW)
    assert not store.acquire_lease("mailbox:x", "hostB:2", TTL, NOW + timedelta(seconds=30))
    assert store.acquire_lease("mailbox:x", "hostA:1", TTL, NOW + timedelta(seconds=50))
    assert not store.acquire_lease("mailbox:x", "hostB:2", TTL, NOW + timedelta(seconds=100))
    assert store.acquire_lease("mailbox:x", "hostB:2", TTL, NOW + timedelta(seconds=111))
    assert store.lease_holder("mailbox:x") == "hostB:2"


def test_a_dead_holder_on_this_host_is_replaced_at_once(tmp_path: Path) -> None:
    """A holder whose process is gone (same host) loses the lease without waiting for expiry."""
    import socket

    store = Tiket.open(test_settings(tmp_path), triager=NoTriage()).store
    dead = f"{socket.gethostname()}:999999999"
    assert holder_is_dead(dead) and not holder_is_dead(f"{socket.gethostname()}:1")
    assert store.acquire_lease("outbox", dead, TTL, NOW)
    assert store.acquire_lease("outbox", "me:1", TTL, NOW, holder_is_dead)


def test_migrations_upgrade_an_older_database_in_order(tmp_path: Path) -> None:
    """A database at version 2 gets the later migrations only, in order, with their changes."""
    db = open_database(test_settings(tmp_path))
    migrations.applied_versions(db)
    for version, name, function in migrations.MIGRATIONS[:2]:
        function(db)
        m.SchemaVersion.create(version=version, name=name, applied_at=NOW.replace(tzinfo=None))
    assert "assignee" not in [c.name for c in db.get_columns("ticket")]
    db.execute_sql(
        "INSERT INTO inbound (mailbox, uidvalidity, uid, message_id, sha256, raw, size, "
        "received_at, state, disposition, acknowledged, attempts, on_server) VALUES "
        f"('old', 1, 1, '<old@x>', 'f00d', {db.param}, 3, '2026-11-01 00:00:00', 'done', "
        "'ticket_created', FALSE, 1, 'processed')",
        [b"old"],
    )
    assert migrations.migrate(db) == [v for v, _, _ in migrations.MIGRATIONS[2:]]  # gaps allowed
    assert "assignee" in [c.name for c in db.get_columns("ticket")]
    assert "raw" not in [c.name for c in db.get_columns("inbound")]  # moved by migration 11
    assert [(r.inbound_id, bytes(r.raw)) for r in m.InboundRaw.select()] == [(1, b"old")]
    assert (
        migrations.migrate(db) == []
        and migrations.current_version(db) == migrations.latest_version()
    )
    store = Tiket.open(test_settings(tmp_path), triager=NoTriage()).store
    huge = RawMail(
        mailbox="x", uidvalidity=4_294_967_295, uid=2**60 - 1, raw=b"From: a@b.c\r\n\r\n"
    )
    [received] = store.receive_many([huge], NOW)
    assert m.Inbound.get_by_id(received.inbound_id).uid == 2**60 - 1


def test_receiving_the_same_uid_twice_stores_it_once(tmp_path: Path) -> None:
    """receive_many is idempotent per mailbox+uidvalidity+uid (a re-fetch after a crash)."""
    store = Tiket.open(test_settings(tmp_path), triager=NoTriage()).store
    mail = RawMail(mailbox="x", uidvalidity=7, uid=1, raw=b"From: a@b.c\r\n\r\nhi\r\n")
    first = store.receive_many([mail], NOW)
    again = store.receive_many([mail, mail], NOW)
    assert first[0].new and not any(r.new for r in again)
    assert m.Inbound.select().count() == 1


def test_message_search_follows_merges_edits_and_deletes(tmp_path: Path) -> None:
    """Message search finds a body's ticket, follows a merge, forgets an edited or deleted body.
    On SQLite the FTS5 index reads bodies from the message table and must stay consistent
    (integrity-check); PostgreSQL searches an expression index over the table itself."""
    store = Tiket.open(test_settings(tmp_path), triager=NoTriage()).store
    sqlite = isinstance(store.db, SqliteDatabase)
    sql = store.db.execute_sql
    when = NOW.replace(tzinfo=None)
    for ticket_id in (1, 2):
        m.Ticket.create(
            id=ticket_id, ref=f"TKT-{ticket_id:06d}", subject="s", requester="u@x",
            status="new", mailbox="m", created_at=when, updated_at=when,
        )  # fmt: skip
    m.Message.create(
        id=7, ticket=2, direction="in", message_id="<m@x>", sender="u@x", subject="s",
        body="toner smudges", created_at=when,
    )  # fmt: skip
    search = (
        "SELECT ticket_id FROM message_fts WHERE message_fts MATCH ?"
        if sqlite
        else "SELECT ticket_id FROM message WHERE to_tsvector('simple', body) @@ "
        "plainto_tsquery('simple', %s)"
    )

    def found(word: str) -> list[int]:
        return [row[0] for row in sql(search, [word]).fetchall()]

    def consistent() -> None:
        if sqlite:
            sql("INSERT INTO message_fts (message_fts) VALUES ('integrity-check')")

    assert found("toner") == [2]
    sql("UPDATE message SET ticket_id = 1 WHERE ticket_id = 2")  # a merge
    assert found("toner") == [1]
    sql("UPDATE message SET body = 'paper jam' WHERE id = 7")
    assert found("toner") == [] and found("jam") == [1]
    consistent()
    sql("DELETE FROM message WHERE id = 7")
    assert found("jam") == []
    consistent()
    m.Ticket.update(subject="Printer on fire").where(m.Ticket.id == 1).execute()
    if sqlite:  # the subject index (PostgreSQL: an expression index over the column)
        rows = sql("SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH ?", ['"printer"'])
        assert [row[0] for row in rows.fetchall()] == [1]
        sql("INSERT INTO ticket_fts (ticket_fts) VALUES ('integrity-check')")


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("vpn drops", '"vpn" "drops"*'),
        ("e-mail", '"e" "mail"*'),
        ("foo_bar", '"foo" "bar"*'),
        ('naïve "quoted" (x)', '"naïve" "quoted" "x"*'),
        ("3pm?", '"3pm"*'),
        ("--", ""),
    ],
)
def test_typed_words_become_single_word_terms(tmp_path: Path, typed: str, query: str) -> None:
    """The console's search words are cut as FTS5 cuts them (letters and digits), so no term is
    a phrase, which an index without positions refuses; SQLite runs each query without error."""
    assert fts_query(typed) == query
    store = Tiket.open(test_settings(tmp_path), triager=NoTriage()).store
    if query and isinstance(store.db, SqliteDatabase):
        store.db.execute_sql("SELECT rowid FROM message_fts WHERE message_fts MATCH ?", [query])
        store.db.execute_sql("SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH ?", [query])


def test_an_old_sqlite_is_refused_with_a_clear_answer(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Before 3.35 SQLite has no RETURNING and no DROP COLUMN: opening says so, naming the key,
    before any migration could half-run."""
    from pipeline.edges import store as store_module
    from pipeline.errors import ConfigError

    monkeypatch.setattr(store_module.sqlite3, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(store_module.sqlite3, "sqlite_version", "3.34.1")
    url = f"sqlite:///{tmp_path / 'old.db'}"
    settings = test_settings(tmp_path, extra={"database": {"url": url}})
    with pytest.raises(ConfigError, match=r"database\.url: this Python's SQLite is 3\.34\.1"):
        open_database(settings)
    assert not (tmp_path / "old.db").exists()
