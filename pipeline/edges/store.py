"""Store: every database transaction (receive, claim, apply_plan, quarantine, release, outbox); EDGE.

The only writer of models. Converts between aware UTC datetimes (records) and naive UTC (rows).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from peewee import Database, SqliteDatabase, fn
from playhouse.db_url import connect as connect_url

from pipeline.edges import fastsql
from pipeline.edges import models as m
from pipeline.edges.files import private_dir, touch_private, write_atomically
from pipeline.edges.migrations import current_version, latest_version, migrate
from pipeline.errors import ClaimLost, ConfigError, Conflict, NotFound
from pipeline.records import (
    AuditEvent,
    DueMail,
    IntakePlan,
    OutgoingMail,
    ParsedMail,
    RawMail,
    SenderHistory,
    StoredMail,
    Suggestion,
    TicketInfo,
    TicketState,
    TicketUpdate,
)
from pipeline.settings import Settings, read_secret
from pipeline.stages.addresses import normalised_address
from pipeline.vocabulary import OPEN_STATES

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(<[^<>\s]{1,500}>)", re.IGNORECASE | re.MULTILINE)
ACK_TEMPLATES = ("acknowledgement", "agent_notice")
"""Automatic answers to a sender: the per-sender and desk-wide caps count them."""


def outbox_recipients(value: str) -> list[str]:
    """An outbox row's recipients: a JSON list (rows from before migration 6: comma-separated)."""
    if value.startswith("["):
        found = json.loads(value)
        return [str(a) for a in found] if isinstance(found, list) else []
    return [r for r in value.split(",") if r]


def utc(dt: datetime | None) -> datetime | None:
    """A naive-UTC row time as an aware datetime."""
    return None if dt is None else dt.replace(tzinfo=UTC)


def naive_to_utc(dt: datetime) -> datetime:
    """A naive-UTC row time (never NULL) as an aware datetime."""
    return dt.replace(tzinfo=UTC)


def _row_time(value: Any) -> datetime:
    """A DATETIME column read with plain SQL (text on SQLite) as an aware UTC datetime."""
    parsed: datetime = m.StatusChange.created_at.python_value(value)
    return naive_to_utc(parsed)


def naive(dt: datetime) -> datetime:
    """An aware datetime as naive UTC for a row."""
    return dt.astimezone(UTC).replace(tzinfo=None)


def quick_message_id(raw: bytes) -> str:
    """The Message-ID from the header block without a full parse (for dedupe at receive)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:65536]
    found = _MESSAGE_ID.search(head)
    if found:
        return found.group(1).decode("ascii", "replace")
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@missing-message-id.tiket.invalid>"


@dataclass(frozen=True, slots=True, kw_only=True)
class Applied:
    """What apply_plan wrote: the mail's ticket (None for a mail that makes none)."""

    ticket_id: int | None
    ref: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """The outcome of receiving one mail: its row id and whether it is a duplicate."""

    inbound_id: int
    uid: int
    new: bool
    duplicate_of: int | None


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:/// URL (None for another database or an in-memory one)."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        return None
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    return Path(path) if path and path != ":memory:" else None


MIN_SQLITE = (3, 35, 0)
"""RETURNING (the hot path's inserts) and ALTER TABLE ... DROP COLUMN (migration 11)."""


def open_database(settings: Settings) -> Database:
    """Connect to the configured database and bind the models to it (SQLite in WAL mode)."""
    url = settings.database.url
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise ConfigError(
                settings.sources[-1],
                "database.url",
                f"this Python's SQLite is {sqlite3.sqlite_version}; tiket needs "
                f"{'.'.join(map(str, MIN_SQLITE))} or newer (INSERT ... RETURNING, DROP COLUMN): "
                "use a newer Python or operating system, or PostgreSQL",
            )
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if path and path != ":memory:":
            touch_private(Path(path))
        db: Database = SqliteDatabase(
            path or ":memory:",
            pragmas={
                "journal_mode": "wal",
                "synchronous": "normal",
                "foreign_keys": 1,
                "busy_timeout": 30000,
                "cache_size": -16000,
            },
            # A transaction that reads, then writes, fails at once with "database is locked"
            # (SQLITE_BUSY_SNAPSHOT, no busy wait) when another connection wrote in between:
            # the daemon's intake thread and its outbox job did. BEGIN IMMEDIATE takes the write
            # lock first, so the second writer waits (busy_timeout) instead of failing.
            lock_type="IMMEDIATE",
        )
    elif parts.scheme in ("postgresql", "postgres"):
        kwargs: dict[str, Any] = {}
        if settings.database.password_env or settings.database.password_file:
            kwargs["password"] = read_secret(
                settings.database.password_env,
                settings.database.password_file,
                settings.sources[-1],
                "database.password_*",
            )
        db = connect_url(url, **kwargs)
    else:
        raise ConfigError(
            settings.sources[-1],
            "database.url",
            f"expected sqlite:/// or postgresql:// URL, got scheme {parts.scheme!r}",
        )
    m.database_proxy.initialize(db)
    db.connect(reuse_if_open=True)
    return db


# The statements ticket_state runs (written with fastsql's {q}, {p} and {in}).
_LAST_IN_MESSAGE = (
    f"SELECT {{q}}message_id{{q}} FROM {{q}}{m.Message._meta.table_name}{{q}} "
    "WHERE {q}ticket_id{q} = {p} AND {q}direction{q} = 'in' "  # 'in': not a note
    "ORDER BY {q}id{q} DESC LIMIT 1"
)
_CHANGES = (
    "SELECT {q}ticket_id{q}, {q}created_at{q}, {q}from_status{q}, {q}to_status{q} "
    f"FROM {{q}}{m.StatusChange._meta.table_name}{{q}} "
    "WHERE {q}ticket_id{q} IN {in} ORDER BY {q}id{q}"
)
_SLA_DONE = (
    "SELECT {q}ticket_id{q}, {q}clock{q}, {q}kind{q}, {q}tier{q} "
    f"FROM {{q}}{m.SlaEvent._meta.table_name}{{q}} WHERE {{q}}ticket_id{{q}} IN {{in}}"
)
_TIER_MOVES = (
    f"SELECT {{q}}ticket_id{{q}}, {{q}}created_at{{q}} FROM {{q}}{m.AuditRow._meta.table_name}{{q}} "
    "WHERE {q}ticket_id{q} IN {in} AND {q}action{q} IN ('escalated', 'assigned') "
    "ORDER BY {q}id{q}"
)


