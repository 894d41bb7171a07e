"""Console store (EDGE): the web console's queries and its own tables (sessions, sign-in requests,
saved views, canned replies). Ticket changes never happen here: they go through the desk.

Every method runs on the Store's database object (not the models' proxy), so several Tiket
objects in one process never mix connections. Times are naive UTC in the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from peewee import Database, PostgresqlDatabase

from pipeline.edges import models as m
from pipeline.edges.store import Store, naive, naive_to_utc
from pipeline.errors import NotFound
from pipeline.records import OutgoingMail
from pipeline.vocabulary import OPEN_STATES, PRIORITIES


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueQuery:
    """What an agent asked the queue for (parsed from the query string by the web skin)."""

    agent: str
    tiers: tuple[str, ...] | None  # the agent's tiers; None: a manager sees every tier
    status: str = ""  # empty: every open state
    tier: str = ""
    kind: str = ""
    category: str = ""
    priority: str = ""
    breached: bool = False
    review: bool = False
    mine: bool = False
    text: str = ""
    sort: str = "due"  # due | age | newest
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuePage:
    """One page of the queue and the counts shown above it."""

    rows: tuple[dict[str, Any], ...]
    total: int
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadlines:
    """Nominal (24x7) SLA targets, in hours by priority, for ordering the queue by risk in SQL.

    The exact due times (business hours, pauses) are computed by the pure SLA code for the rows
    shown; the database orders by this nominal deadline, which agrees with the exact one except
    for tickets that were paused or span a closed business period.
    """

    first_response: Mapping[str, float]
    resolution: Mapping[str, float]
    default_priority: str


SORTS = {"due": "due_key, t.id", "age": "t.created_at, t.id", "newest": "t.id DESC"}


def fts_query(text: str) -> str:
    """User words as an FTS5 query: every word must occur (the last one as a prefix). Words are
    runs of letters and digits, as FTS5's unicode61 tokenizer cuts them ("e-mail" and "foo_bar"
    are two words each): the index keeps no positions, so a quoted phrase of two is an error."""
    words = re.findall(r"[^\W_]+", text)[:12]
    if not words:
        return ""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


class ConsoleStore:
    """Reads for the console's pages and writes of the console's own tables."""

    def __init__(self, store: Store, deadlines: Deadlines) -> None:
        self.store = store
        self.db: Database = store.db
        self.deadlines = deadlines
        self.postgres = isinstance(self.db, PostgresqlDatabase)

    # -- helpers --------------------------------------------------------------------------------
    def _sql(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.db.execute_sql(sql.replace("?", self.db.param), list(params))
        return list(cursor.fetchall()) if cursor.description is not None else []

    def _time(self, value: datetime) -> Any:
        """A time as a query parameter (naive UTC; SQLite compares its text form)."""
        plain = naive(value)
        return plain if self.postgres else plain.isoformat(sep=" ")

    def _hours_case(self, table: Mapping[str, float]) -> str:
        cases = " ".join(f"WHEN '{p}' THEN {float(table[p])!r}" for p in PRIORITIES)
        default = float(table[self.deadlines.default_priority])
        p1 = float(table["P1"])
        return (
            f"CASE WHEN t.breach_suspected THEN {p1!r} ELSE "
            f"CASE t.priority {cases} ELSE {default!r} END END"
        )

    def due_expression(self) -> str:
        """SQL for a ticket's nominal next deadline (first response until answered)."""
        hours = (
            f"(CASE WHEN t.first_response_at IS NULL THEN "
            f"{self._hours_case(self.deadlines.first_response)} ELSE "
            f"{self._hours_case(self.deadlines.resolution)} END)"
        )
        if self.postgres:
            return f"(t.created_at + {hours} * interval '1 hour')"
        return f"(julianday(t.created_at) + {hours} / 24.0)"

    def _now_expression(self) -> str:
        return "?" if self.postgres else "julianday(?)"

    def _search(self, text: str) -> tuple[str, list[Any]]:
        if self.postgres:
            words = " ".join(re.findall(r"\w+", text)[:12])
            return (
                "(to_tsvector('simple', t.subject) @@ plainto_tsquery('simple', ?) OR t.id IN "
                "(SELECT ticket_id FROM message WHERE to_tsvector('simple', body) @@ "
                "plainto_tsquery('simple', ?)))",
                [words, words],
            )
        query = fts_query(text)
        return (
            "(t.id IN (SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH ?) OR t.id IN "
            "(SELECT ticket_id FROM message_fts WHERE message_fts MATCH ?))",
            [query, query],
        )

    def _scope(self, query: QueueQuery) -> tuple[list[str], list[Any]]:
        """The agent's part of the desk: tickets waiting for review and their tiers' tickets."""
        states = [query.status] if query.status else list(OPEN_STATES)
        where = [f"t.status IN ({', '.join('?' for _ in states)})"]
        params: list[Any] = list(states)
        if query.tiers is not None:
            marks = ", ".join("?" for _ in query.tiers) or "''"
            where.append(f"(t.needs_review = ? OR t.tier IN ({marks}))")
            params += [True, *query.tiers]
        return where, params

    def _filters(self, query: QueueQuery, now: datetime) -> tuple[list[str], list[Any]]:
        where, params = self._scope(query)
        if query.tier:
            where.append("t.tier = ?")
            params.append(query.tier)
        for head in ("kind", "category", "priority"):  # unset: what triage suggested counts
            value = getattr(query, head)
            if value:
                where.append(
                    f"(t.{head} = ? OR (t.{head} IS NULL AND t.id IN (SELECT ticket_id FROM "
                    "suggestion WHERE head = ? AND label = ?)))"
                )
                params += [value, head, value]
        if query.review:
            where.append("t.needs_review = ?")
            params.append(True)
        if query.mine:
            where.append("t.assignee = ?")
            params.append(query.agent)
        if query.breached:
            where.append(f"{self.due_expression()} < {self._now_expression()}")
            params.append(self._time(now))
        if query.text and re.search(r"\w", query.text):
            sql, values = self._search(query.text)
            where.append(sql)
            params += values
        return where, params

    # -- the queue ------------------------------------------------------------------------------
    def queue(
        self, query: QueueQuery, now: datetime, counts: dict[str, int] | None = None
    ) -> QueuePage:
        """One page of the queue, sorted by SLA risk (the first nominal deadline first) by
        default; `counts` (from counts()) when the caller has them fresh."""
        where, params = self._filters(query, now)
        clause = " AND ".join(where)
        order = SORTS.get(query.sort, SORTS["due"])
        offset = (max(query.page, 1) - 1) * query.page_size
        # the page's ids first, from the covering index alone; then only those rows are read
        page = self._sql(
            f"SELECT t.id, {self.due_expression()} AS due_key FROM ticket t WHERE {clause} "
            f"ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, query.page_size, offset],
        )
        ids = [row[0] for row in page]
        by_id = {
            row[0]: row
            for row in self._sql(
                "SELECT t.id, t.ref, t.subject, t.requester, t.requester_name, t.status, t.kind, "
                "t.category, t.priority, t.tier, t.assignee, t.needs_review, t.breach_suspected, "
                "t.created_at, t.version, t.first_response_at FROM ticket t "
                f"WHERE t.id IN ({', '.join('?' for _ in ids) or 'NULL'})",
                ids,
            )
        }
        rows = [by_id[i] for i in ids if i in by_id]
        counts = counts if counts is not None else self.counts(query, now)
        scope, _ = self._scope(query)
        total = (
            counts["open"]
            if len(where) == len(scope)  # no filter beyond the agent's scope
            else self._sql(f"SELECT COUNT(*) FROM ticket t WHERE {clause}", params)[0][0]
        )
        names = (
            "id ref subject requester requester_name status kind category priority tier "
            "assignee needs_review breach_suspected created_at version first_response_at"
        ).split()
        found = [dict(zip(names, row)) for row in rows]
        for row in found:
            row["needs_review"] = bool(row["needs_review"])
            row["breach_suspected"] = bool(row["breach_suspected"])
            for key in ("created_at", "first_response_at"):
                value = row[key]
                if isinstance(value, str):
                    value = datetime.fromisoformat(value)
                row[key] = naive_to_utc(value) if value is not None else None
        self._add_suggestions(found)
        return QueuePage(rows=tuple(found), total=int(total), counts=counts)

    def counts(self, query: QueueQuery, now: datetime) -> dict[str, int]:
        """How many of the agent's open tickets wait for review, are late, are theirs."""
        where, params = self._scope(QueueQuery(agent=query.agent, tiers=query.tiers))
        scope = " AND ".join(where)
        review, mine, late, total = self._sql(
            "SELECT "
            "SUM(CASE WHEN t.needs_review = ? THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN t.assignee = ? THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN {self.due_expression()} < {self._now_expression()} THEN 1 ELSE 0 END),"
            f" COUNT(*) FROM ticket t WHERE {scope}",
            [True, query.agent, self._time(now), *params],
        )[0]
        return {
            "open": int(total or 0),
            "review": int(review or 0),
            "mine": int(mine or 0),
            "breached": int(late or 0),
        }

    def _add_suggestions(self, rows: list[dict[str, Any]]) -> None:
        """Each row's suggestions that were not applied (what L1 has to decide)."""
        ids = [r["id"] for r in rows if r["needs_review"]]
        by_ticket: dict[int, list[dict[str, Any]]] = {}
        if ids:
            marks = ", ".join("?" for _ in ids)
            for ticket_id, head, label, confidence, applied in self._sql(
                "SELECT ticket_id, head, label, confidence, applied FROM suggestion "
                f"WHERE ticket_id IN ({marks}) ORDER BY id",
                ids,
            ):
                by_ticket.setdefault(ticket_id, []).append(
                    {
                        "head": head,
                        "label": label,
                        "confidence": float(confidence),
                        "applied": bool(applied),
                    }
                )
        for row in rows:
            row["suggestions"] = by_ticket.get(row["id"], [])

    def known_categories(self) -> list[str]:
        """Every category the desk or the model has used (the pick-list), sorted."""
        found = {
            r[0]
            for r in self._sql(
                "SELECT DISTINCT label FROM suggestion WHERE head = 'category' "
                "AND label IS NOT NULL"
            )
        }
        found |= {
            r[0]
            for r in self._sql("SELECT DISTINCT category FROM ticket WHERE category IS NOT NULL")
        }
        return sorted(found)

    def attachment(self, ref: str, attachment_id: int) -> tuple[str, str, str]:
        """(filename, content type, sha256) of an attachment of this ticket; NotFound otherwise."""
        rows = self._sql(
            "SELECT a.filename, a.content_type, a.sha256 FROM attachment a "
            "JOIN message msg ON msg.id = a.message_id JOIN ticket t ON t.id = msg.ticket_id "
            "WHERE a.id = ? AND t.ref = ?",
            [attachment_id, ref.upper()],
        )
        if not rows:
            raise NotFound(f"no attachment {attachment_id} on {ref}")
        name, content_type, digest = rows[0]
        return str(name), str(content_type), str(digest)

    def attachments_of(self, ticket_id: int) -> dict[int, list[dict[str, Any]]]:
        """Attachments by message id, for the ticket page's download links."""
        found: dict[int, list[dict[str, Any]]] = {}
        for att_id, message_id, name, content_type, size in self._sql(
            "SELECT a.id, a.message_id, a.filename, a.content_type, a.size FROM attachment a "
            "JOIN message msg ON msg.id = a.message_id WHERE msg.ticket_id = ? ORDER BY a.id",
            [ticket_id],
        ):
            found.setdefault(message_id, []).append(
                {"id": att_id, "filename": name, "content_type": content_type, "size": size}
            )
        return found

    def messages(self, ticket_id: int) -> list[dict[str, Any]]:
        """The conversation, oldest first, with each message's inbound mail id (for its HTML)."""
        names = ("id", "direction", "sender", "subject", "body", "created_at", "inbound_id")
        return [
            dict(zip(names, row))
            for row in self._sql(
                "SELECT id, direction, sender, subject, body, created_at, inbound_id FROM message "
                "WHERE ticket_id = ? ORDER BY id",
                [ticket_id],
            )
        ]

    def status_changes(self, ids: Sequence[int]) -> dict[int, list[tuple[datetime, str, str]]]:
        """(at, from, to) of every status change of these tickets, oldest first (SLA pauses)."""
        found: dict[int, list[tuple[datetime, str, str]]] = {i: [] for i in ids}
        if not ids:
            return found
        marks = ", ".join("?" for _ in ids)
        for ticket_id, at, before, after in self._sql(
            "SELECT ticket_id, created_at, from_status, to_status FROM statuschange "
            f"WHERE ticket_id IN ({marks}) ORDER BY id",
            list(ids),
        ):
            when = datetime.fromisoformat(at) if isinstance(at, str) else at
            found[ticket_id].append((naive_to_utc(when), before, after))
        return found

    def raw_mail(self, inbound_id: int) -> bytes:
        """The raw bytes of a received mail (to show its sanitised HTML part)."""
        rows = self._sql("SELECT raw FROM inbound_raw WHERE inbound_id = ?", [inbound_id])
        return bytes(rows[0][0]) if rows else b""

    # -- sign-in --------------------------------------------------------------------------------
    def sign_in_requests(self, address: str, ip: str, since: datetime) -> tuple[int, int]:
        """How many links were asked for this address, and from this IP, since `since`."""
        at = self._time(since)
        by_address = self._sql(
            "SELECT COUNT(*) FROM sign_in_request WHERE address = ? AND created_at >= ?",
            [address, at],
        )[0][0]
        by_ip = self._sql(
            "SELECT COUNT(*) FROM sign_in_request WHERE ip = ? AND created_at >= ?", [ip, at]
        )[0][0]
        return int(by_address), int(by_ip)

    def record_sign_in(
        self,
        address: str,
        ip: str,
        token_hash: str | None,
        now: datetime,
        expires: datetime,
        mail: OutgoingMail | None,
    ) -> None:
        """Record a request for a link (and queue the link's mail) in one transaction."""
        with self.db.atomic():
            self._sql(
                "INSERT INTO sign_in_request (address, ip, token_hash, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [address, ip, token_hash, self._time(now), self._time(expires)],
            )
            if mail is not None:
                self.store.queue_mails([mail], now)

    def redeem_sign_in(self, token_hash: str, now: datetime) -> str | None:
        """The address a link was for, once: a used or expired link gives None."""
        with self.db.atomic():
            done = self.db.execute_sql(
                "UPDATE sign_in_request SET used_at = ? WHERE token_hash = ? "
                "AND used_at IS NULL AND expires_at > ?".replace("?", self.db.param),
                [self._time(now), token_hash, self._time(now)],
            ).rowcount
            if done != 1:
                return None
            rows = self._sql(
                "SELECT address FROM sign_in_request WHERE token_hash = ?", [token_hash]
            )
        return str(rows[0][0])

    # -- sessions -------------------------------------------------------------------------------
    def create_session(
        self,
        *,
        token_hash: str,
        agent: str,
        csrf: str,
        via: str,
        ip: str,
        user_agent: str,
        now: datetime,
        expires: datetime,
    ) -> None:
        """Store a new session (only the hash of its cookie)."""
        self._sql(
            "INSERT INTO web_session (token_hash, agent, csrf, via, ip, user_agent, created_at, "
            "last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                token_hash,
                agent,
                csrf,
                via,
                ip[:64],
                user_agent[:256],
                self._time(now),
                self._time(now),
                self._time(expires),
            ],
        )

    def session(self, token_hash: str, now: datetime) -> tuple[int, str, str] | None:
        """(id, agent, csrf token) of a live session, or None (unknown, expired or revoked)."""
        rows = self._sql(
            "SELECT id, agent, csrf FROM web_session WHERE token_hash = ? "
            "AND revoked_at IS NULL AND expires_at > ?",
            [token_hash, self._time(now)],
        )
        if not rows:
            return None
        session_id, agent, csrf = rows[0]
        return int(session_id), str(agent), str(csrf)

    def revoke_session(self, session_id: int | None, now: datetime, agent: str = "") -> int:
        """Revoke one session (by id) or every session of an agent; returns how many."""
        params: list[object]
        if session_id is not None:
            sql, params = "id = ?", [session_id]
        else:
            sql, params = "agent = ?", [agent.lower()]
        with self.db.atomic():
            return int(
                self.db.execute_sql(
                    f"UPDATE web_session SET revoked_at = ? WHERE {sql} AND revoked_at IS NULL"
                    "".replace("?", self.db.param),
                    [self._time(now), *params],
                ).rowcount
            )

    def sessions(self, now: datetime) -> list[dict[str, Any]]:
        """Live sessions, newest first."""
        names = ("id", "agent", "via", "ip", "user_agent", "created_at", "expires_at")
        return [
            {k: (str(v) if k.endswith("_at") else v) for k, v in zip(names, row)}
            for row in self._sql(
                "SELECT id, agent, via, ip, user_agent, created_at, expires_at FROM web_session "
                "WHERE revoked_at IS NULL AND expires_at > ? ORDER BY id DESC",
                [self._time(now)],
            )
        ]

    # -- saved views and canned replies ---------------------------------------------------------
    def saved_views(self, agent: str) -> list[tuple[int, str, str]]:
        """(id, name, query string) of an agent's saved views."""
        return [
            (int(i), str(n), str(q))
            for i, n, q in self._sql(
                "SELECT id, name, query FROM saved_view WHERE agent = ? ORDER BY name", [agent]
            )
        ]

    def save_view(self, agent: str, name: str, query: str, now: datetime) -> None:
        """Save (or replace) a named view of the queue for this agent."""
        with self.db.atomic():
            self._sql("DELETE FROM saved_view WHERE agent = ? AND name = ?", [agent, name])
            self._sql(
                "INSERT INTO saved_view (agent, name, query, created_at) VALUES (?, ?, ?, ?)",
                [agent, name, query, self._time(now)],
            )

    def delete_view(self, agent: str, view_id: int) -> None:
        """Forget one of this agent's views."""
        with self.db.atomic():
            self._sql("DELETE FROM saved_view WHERE agent = ? AND id = ?", [agent, view_id])

    def canned_replies(self) -> list[dict[str, Any]]:
        """Every canned reply, by name."""
        names = ("id", "name", "body", "updated_by", "updated_at")
        return [
            dict(zip(names, row))
            for row in self._sql(
                "SELECT id, name, body, updated_by, updated_at FROM canned_reply ORDER BY name"
            )
        ]

    def save_canned(self, name: str, body: str, agent: str, now: datetime) -> None:
        """Create or change a canned reply (by name)."""
        with self.db.atomic():
            self._sql("DELETE FROM canned_reply WHERE name = ?", [name])
            self._sql(
                "INSERT INTO canned_reply (name, body, updated_by, updated_at) VALUES (?, ?, ?, ?)",
                [name, body, agent, self._time(now)],
            )

    def delete_canned(self, reply_id: int) -> None:
        """Remove a canned reply."""
        with self.db.atomic():
            self._sql("DELETE FROM canned_reply WHERE id = ?", [reply_id])


def ticket_id_of(ref: str) -> int:
    """The id of a ticket reference (NotFound if there is none)."""
    row = m.Ticket.get_or_none(m.Ticket.ref == ref.upper())
    if row is None:
        raise NotFound(f"no ticket {ref}")
    return int(row.id)