class Store:
    """Every read and write of tiket's tables, one method per transaction or query."""

    def __init__(
        self,
        db: Database,
        attachments_dir: Path,
        ref_prefix: str,
        give_up_after: timedelta = timedelta(days=2),
    ) -> None:
        self.db = db
        self.attachments_dir = attachments_dir
        self._blob_dirs: set[Path] = set()  # blob folders made (or checked) by this process
        self.ref_prefix = ref_prefix
        self.give_up_after = give_up_after

    # -- schema ---------------------------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Create or upgrade the schema; returns the migrations applied now."""
        return migrate(self.db)

    def schema_ok(self) -> bool:
        """True when every known migration has been applied."""
        return current_version(self.db) == latest_version()

    # -- receive --------------------------------------------------------------------------------
    def known_uids(self, mailbox: str, uidvalidity: int) -> set[int]:
        """UIDs of this mailbox generation that are already stored."""
        query = m.Inbound.select(m.Inbound.uid).where(
            (m.Inbound.mailbox == mailbox) & (m.Inbound.uidvalidity == uidvalidity)
        )
        return {row.uid for row in query}

    def receive_many(self, mails: Sequence[RawMail], now: datetime) -> list[Received]:
        """Commit the raw bytes of a batch, keyed by mailbox+uidvalidity+uid; detects duplicates.

        A mail already stored under its key is left alone; a new one with the Message-ID or the
        bytes of a stored mail (or of an earlier mail in this batch) is recorded as a duplicate.
        """
        results: list[Received] = []
        with self.db.atomic():
            for start in range(0, len(mails), 200):
                results.extend(self._receive_chunk(mails[start : start + 200], now))
        return results

    def _receive_chunk(self, mails: Sequence[RawMail], now: datetime) -> list[Received]:
        keys = {
            (r.mailbox, r.uidvalidity, r.uid): r.id
            for r in m.Inbound.select(
                m.Inbound.id, m.Inbound.mailbox, m.Inbound.uidvalidity, m.Inbound.uid
            ).where(m.Inbound.uid.in_([x.uid for x in mails]))
        }
        facts = [(hashlib.sha256(x.raw).hexdigest(), quick_message_id(x.raw)) for x in mails]
        seen: dict[str, int] = {}
        for row in (
            m.Inbound.select(m.Inbound.id, m.Inbound.sha256, m.Inbound.message_id)
            .where(
                m.Inbound.sha256.in_([f[0] for f in facts])
                | m.Inbound.message_id.in_([f[1] for f in facts])
            )
            .order_by(m.Inbound.id.desc())
        ):
            seen[row.sha256] = seen[row.message_id] = row.id
        results = []
        for mail, (digest, message_id) in zip(mails, facts):
            key = (mail.mailbox, mail.uidvalidity, mail.uid)
            if key in keys:
                results.append(
                    Received(inbound_id=keys[key], uid=mail.uid, new=False, duplicate_of=None)
                )
                continue
            original = seen.get(digest) or seen.get(message_id)
            _, row_id = fastsql.insert(
                self.db,
                m.Inbound,
                [
                    {
                        "mailbox": mail.mailbox,
                        "uidvalidity": mail.uidvalidity,
                        "uid": mail.uid,
                        "message_id": message_id,
                        "sha256": digest,
                        "size": len(mail.raw),
                        "received_at": naive(now),
                        "arrived_at": naive(min(mail.internal_date, now))
                        if mail.internal_date
                        else None,
                        "state": "done" if original else "pending",
                        "disposition": "duplicate" if original else "pending",
                        "duplicate_of": original,
                        "processed_at": naive(now) if original else None,
                        "acknowledged": False,
                        "attempts": 0,
                        "on_server": "inbox",
                    }
                ],
                returning=True,
            )
            assert row_id is not None
            fastsql.insert(self.db, m.InboundRaw, [{"inbound": row_id, "raw": mail.raw}])
            keys[key] = row_id
            seen.setdefault(digest, row_id)
            seen.setdefault(message_id, row_id)
            if original:
                self._audit_many(
                    [AuditEvent(action="duplicate", detail=f"same as inbound {original}")],
                    now,
                    None,
                    row_id,
                )
            results.append(
                Received(inbound_id=row_id, uid=mail.uid, new=True, duplicate_of=original)
            )
        return results

    # -- claim ----------------------------------------------------------------------------------
    def _raw_bytes(
        self, table: str, key: str, ids: Sequence[int], known: Mapping[int, bytes]
    ) -> dict[int, bytes]:
        """The `raw` column of the rows of `table` (inbound_raw or outbox) whose `key` is in ids;
        rows in `known` (bytes this process already holds) are not read back."""
        raws = {i: known[i] for i in ids if i in known}
        for chunk in fastsql.chunks([i for i in ids if i not in raws]):
            raws.update(
                (row_id, bytes(raw))
                for row_id, raw in fastsql.select_in(
                    self.db,
                    f"SELECT {{q}}{key}{{q}}, {{q}}raw{{q}} FROM {{q}}{table}{{q}} "
                    f"WHERE {{q}}{key}{{q}} IN {{in}}",
                    [],
                    chunk,
                )
            )
        return raws

    def claim_pending(
        self,
        limit: int,
        mailbox: str | None = None,
        max_bytes: int = 0,
        known_raw: Mapping[int, bytes] | None = None,
    ) -> list[StoredMail]:
        """Pending mails to process, with their attempt counted (committed) before any work.

        Fresh mails are claimed as a batch of at most `limit` mails and `max_bytes` raw bytes
        (0: no byte limit; always at least one mail); a mail that failed before is claimed alone,
        so that a mail that kills the process can only ever use up its own attempts. `known_raw`:
        the bytes of mails this process has just received, by inbound id (not read back).
        """
        q, p = self.db.quote[0], self.db.param
        where = f"{q}state{q} = {p}" + (f" AND {q}mailbox{q} = {p}" if mailbox is not None else "")
        params: list[Any] = ["pending"] + ([mailbox] if mailbox is not None else [])
        select = (
            f"SELECT {q}id{q}, {q}mailbox{q}, {q}uidvalidity{q}, {q}uid{q}, {q}attempts{q}, "
            f"{q}received_at{q}, {q}arrived_at{q}, {q}size{q} FROM {q}inbound{q} WHERE {where}"
        )
        with self.db.atomic():
            heads = (
                self.db.execute_sql(
                    f"{select} AND {q}attempts{q} > 0 ORDER BY {q}id{q} LIMIT 1", params
                ).fetchall()
                or self.db.execute_sql(
                    f"{select} AND {q}attempts{q} = 0 ORDER BY {q}id{q} LIMIT {int(limit)}", params
                ).fetchall()
            )
            rows: list[tuple[Any, ...]] = []
            total = 0
            for row in heads:
                if rows and max_bytes and total + row[7] > max_bytes:
                    break
                rows.append(row[:7])
                total += row[7]
            ids = [row[0] for row in rows]
            for chunk in fastsql.chunks(ids):
                fastsql.execute_in(
                    self.db,
                    "UPDATE {q}inbound{q} SET {q}attempts{q} = {q}attempts{q} + 1 "
                    "WHERE {q}id{q} IN {in}",
                    [],
                    chunk,
                )
        raws = self._raw_bytes("inbound_raw", "inbound_id", ids, known_raw or {})
        received = m.Inbound.received_at
        return [
            StoredMail(
                id=row_id,
                mailbox=box,
                uidvalidity=uidvalidity,
                uid=uid,
                raw=raws[row_id],
                attempts=attempts + 1,
                received_at=utc(received.python_value(received_at)) or datetime.now(UTC),
                arrived_at=utc(received.python_value(arrived_at)),
            )
            for row_id, box, uidvalidity, uid, attempts, received_at, arrived_at in rows
        ]

    # -- lookups for the pure stages ------------------------------------------------------------
    def sender_history(
        self, address: str, body: str, now: datetime, window: timedelta = timedelta(hours=24)
    ) -> SenderHistory:
        """Acknowledgements in the last hour (to this sender's normalised address and to anyone)
        and how often this sender sent this body within `window` (the caps and loop guard)."""
        q = self.db.quote[0]
        p = self.db.param
        hour_ago = m.OutboxRow.created_at.db_value(naive(now - timedelta(hours=1)))
        acks = f"{q}template{q} IN ({p}, {p}) AND {q}created_at{q} >= {p}"
        desk = f"SELECT COUNT(*) FROM {q}outbox{q} WHERE {acks}"
        if not address:
            [count] = self.db.execute_sql(desk, [*ACK_TEMPLATES, hour_ago]).fetchone()
            return SenderHistory(desk_acks_last_hour=int(count))
        key = normalised_address(address)
        mine = f"SELECT COUNT(*) FROM {q}outbox{q} WHERE {q}recipient_key{q} = {p} AND {acks}"
        same = (
            f"SELECT COUNT(*) FROM {q}inbound{q} WHERE {q}sender_key{q} = {p} AND "
            f"{q}body_key{q} = {p} AND {q}received_at{q} >= {p}"
        )
        counts = self.db.execute_sql(  # one statement: three counts
            f"SELECT ({desk}), ({mine}), ({same})",
            [*ACK_TEMPLATES, hour_ago, key, *ACK_TEMPLATES, hour_ago, key, body]
            + [m.Inbound.received_at.db_value(naive(now - window))],
        ).fetchone()
        return SenderHistory(
            desk_acks_last_hour=int(counts[0]),
            acks_last_hour=int(counts[1]),
            same_body_recent=int(counts[2]),
        )

    def thread_lookups(
        self, message_ids: Iterable[str], refs: Iterable[str]
    ) -> tuple[dict[str, TicketInfo], dict[str, TicketInfo]]:
        """Tickets that own any of these Message-IDs (inbound or outbound), and tickets by
        reference: ({message_id: ticket}, {ref: ticket}), in a few queries for a whole batch."""
        found: dict[str, int] = {}
        ids, wanted = sorted(set(message_ids)), set(refs)
        for chunk in fastsql.chunks(ids):
            for message_id, ticket_id in fastsql.select_in(
                self.db,
                "SELECT {q}message_id{q}, {q}ticket_id{q} FROM {q}message{q} "
                "WHERE {q}message_id{q} IN {in} ORDER BY {q}id{q}",
                [],
                chunk,
            ):
                found.setdefault(message_id, ticket_id)
        for chunk in fastsql.chunks(ids):
            for message_id, ticket_id in fastsql.select_in(
                self.db,
                "SELECT {q}message_id{q}, {q}ticket_id{q} FROM {q}outbox{q} "
                "WHERE {q}ticket_id{q} IS NOT NULL AND {q}message_id{q} IN {in}",
                [],
                chunk,
            ):
                found.setdefault(message_id, ticket_id)
        infos = self._ticket_infos("id", sorted(set(found.values())))
        infos.update(self._ticket_infos("ref", sorted(wanted)))
        by_id = {info.id: info for info in infos.values()}
        by_message_id = {mid: by_id[tid] for mid, tid in found.items() if tid in by_id}
        by_ref = {info.ref: info for info in infos.values() if info.ref in wanted}
        return by_message_id, by_ref

    def tickets_by_message_ids(self, message_ids: Iterable[str]) -> dict[str, TicketInfo]:
        """Tickets that own any of these Message-IDs (the first 100), inbound or outbound."""
        ids = list(dict.fromkeys(message_ids))[:100]
        return self.thread_lookups(ids, ())[0] if ids else {}

    def known_categories(self) -> frozenset[str]:
        """Every category a ticket carries now (what #category by mail may set)."""
        return frozenset(
            str(row.category)
            for row in m.Ticket.select(m.Ticket.category)
            .where(m.Ticket.category.is_null(False))
            .distinct()
        )

    def tickets_by_refs(self, refs: Iterable[str]) -> dict[str, TicketInfo]:
        """Tickets by reference (TKT-000123; the first 20)."""
        refs = list(dict.fromkeys(refs))[:20]
        return self.thread_lookups((), refs)[1] if refs else {}

    def _ticket_infos(self, column: str, values: Sequence[Any]) -> dict[str, TicketInfo]:
        """Tickets whose `column` (id or ref) is one of `values`, by reference."""
        tickets: dict[int, tuple[Any, ...]] = {}
        for chunk in fastsql.chunks(values):
            for row in fastsql.select_in(
                self.db,
                "SELECT {q}id{q}, {q}ref{q}, {q}status{q}, {q}requester{q}, {q}subject{q}, "
                "{q}priority{q}, {q}tier{q} FROM {q}ticket{q} WHERE {q}" + column + "{q} IN {in}",
                [],
                chunk,
            ):
                tickets[row[0]] = row
        people: dict[int, set[str]] = {ticket_id: set() for ticket_id in tickets}
        for chunk in fastsql.chunks(sorted(tickets)):
            for ticket_id, address in fastsql.select_in(
                self.db,
                "SELECT {q}ticket_id{q}, {q}address{q} FROM {q}participant{q} "
                "WHERE {q}ticket_id{q} IN {in}",
                [],
                chunk,
            ):
                people[ticket_id].add(address)
        return {
            ref: TicketInfo(
                id=ticket_id,
                ref=ref,
                status=status,
                requester=requester,
                participants=frozenset(people[ticket_id]),
                subject=subject,
                priority=priority,
                tier=tier,
            )
            for ticket_id, ref, status, requester, subject, priority, tier in tickets.values()
        }

    # -- apply ----------------------------------------------------------------------------------
    def savepoint(self) -> Any:
        """A transaction, or a savepoint inside the caller's (one mail of a batch)."""
        return self.db.atomic()

    def apply_plan(
        self, stored: StoredMail, mail: ParsedMail, plan: IntakePlan, now: datetime
    ) -> Applied:
        """Write the rows a plan says (ticket, message, attachments, suggestions, audit events);
        returns the ticket's id and reference, known at once (no callback).

        Run it inside `savepoint()`, then queue the rendered mail and `finish_intake()` in the same
        savepoint: the mail is applied whole or not at all.
        """
        at = naive(now)
        ticket_id, ref = self._ticket_for(plan, stored, at)
        if plan.update is not None:
            self._apply_update_rows(plan.update, now)
        if ticket_id is not None and plan.store_message:
            _, message_id = fastsql.insert(
                self.db,
                m.Message,
                [
                    {
                        "ticket": ticket_id,
                        "inbound": stored.id,
                        "direction": "agent" if plan.update is not None else "in",
                        "message_id": mail.message_id,
                        "sender": mail.sender,
                        "subject": mail.subject,
                        "body": mail.text,
                        "created_at": at,
                    }
                ],
                returning=bool(mail.attachments),
            )
            if mail.attachments:
                assert message_id is not None
                self._store_attachments(message_id, mail)
        if ticket_id is not None and plan.triage is not None and plan.new_ticket is not None:
            self._store_suggestions(ticket_id, plan, at)
        self._audit_many(plan.events, now, ticket_id, stored.id)
        return Applied(ticket_id=ticket_id, ref=ref)

    def finish_intake(
        self,
        stored: StoredMail,
        mail: ParsedMail,
        plan: IntakePlan,
        applied: Applied,
        outgoing: Sequence[OutgoingMail],
        now: datetime,
    ) -> bool:
        """Queue the mail's rendered mails and mark it done; returns whether it was acknowledged.

        The claim is the fence: raises ClaimLost when another daemon re-claimed or finished the
        mail meanwhile (the caller's savepoint then rolls back everything written for it).
        """
        at = naive(now)
        acknowledged = False
        for out in outgoing:
            queued = self._queue_mail(out, now, ticket_id=applied.ticket_id, inbound_id=stored.id)
            acknowledged |= queued and out.template == "acknowledgement"
        finished = fastsql.update(
            self.db,
            m.Inbound,
            stored.id,
            {
                "state": "done",
                "disposition": plan.disposition,
                "rule": plan.rule,
                "ticket": applied.ticket_id,
                "acknowledged": acknowledged,
                "processed_at": at,
                "stage": None,
                "reason": None,
                "sender_key": normalised_address(mail.sender) if mail.sender else None,
                "body_key": mail.body_key,
            },
            expect={"state": "pending", "attempts": stored.attempts},
        )
        if not finished:
            raise ClaimLost(
                f"inbound {stored.id} was claimed again or finished by another "
                "daemon; this daemon's work on it is rolled back"
            )
        return acknowledged

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for a batch of mails (each mail a savepoint inside it). On SQLite, the
        batch's new tickets and messages are indexed for search in one statement each at its end
        (migration 13 says why); an exception rolls the batch back, its deferral with it."""
        with self.db.atomic():
            if not isinstance(self.db, SqliteDatabase):
                yield
                return
            self.db.execute_sql(
                "INSERT INTO search_deferred (ticket_after, message_after) SELECT "
                "(SELECT COALESCE(MAX(id), 0) FROM ticket), (SELECT COALESCE(MAX(id), 0) FROM message)"
            )
            yield
            self.db.execute_sql(
                "INSERT INTO ticket_fts (rowid, subject) SELECT id, subject FROM ticket "
                "WHERE id > (SELECT ticket_after FROM search_deferred)"
            )
            self.db.execute_sql(
                "INSERT INTO message_fts (rowid, body, ticket_id) SELECT id, body, ticket_id "
                "FROM message WHERE id > (SELECT message_after FROM search_deferred)"
            )
            self.db.execute_sql("DELETE FROM search_deferred")

    def _next_ticket_id(self) -> int:
        """The id the next ticket gets, so its reference goes into the INSERT itself.

        PostgreSQL: the id sequence (safe between daemons). SQLite: one writer at a time; the
        write that follows in the same transaction fails if another connection wrote meanwhile.
        """
        if isinstance(self.db, SqliteDatabase):
            sql = 'SELECT COALESCE(MAX("id"), 0) + 1 FROM "ticket"'
        else:
            sql = "SELECT nextval(pg_get_serial_sequence('ticket', 'id'))"
        return int(self.db.execute_sql(sql).fetchone()[0])

    def _ticket_for(
        self, plan: IntakePlan, stored: StoredMail, at: datetime
    ) -> tuple[int | None, str | None]:
        if plan.new_ticket is not None:
            new = plan.new_ticket
            ticket_id = self._next_ticket_id()
            ref = f"{self.ref_prefix}-{ticket_id:06d}"
            fastsql.insert(
                self.db,
                m.Ticket,
                [
                    {
                        "id": ticket_id,
                        "ref": ref,
                        "subject": new.subject,
                        "requester": new.requester,
                        "requester_name": new.requester_name,
                        "status": "new",
                        "kind": new.kind,
                        "category": new.category,
                        "priority": new.priority,
                        "tier": "L1",
                        "breach_suspected": new.breach_suspected,
                        "needs_review": new.needs_review,
                        "mailbox": stored.mailbox,
                        "language": new.language,
                        "linked_to": new.linked_to,
                        "created_at": at,
                        "updated_at": at,
                    }
                ],
            )
            self._add_participants(ticket_id, new.requester, new.participants)
            return ticket_id, ref
        if plan.existing is not None:
            changes: dict[str, Any] = {"updated_at": at}
            if plan.reopen:
                changes.update(status="open", resolved_at=None)
            fastsql.update(self.db, m.Ticket, plan.existing.id, changes)
            self._add_participants(plan.existing.id, None, plan.add_participants)
            return plan.existing.id, plan.existing.ref
        return None, None

    def _add_participants(
        self, ticket_id: int, requester: str | None, others: Sequence[str]
    ) -> None:
        rows = (
            [{"ticket": ticket_id, "address": requester, "role": "requester"}] if requester else []
        )
        rows += [
            {"ticket": ticket_id, "address": a, "role": "cc"}
            for a in dict.fromkeys(others)
            if a != requester
        ]
        fastsql.insert(self.db, m.Participant, rows, ignore=True)

    def _store_attachments(self, message_id: int, mail: ParsedMail) -> None:
        rows = []
        for att in mail.attachments:
            digest = hashlib.sha256(att.payload).hexdigest()
            self._write_blob(digest, att.payload)
            rows.append(
                {
                    "message": message_id,
                    "filename": att.filename,
                    "content_type": att.content_type,
                    "size": len(att.payload),
                    "sha256": digest,
                }
            )
        fastsql.insert(self.db, m.AttachmentRow, rows)

    def _write_blob(self, digest: str, payload: bytes) -> None:
        """Content-addressed file: its name is its sha256, so writing it twice is harmless."""
        blob = self.blob_path(digest)
        path = str(blob)
        if os.path.exists(path):
            return
        if blob.parent not in self._blob_dirs:  # three syscalls a blob otherwise
            private_dir(blob.parent)
            self._blob_dirs.add(blob.parent)
        try:
            write_atomically(path, payload, f".{digest}.{os.getpid()}.tmp")
        except FileNotFoundError:  # the folder went away meanwhile (an operator's clean-up)
            private_dir(blob.parent)
            write_atomically(path, payload, f".{digest}.{os.getpid()}.tmp")

    def blob_path(self, digest: str) -> Path:
        """Where an attachment with this sha256 lives."""
        return self.attachments_dir / digest[:2] / digest[2:4] / digest

    def _store_suggestions(self, ticket_id: int, plan: IntakePlan, at: datetime) -> None:
        assert plan.triage is not None
        fastsql.insert(
            self.db,
            m.SuggestionRow,
            [
                {
                    "ticket": ticket_id,
                    "head": s.head,
                    "label": s.label,
                    "confidence": s.confidence,
                    "applied": s.applied,
                    "model_version": plan.triage.model_version,
                    "created_at": at,
                }
                for s in plan.triage.suggestions
            ],
        )

    def _queue_mail(
        self, out: OutgoingMail, now: datetime, *, ticket_id: int | None, inbound_id: int | None
    ) -> bool:
        """Insert an outbox row; False when a row with this Message-ID already exists."""
        added, _ = fastsql.insert(
            self.db,
            m.OutboxRow,
            [
                {
                    "message_id": out.message_id,
                    "ticket": ticket_id,
                    "inbound": inbound_id,
                    "template": out.template,
                    "recipients": json.dumps(list(out.to)),  # a list: never split on commas
                    "first_recipient": out.to[0] if out.to else "",
                    "recipient_key": normalised_address(out.to[0]) if out.to else "",
                    "subject": out.subject,
                    "raw": out.raw,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": naive(now),
                    "give_up_at": naive(now + self.give_up_after),
                    "created_at": naive(now),
                }
            ],
            ignore=True,
        )
        return added > 0

    def queue_mails(
        self, mails: Sequence[OutgoingMail], now: datetime, ticket_id: int | None = None
    ) -> int:
        """Queue rendered mails outside intake (escalations, digest); returns how many were new."""
        with self.db.atomic():
            return sum(
                self._queue_mail(out, now, ticket_id=ticket_id, inbound_id=None) for out in mails
            )

    def _audit(
        self,
        event: AuditEvent,
        now: datetime,
        *,
        ticket_id: int | None = None,
        inbound_id: int | None = None,
    ) -> None:
        self._audit_many([event], now, ticket_id, inbound_id)

    def _audit_many(
        self,
        events: Sequence[AuditEvent],
        now: datetime,
        ticket_id: int | None,
        inbound_id: int | None,
    ) -> None:
        fastsql.insert(
            self.db,
            m.AuditRow,
            [
                {
                    "ticket": ticket_id,
                    "inbound": inbound_id,
                    "action": e.action,
                    "actor": e.actor,
                    "detail": e.detail,
                    "created_at": naive(now),
                }
                for e in events
            ],
        )

    # -- failures -------------------------------------------------------------------------------
    def record_failure(
        self,
        inbound_id: int,
        stage: str,
        reason: str,
        trace: str,
        now: datetime,
        *,
        quarantine: bool,
    ) -> None:
        """Note a failed attempt; with quarantine=True the mail stops being retried."""
        with self.db.atomic():
            changes: dict[Any, Any] = {
                m.Inbound.stage: stage,
                m.Inbound.reason: reason[:2000],
                m.Inbound.traceback: trace[-20000:],
            }
            if quarantine:
                changes.update(
                    {
                        m.Inbound.state: "quarantined",
                        m.Inbound.disposition: "quarantined",
                        m.Inbound.processed_at: naive(now),
                    }
                )
            m.Inbound.update(changes).where(m.Inbound.id == inbound_id).execute()
            self._audit(
                AuditEvent(
                    action="quarantined" if quarantine else "attempt_failed",
                    detail=f"stage={stage} reason={reason[:300]}",
                ),
                now,
                inbound_id=inbound_id,
            )

    def quarantine_exhausted(
        self, max_attempts: int, now: datetime, mailbox: str | None = None
    ) -> list[int]:
        """Quarantine pending mails whose attempts are used up (their process died mid-work)."""
        query = m.Inbound.select(m.Inbound.id).where(
            (m.Inbound.state == "pending") & (m.Inbound.attempts >= max_attempts)
        )
        if mailbox is not None:
            query = query.where(m.Inbound.mailbox == mailbox)
        rows = list(query)
        for row in rows:
            self.record_failure(
                row.id,
                "process",
                f"gave up after {max_attempts} attempts "
                "(the process stopped while working on this mail)",
                "",
                now,
                quarantine=True,
            )
        return [row.id for row in rows]

    def release(self, inbound_id: int, now: datetime, actor: str) -> str:
        """Put a quarantined mail back in the queue with fresh attempts; returns its mailbox."""
        with self.db.atomic():
            row = m.Inbound.get_or_none(
                (m.Inbound.id == inbound_id) & (m.Inbound.state == "quarantined")
            )
            if row is None:
                raise NotFound(f"no quarantined mail with id {inbound_id}")
            (
                m.Inbound.update(state="pending", disposition="pending", attempts=0)
                .where(m.Inbound.id == inbound_id)
                .execute()
            )
            self._audit(AuditEvent(action="released", actor=actor), now, inbound_id=inbound_id)
        return str(row.mailbox)

    def prune_raw(self, state: str, before: datetime, now: datetime) -> int:
        """Empty the raw bytes of mails in `state` finished before `before`; returns how many."""
        with self.db.atomic():
            finished = m.Inbound.select(m.Inbound.id).where(
                (m.Inbound.state == state) & (m.Inbound.processed_at < naive(before))
            )
            count = int(
                m.InboundRaw.update(raw=b"")
                .where(m.InboundRaw.inbound.in_(finished) & (fn.LENGTH(m.InboundRaw.raw) > 0))
                .execute()
            )
            if count:
                self._audit(AuditEvent(action="raw_pruned", detail=f"{count} {state} mail(s)"), now)
        return count

    # -- server bookkeeping ---------------------------------------------------------------------
    def awaiting_move(self, mailbox: str, uidvalidity: int) -> dict[str, list[int]]:
        """UIDs still in the inbox that are finished: {"processed": [...], "quarantined": [...]}."""
        rows = m.Inbound.select(m.Inbound.uid, m.Inbound.state).where(
            (m.Inbound.mailbox == mailbox)
            & (m.Inbound.uidvalidity == uidvalidity)
            & (m.Inbound.on_server == "inbox")
            & (m.Inbound.state != "pending")
        )
        moves: dict[str, list[int]] = {"processed": [], "quarantined": []}
        for row in rows:
            moves["quarantined" if row.state == "quarantined" else "processed"].append(row.uid)
        return moves

    def mark_moved(self, mailbox: str, uidvalidity: int, uids: Sequence[int], where: str) -> None:
        """Record that these UIDs were moved out of the inbox on the server."""
        for start in range(0, len(uids), 500):
            chunk = list(uids[start : start + 500])
            (
                m.Inbound.update(on_server=where)
                .where(
                    (m.Inbound.mailbox == mailbox)
                    & (m.Inbound.uidvalidity == uidvalidity)
                    & m.Inbound.uid.in_(chunk)
                )
                .execute()
            )

    # -- leases ---------------------------------------------------------------------------------
    def acquire_lease(
        self,
        name: str,
        holder: str,
        ttl: timedelta,
        now: datetime,
        is_dead: Callable[[str], bool] = lambda holder: False,
    ) -> bool:
        """Take or renew the lease `name` for `holder`; False while another live holder has it.

        Each step is one atomic statement, so two daemons racing for a lease cannot both win: a
        lease is taken when free, expired, already ours, or held by a holder `is_dead` says is gone.
        """
        until = m.Lease.expires_at.db_value(naive(now + ttl))
        current = m.Lease.expires_at.db_value(naive(now))
        q, p = self.db.quote[0], self.db.param
        taken = self.db.execute_sql(
            f"UPDATE {q}lease{q} SET {q}holder{q} = {p}, {q}expires_at{q} = {p} WHERE {q}name{q} = {p}"
            f" AND ({q}holder{q} = {p} OR {q}expires_at{q} < {p})",
            [holder, until, name, holder, current],
        ).rowcount
        if taken:
            return True
        added, _ = fastsql.insert(
            self.db,
            m.Lease,
            [{"name": name, "holder": holder, "expires_at": naive(now + ttl)}],
            ignore=True,
        )
        if added:
            return True
        row = m.Lease.get_or_none(m.Lease.name == name)
        if row is None or not is_dead(row.holder):
            return False
        return bool(
            self.db.execute_sql(
                f"UPDATE {q}lease{q} SET {q}holder{q} = {p}, {q}expires_at{q} = {p} WHERE {q}name{q} = {p}"
                f" AND {q}holder{q} = {p}",
                [holder, until, name, row.holder],
            ).rowcount
        )

    def release_lease(self, name: str, holder: str) -> None:
        """Give a lease back (on a clean stop) so another daemon can take it at once."""
        m.Lease.delete().where((m.Lease.name == name) & (m.Lease.holder == holder)).execute()

    def lease_holder(self, name: str) -> str | None:
        """Who holds a lease now (for messages), or None."""
        row = m.Lease.get_or_none(m.Lease.name == name)
        return None if row is None else str(row.holder)

    # -- outbox ---------------------------------------------------------------------------------
    def due_outbox(self, now: datetime, limit: int) -> list[DueMail]:
        """Pending outbox rows whose next attempt is due, oldest first."""
        q, p = self.db.quote[0], self.db.param
        rows = self.db.execute_sql(
            f"SELECT {q}id{q}, {q}message_id{q}, {q}template{q}, {q}recipients{q}, "
            f"{q}attempts{q}, {q}give_up_at{q} FROM {q}outbox{q} WHERE {q}status{q} = {p} AND "
            f"{q}next_attempt_at{q} <= {p} ORDER BY {q}id{q} LIMIT {int(limit)}",
            ["pending", m.OutboxRow.next_attempt_at.db_value(naive(now))],
        ).fetchall()
        raws = self._raw_bytes("outbox", "id", [row[0] for row in rows], {})
        give_up = m.OutboxRow.give_up_at
        return [
            DueMail(
                id=row_id,
                message_id=message_id,
                template=template,
                recipients=tuple(outbox_recipients(recipients)),
                raw=raws[row_id],
                attempts=attempts,
                give_up_at=utc(give_up.python_value(give_up_at)),
            )
            for row_id, message_id, template, recipients, attempts, give_up_at in rows
        ]

    def outbox_sent(self, row_ids: Sequence[int], now: datetime) -> None:
        """Mark rows delivered: one UPDATE (and one commit) for a delivered batch."""
        at = m.OutboxRow.sent_at.db_value(naive(now))
        with self.db.atomic():
            for chunk in fastsql.chunks(list(row_ids)):
                fastsql.execute_in(
                    self.db,
                    "UPDATE {q}outbox{q} SET {q}status{q} = {p}, {q}sent_at{q} = {p}, "
                    "{q}attempts{q} = {q}attempts{q} + 1, {q}last_error{q} = NULL "
                    "WHERE {q}id{q} IN {in}",
                    ["sent", at],
                    chunk,
                )

    def outbox_failed(
        self, row_id: int, error: str, now: datetime, *, retry_at: datetime | None
    ) -> None:
        """Record a failed delivery: retry at `retry_at`, or fail for good when it is None."""
        with self.db.atomic():
            row = m.OutboxRow.get_by_id(row_id)
            changes: dict[Any, Any] = {
                m.OutboxRow.attempts: m.OutboxRow.attempts + 1,
                m.OutboxRow.last_error: error[:2000],
            }
            if retry_at is None:
                changes[m.OutboxRow.status] = "failed"
            else:
                changes[m.OutboxRow.next_attempt_at] = naive(retry_at)
            m.OutboxRow.update(changes).where(m.OutboxRow.id == row_id).execute()
            action = "outbox_failed" if retry_at is None else "outbox_retry"
            self._audit(
                AuditEvent(action=action, detail=f"{row.message_id}: {error[:300]}"),
                now,
                ticket_id=row.ticket_id,
            )

    # -- lifecycle ------------------------------------------------------------------------------
    def ticket_state(self, ref_or_id: str | int) -> TicketState:
        """A ticket with its status changes and SLA steps, as the planners see it (five
        statements built once: intake and the burst detector load tickets often)."""
        by_id = isinstance(ref_or_id, int)
        rows = fastsql.select_models(
            self.db,
            m.Ticket,
            "SELECT {cols} FROM {table} WHERE {q}%s{q} = {p}" % ("id" if by_id else "ref"),
            [ref_or_id if by_id else str(ref_or_id).upper()],
        )
        if not rows:
            raise NotFound(f"no ticket {ref_or_id}")
        last = fastsql.select_rows(self.db, _LAST_IN_MESSAGE, [rows[0].id])
        [state] = self._states(rows, {rows[0].id: last[0][0] if last else None})
        return state

    def ticket_states(self, statuses: Sequence[str], chunk: int = 2000) -> Iterator[TicketState]:
        """Every ticket in these statuses, loaded in bulk (a few queries per chunk, not per ticket).

        last_message_id is left empty: load the ticket with ticket_state() before mailing about it.
        """
        last_id = 0
        while True:
            rows = list(
                m.Ticket.select()
                .where(m.Ticket.status.in_(list(statuses)) & (m.Ticket.id > last_id))
                .order_by(m.Ticket.id)
                .limit(chunk)
            )
            if not rows:
                return
            yield from self._states(rows, {})
            last_id = rows[-1].id

    def states_of(self, ids: Sequence[int]) -> list[TicketState]:
        """These tickets, loaded in bulk (a page of the console's queue)."""
        if not ids:
            return []
        rows = [
            row
            for chunk in fastsql.chunks(list(ids))
            for row in fastsql.select_models(
                self.db, m.Ticket, "SELECT {cols} FROM {table} WHERE {q}id{q} IN {in}", (), chunk
            )
        ]
        return self._states(rows, {})

    def _states(self, rows: Sequence[m.Ticket], last: dict[int, str | None]) -> list[TicketState]:
        ids = [row.id for row in rows]
        changes: dict[int, list[tuple[datetime, str, str]]] = {i: [] for i in ids}
        moved: dict[int, datetime] = {}
        done: dict[int, set[tuple[str, str, str]]] = {i: set() for i in ids}
        for chunk in fastsql.chunks(ids):
            for ticket_id, at, old, new in fastsql.select_in(self.db, _CHANGES, (), chunk):
                changes[ticket_id].append((_row_time(at), old, new))
            for ticket_id, clock, kind, tier in fastsql.select_in(self.db, _SLA_DONE, (), chunk):
                done[ticket_id].add((clock, kind, tier))
            for ticket_id, at in fastsql.select_in(self.db, _TIER_MOVES, (), chunk):
                moved[ticket_id] = _row_time(at)
        return [
            TicketState(
                id=row.id,
                ref=row.ref,
                subject=row.subject,
                requester=row.requester,
                requester_name=row.requester_name,
                status=row.status,
                tier=row.tier,
                priority=row.priority,
                kind=row.kind,
                category=row.category,
                breach_suspected=row.breach_suspected,
                needs_review=row.needs_review,
                language=row.language,
                created_at=naive_to_utc(row.created_at),
                first_response_at=utc(row.first_response_at),
                resolved_at=utc(row.resolved_at),
                assignee=row.assignee,
                changes=tuple(changes[row.id]),
                sla_done=frozenset(done[row.id]),
                last_message_id=last.get(row.id),
                tier_since=moved.get(row.id),
                version=row.version,
            )
            for row in rows
        ]

    def suggestions(self, ticket_id: int) -> tuple[Suggestion, ...]:
        """The triage suggestions recorded for a ticket."""
        return tuple(
            Suggestion(head=s.head, label=s.label, confidence=s.confidence, applied=s.applied)
            for s in m.SuggestionRow.select()
            .where(m.SuggestionRow.ticket == ticket_id)
            .order_by(m.SuggestionRow.id)
        )

    def decided_heads(self, ticket_id: int) -> frozenset[str]:
        """Heads an agent has labelled on this ticket (corrected or explicitly accepted)."""
        rows = m.Decision.select(m.Decision.head).where(m.Decision.ticket == ticket_id)
        return frozenset(str(r.head) for r in rows)

    def conversation(
        self, ticket_id: int, *, notes: bool = True
    ) -> tuple[tuple[str, str, str, str], ...]:
        """(at, direction, from, body) of every message of a ticket, oldest first; `notes=False`
        leaves out the agents' internal notes (for what travels by mail)."""
        query = m.Message.select().where(m.Message.ticket == ticket_id)
        if not notes:
            query = query.where(m.Message.direction != "note")
        return tuple(
            (str(msg.created_at)[:16], msg.direction, msg.sender, msg.body)
            for msg in query.order_by(m.Message.id)
        )

    def review_queue(self) -> list[int]:
        """Tickets waiting for L1 review, oldest first."""
        return [
            t.id
            for t in m.Ticket.select(m.Ticket.id)
            .where(m.Ticket.needs_review & m.Ticket.status.in_(OPEN_STATES))
            .order_by(m.Ticket.id)
        ]

    def apply_update(
        self, update: TicketUpdate, now: datetime, render: Callable[[str], list[OutgoingMail]]
    ) -> bool:
        """Write one lifecycle update in one transaction; False when its SLA step was already done."""
        with self.db.atomic():
            if update.sla_event is not None:
                clock, kind, tier = update.sla_event
                added, _ = fastsql.insert(
                    self.db,
                    m.SlaEvent,
                    [
                        {
                            "ticket": update.ticket_id,
                            "clock": clock,
                            "kind": kind,
                            "tier": tier,
                            "created_at": naive(now),
                        }
                    ],
                    ignore=True,
                )
                if not added:
                    return False
            self._apply_update_rows(update, now)
            for out in render(update.ref) if update.mails else []:
                self._queue_mail(out, now, ticket_id=update.ticket_id, inbound_id=None)
        return True

    def record_events(self, update: TicketUpdate, now: datetime) -> None:
        """Only the audit events of an update (no fields, status or mail) to a ticket written in
        the caller's transaction: nobody can have read it yet, so its version stays."""
        assert not (update.fields or update.status or update.mails or update.sla_event)
        assert not (update.decisions or update.merge_into or update.effects)
        self._audit_many(update.events, now, update.ticket_id, None)

    def _apply_update_rows(self, update: TicketUpdate, now: datetime) -> None:
        self._bump_version(update)
        fields = {k: (naive(v) if isinstance(v, datetime) else v) for k, v in update.fields}
        fields["updated_at"] = naive(now)
        fastsql.update(self.db, m.Ticket, update.ticket_id, fields)
        if update.merge_into is not None:
            self._merge_rows(update, now)
        if update.status is not None:
            before, after, reason = update.status
            fastsql.insert(
                self.db,
                m.StatusChange,
                [
                    {
                        "ticket": update.ticket_id,
                        "from_status": before,
                        "to_status": after,
                        "actor": update.actor,
                        "reason": reason,
                        "created_at": naive(now),
                    }
                ],
            )
        fastsql.insert(
            self.db,
            m.Decision,
            [
                {
                    "ticket": update.ticket_id,
                    "head": head,
                    "label": label,
                    "suggested": suggested,
                    "agent": update.actor,
                    "created_at": naive(now),
                }
                for head, label, suggested in update.decisions
            ],
        )
        if update.note is not None:
            direction, text = update.note
            fastsql.insert(
                self.db,
                m.Message,
                [
                    {
                        "ticket": update.ticket_id,
                        "inbound": None,
                        "direction": direction,
                        "message_id": f"<{update.ref}.{direction}-{now.timestamp():.6f}@tiket.invalid>",
                        "sender": update.actor,
                        "subject": "",
                        "body": text,
                        "created_at": naive(now),
                    }
                ],
            )
        self._audit_many(update.events, now, update.ticket_id, None)

    def _bump_version(self, update: TicketUpdate) -> None:
        """Every action moves the ticket's version on; one made on an older version is refused
        (two agents saving the same ticket: the second one is told, and nothing is written)."""
        p = self.db.param
        sql = f"UPDATE ticket SET version = version + 1 WHERE id = {p}"
        params: list[int] = [update.ticket_id]
        if update.expected_version is not None:
            sql += f" AND version = {p}"
            params.append(update.expected_version)
        if self.db.execute_sql(sql, params).rowcount == 0 and update.expected_version is not None:
            raise Conflict(
                f"{update.ref} was changed by someone else since you opened it; "
                "nothing was saved: reload to see the change"
            )

    def _merge_rows(self, update: TicketUpdate, now: datetime) -> None:
        """Move a duplicate's messages and participants into the ticket it is merged into."""
        p = self.db.param
        source, target = update.ticket_id, update.merge_into
        self.db.execute_sql(
            f"UPDATE message SET ticket_id = {p} WHERE ticket_id = {p}", [target, source]
        )
        self.db.execute_sql(
            "INSERT INTO participant (ticket_id, address, role) "
            f"SELECT {p}, address, 'cc' FROM participant s WHERE s.ticket_id = {p} "
            "AND NOT EXISTS (SELECT 1 FROM participant t "
            f"WHERE t.ticket_id = {p} AND t.address = s.address)",
            [target, source, target],
        )
        self.db.execute_sql(
            f"UPDATE ticket SET version = version + 1, updated_at = {p} WHERE id = {p}",
            [m.Ticket.updated_at.db_value(naive(now)), target],
        )
        self._audit_many(update.merge_events, now, target, None)

    def breach_reasons(self, ticket_id: int) -> tuple[str, ...]:
        """Why a ticket was flagged as a suspected breach (from its audit trail)."""
        return tuple(
            e.detail
            for e in m.AuditRow.select(m.AuditRow.detail).where(
                (m.AuditRow.ticket == ticket_id) & (m.AuditRow.action == "breach_suspected")
            )
        )

    def resolved_texts(
        self, after: tuple[datetime, int] | None, limit: int
    ) -> list[tuple[int, str, str, str, datetime]]:
        """(id, ref, subject + first message, resolution note, resolved_at) of resolved or closed
        tickets resolved after `after` = (resolved_at, id), in that order (so a ticket resolved
        late is found even when newer tickets were resolved before it)."""
        T = m.Ticket
        newer: Any = T.id > 0
        if after is not None:
            at, ticket_id = naive(after[0]), after[1]
            newer = (T.resolved_at > at) | ((T.resolved_at == at) & (T.id > ticket_id))
        rows = (
            T.select(T.id, T.ref, T.subject, T.resolution_note, T.resolved_at)
            .where(
                newer
                & T.resolved_at.is_null(False)
                & T.resolution_note.is_null(False)
                & T.status.in_(("resolved", "closed"))
            )
            .order_by(T.resolved_at, T.id)
            .limit(limit)
        )
        found = list(rows)
        bodies: dict[int, str] = {}
        if found:
            for msg in (
                m.Message.select(m.Message.ticket, m.Message.body)
                .where(m.Message.ticket.in_([t.id for t in found]) & (m.Message.direction == "in"))
                .order_by(m.Message.id)
            ):
                bodies.setdefault(msg.ticket_id, msg.body[:1000])
        return [
            (
                t.id,
                t.ref,
                f"{t.subject}\n{bodies.get(t.id, '')}",
                t.resolution_note or "",
                naive_to_utc(t.resolved_at or datetime.min),  # never NULL: filtered above
            )
            for t in found
        ]


def open_store(settings: Settings) -> Store:
    """Connect to the configured database, migrate it, and return its Store."""
    store = Store(
        open_database(settings),
        settings.data_dir / "attachments",
        settings.desk.ref_prefix,
        timedelta(seconds=settings.outbox.give_up_after_seconds),
    )
    store.migrate()
    return store
