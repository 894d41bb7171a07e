"""ProactiveStore: reads and writes of major incidents, calls and published fixes (EDGE).

Ticket rows themselves change only through Store.apply_update (one transaction per update);
this module owns the migration-8 tables and the few ticket reads the proactive jobs need.
Times cross its boundary as aware UTC datetimes, as in store.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from peewee import JOIN, fn

from pipeline.edges import fastsql
from pipeline.edges import models as m
from pipeline.edges import proactive_models as p
from pipeline.edges.store import Store, naive, utc
from pipeline.errors import NotFound
from pipeline.stages.calls import BookedCall
from pipeline.stages.digest import MajorItem

FIRST_BODY_CHARS = 2000
"""How much of a ticket's first mail the burst detector and the fix matcher read."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketText:
    """A ticket's words as the burst detector and the known-fix matcher read them."""

    id: int
    arrived_at: datetime  # when its first mail reached the desk's server (else: ticket created)
    requester: str
    category: str | None
    kind: str | None
    subject: str
    body: str
    breach_suspected: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MajorRow:
    """A major incident as the jobs see it."""

    id: int
    parent_id: int
    parent_ref: str
    status: str
    signature: str
    category: str | None
    started_at: datetime
    detected_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    suppress_until: datetime | None
    resolved_at: datetime | None


def _ticket_text(row: Any, body: str, arrived_at: datetime | None) -> TicketText:
    return TicketText(
        id=row.id,
        arrived_at=arrived_at or utc(row.created_at) or datetime.min,
        requester=row.requester,
        category=row.category,
        kind=row.kind,
        subject=row.subject,
        body=body,
        breach_suspected=row.breach_suspected,
    )


class ProactiveStore:
    """Queries and writes for major incidents, calls and published fixes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- ticket texts ---------------------------------------------------------------------------
    def _first_mails(self, ids: Sequence[int]) -> dict[int, tuple[str, datetime | None]]:
        """Each ticket's first incoming mail: the start of its body, and when it reached the desk's
        server (None when the server did not say)."""
        found: dict[int, tuple[str, datetime | None]] = {}
        for chunk in fastsql.chunks(ids):
            first = (
                m.Message.select(fn.MIN(m.Message.id))
                .where(m.Message.ticket.in_(chunk) & (m.Message.direction == "in"))
                .group_by(m.Message.ticket)
            )
            rows: Any = (
                m.Message.select(m.Message.ticket, m.Message.body, m.Inbound.arrived_at)
                .join(m.Inbound, JOIN.LEFT_OUTER, on=(m.Message.inbound == m.Inbound.id))
                .where(m.Message.id.in_(first))
                .tuples()
            )
            for ticket_id, body, arrived in rows:
                found[ticket_id] = (body[:FIRST_BODY_CHARS], utc(arrived))
        return found

    def ticket_texts(self, *, since: datetime | None = None, after_id: int = 0) -> list[TicketText]:
        """Tickets (created since `since`, with id above `after_id`) with their first mail."""
        query = m.Ticket.select(
            m.Ticket.id,
            m.Ticket.created_at,
            m.Ticket.requester,
            m.Ticket.category,
            m.Ticket.kind,
            m.Ticket.subject,
            m.Ticket.breach_suspected,
        ).where(m.Ticket.id > after_id)
        if since is not None:
            query = query.where(m.Ticket.created_at >= naive(since))
        rows = list(query.order_by(m.Ticket.id))
        firsts = self._first_mails([r.id for r in rows])
        return [_ticket_text(r, *firsts.get(r.id, ("", None))) for r in rows]

    def ticket_id(self, ref: str) -> int:
        """The id of a ticket reference; NotFound when there is none."""
        row = m.Ticket.get_or_none(m.Ticket.ref == ref.upper())
        if row is None:
            raise NotFound(f"no ticket {ref}")
        return int(row.id)

    def new_ticket(
        self, *, subject: str, requester: str, category: str | None, mailbox: str, now: datetime
    ) -> tuple[int, str]:
        """Create a ticket that no mail opened (a major incident's parent); (id, ref)."""
        at = naive(now)
        _, ticket_id = fastsql.insert(
            self.db,
            m.Ticket,
            [
                {
                    "ref": f"pending-major-{now.timestamp():.6f}",
                    "subject": subject,
                    "requester": requester,
                    "requester_name": "",
                    "status": "new",
                    "kind": "incident",
                    "category": category,
                    "priority": None,
                    "tier": "L3",
                    "breach_suspected": False,
                    "needs_review": False,
                    "mailbox": mailbox,
                    "language": "en",
                    "linked_to": None,
                    "created_at": at,
                    "updated_at": at,
                }
            ],
            returning=True,
        )
        assert ticket_id is not None
        ref = f"{self.store.ref_prefix}-{ticket_id:06d}"
        fastsql.update(self.db, m.Ticket, ticket_id, {"ref": ref})
        fastsql.insert(
            self.db,
            m.Participant,
            [{"ticket": ticket_id, "address": requester, "role": "requester"}],
            ignore=True,
        )
        return ticket_id, ref

    # -- major incidents ------------------------------------------------------------------------
    def create_major(
        self,
        *,
        parent_id: int,
        signature: str,
        category: str | None,
        started_at: datetime,
        now: datetime,
    ) -> int:
        """Record a new candidate; returns its id."""
        row = p.MajorIncident.create(
            parent=parent_id,
            status="candidate",
            signature=signature,
            category=category,
            started_at=naive(started_at),
            detected_at=naive(now),
        )
        return int(row.id)

    def add_members(
        self, major_id: int, ticket_ids: Sequence[int], how: str, now: datetime, *, told: bool
    ) -> None:
        """Link tickets to a major incident (a ticket already linked stays where it is)."""
        fastsql.insert(
            self.db,
            p.MajorMember,
            [
                {
                    "major": major_id,
                    "ticket": t,
                    "linked_at": naive(now),
                    "how": how,
                    "told": told,
                }
                for t in ticket_ids
            ],
            ignore=True,
        )

    def set_told(self, ticket_ids: Sequence[int]) -> None:
        """These members' requesters had the known-problem mail."""
        if ticket_ids:
            p.MajorMember.update(told=True).where(
                p.MajorMember.ticket.in_(list(ticket_ids))
            ).execute()

    def update_major(self, major_id: int, **fields: Any) -> None:
        """Change a major incident's status, decision or times (aware datetimes)."""
        values = {k: naive(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        p.MajorIncident.update(**values).where(p.MajorIncident.id == major_id).execute()

    def majors(
        self, statuses: Sequence[str] | None = None, since: datetime | None = None
    ) -> list[MajorRow]:
        """Major incidents, oldest first (in these statuses, detected since `since`)."""
        query = p.MajorIncident.select(p.MajorIncident, m.Ticket.id, m.Ticket.ref).join(
            m.Ticket, on=(p.MajorIncident.parent == m.Ticket.id)
        )
        if statuses is not None:
            query = query.where(p.MajorIncident.status.in_(list(statuses)))
        if since is not None:
            query = query.where(p.MajorIncident.detected_at >= naive(since))
        return [self._major(row) for row in query.order_by(p.MajorIncident.id)]

    def major_of(self, ticket_id: int) -> MajorRow | None:
        """The major incident whose parent this ticket is, or None."""
        row = (
            p.MajorIncident.select(p.MajorIncident, m.Ticket.id, m.Ticket.ref)
            .join(m.Ticket, on=(p.MajorIncident.parent == m.Ticket.id))
            .where(p.MajorIncident.parent == ticket_id)
            .first()
        )
        return None if row is None else self._major(row)

    def major_by_id(self, major_id: int) -> MajorRow:
        """One major incident by id."""
        row = (
            p.MajorIncident.select(p.MajorIncident, m.Ticket.id, m.Ticket.ref)
            .join(m.Ticket, on=(p.MajorIncident.parent == m.Ticket.id))
            .where(p.MajorIncident.id == major_id)
            .first()
        )
        if row is None:
            raise NotFound(f"no major incident {major_id}")
        return self._major(row)

    @staticmethod
    def _major(row: Any) -> MajorRow:
        return MajorRow(
            id=row.id,
            parent_id=row.parent.id,
            parent_ref=row.parent.ref,
            status=row.status,
            signature=row.signature,
            category=row.category,
            started_at=utc(row.started_at) or datetime.min,
            detected_at=utc(row.detected_at) or datetime.min,
            decided_at=utc(row.decided_at),
            decided_by=row.decided_by,
            suppress_until=utc(row.suppress_until),
            resolved_at=utc(row.resolved_at),
        )

    def members(self, major_id: int) -> list[tuple[int, bool]]:
        """(ticket id, told) of a major incident's members, in the order they were linked."""
        return [
            (row.ticket_id, row.told)
            for row in p.MajorMember.select(p.MajorMember.ticket, p.MajorMember.told)
            .where(p.MajorMember.major == major_id)
            .order_by(p.MajorMember.id)
        ]

    def member_counts(self, major_ids: Sequence[int]) -> dict[int, int]:
        """How many members each major incident has."""
        if not major_ids:
            return {}
        query = (
            p.MajorMember.select(p.MajorMember.major, fn.COUNT(p.MajorMember.id).alias("n"))
            .where(p.MajorMember.major.in_(list(major_ids)))
            .group_by(p.MajorMember.major)
        )
        return {row.major_id: row.n for row in query}  # type: ignore[attr-defined]

    def linked_ticket_ids(self, since: datetime) -> list[int]:
        """Tickets created since `since` that belong to some major incident (any status)."""
        query = (
            p.MajorMember.select(p.MajorMember.ticket)
            .join(m.Ticket, on=(p.MajorMember.ticket == m.Ticket.id))
            .where(m.Ticket.created_at >= naive(since))
        )
        return [row.ticket_id for row in query]

    def quiet_ticket_ids(self) -> set[int]:
        """Tickets the SLA job leaves alone: members of accepted major incidents (their parent
        carries the clocks) and parents of candidates (until an agent decides)."""
        members = (
            p.MajorMember.select(p.MajorMember.ticket)
            .join(p.MajorIncident, JOIN.INNER, on=(p.MajorMember.major == p.MajorIncident.id))
            .where(p.MajorIncident.status == "accepted")
        )
        parents = p.MajorIncident.select(p.MajorIncident.parent).where(
            p.MajorIncident.status == "candidate"
        )
        return {r.ticket_id for r in members} | {r.parent_id for r in parents}

    # -- calls ----------------------------------------------------------------------------------
    def latest_call(self, ticket_id: int) -> BookedCall | None:
        """The ticket's most recent call, or None."""
        row = (
            p.CallRow.select()
            .where(p.CallRow.ticket == ticket_id)
            .order_by(p.CallRow.id.desc())
            .first()
        )
        if row is None:
            return None
        return BookedCall(
            uid=row.uid,
            sequence=row.sequence,
            starts_at=utc(row.starts_at) or datetime.min,
            minutes=row.minutes,
            location=row.location,
            organiser=row.organiser,
            status=row.status,
        )

    def call_count(self, ticket_id: int) -> int:
        """How many calls a ticket has had (the next one's number is this + 1)."""
        return int(p.CallRow.select().where(p.CallRow.ticket == ticket_id).count())

    def save_call(self, ticket_id: int, call: BookedCall, now: datetime) -> None:
        """Insert or update a call by its UID."""
        values = {
            "sequence": call.sequence,
            "starts_at": naive(call.starts_at),
            "minutes": call.minutes,
            "location": call.location,
            "organiser": call.organiser,
            "status": call.status,
            "updated_at": naive(now),
        }
        changed = p.CallRow.update(**values).where(p.CallRow.uid == call.uid).execute()
        if not changed:
            p.CallRow.create(ticket=ticket_id, uid=call.uid, created_at=naive(now), **values)

    def calls(self, ticket_id: int) -> list[dict[str, Any]]:
        """A ticket's calls as JSON-ready dicts (for `tickets show`)."""
        return [
            {
                "uid": row.uid,
                "sequence": row.sequence,
                "starts_at": row.starts_at.isoformat(timespec="minutes") + "Z",
                "minutes": row.minutes,
                "where": row.location,
                "organiser": row.organiser,
                "status": row.status,
            }
            for row in p.CallRow.select()
            .where(p.CallRow.ticket == ticket_id)
            .order_by(p.CallRow.id)
        ]

    def ticket_extras(self, ref: str) -> dict[str, Any]:
        """What `tickets show` adds: the ticket's calls, and its major incident (as parent with
        its members, or as member with its parent)."""
        ticket_id = self.ticket_id(ref)
        major = self.major_of(ticket_id)
        link: dict[str, Any] | None = None
        if major is not None:
            refs = {
                t.id: t.ref
                for t in m.Ticket.select(m.Ticket.id, m.Ticket.ref).where(
                    m.Ticket.id.in_([t for t, _ in self.members(major.id)])
                )
            }
            link = {
                "role": "parent",
                "status": major.status,
                "members": [refs[t] for t, _ in self.members(major.id) if t in refs],
            }
        else:
            row = p.MajorMember.get_or_none(p.MajorMember.ticket == ticket_id)
            if row is not None:
                parent = self.major_by_id(row.major_id)
                link = {"role": "member", "status": parent.status, "parent": parent.parent_ref}
        return {"calls": self.calls(ticket_id), "major_incident": link}

    # -- published fixes ------------------------------------------------------------------------
    def publish_fix(
        self, ticket_id: int, title: str, note: str, words: str, agent: str, now: datetime
    ) -> None:
        """Publish (or republish) a ticket's resolution note as a known fix."""
        values = {"title": title, "note": note, "words": words, "agent": agent}
        changed = (
            p.PublishedFix.update(**values).where(p.PublishedFix.ticket == ticket_id).execute()
        )
        if not changed:
            p.PublishedFix.create(ticket=ticket_id, created_at=naive(now), **values)

    def published_fixes(self, limit: int = 2000) -> list[tuple[int, str, str, str]]:
        """(ticket id, title, note, words) of the newest published fixes."""
        return [
            (row.ticket_id, row.title, row.note, row.words)
            for row in p.PublishedFix.select().order_by(p.PublishedFix.id.desc()).limit(limit)
        ]


def digest_rows(start: datetime, end: datetime) -> tuple[tuple[MajorItem, ...], int]:
    """The digest's major incidents (detected in [start, end)) and self-served ticket count."""
    rows = list(
        p.MajorIncident.select(p.MajorIncident, m.Ticket.ref, m.Ticket.subject)
        .join(m.Ticket, on=(p.MajorIncident.parent == m.Ticket.id))
        .where(
            (p.MajorIncident.detected_at >= naive(start))
            & (p.MajorIncident.detected_at < naive(end))
        )
        .order_by(p.MajorIncident.id)
    )
    counts = {
        r.major_id: r.n  # type: ignore[attr-defined]
        for r in p.MajorMember.select(p.MajorMember.major, fn.COUNT(p.MajorMember.id).alias("n"))
        .where(p.MajorMember.major.in_([r.id for r in rows]))
        .group_by(p.MajorMember.major)
    }
    items = []
    for row in rows:
        started = utc(row.started_at) or start
        resolved = utc(row.resolved_at)
        items.append(
            MajorItem(
                ref=row.parent.ref,
                subject=row.parent.subject,
                status=row.status,
                started_at=started,
                members=counts.get(row.id, 0),
                detection_minutes=round(
                    ((utc(row.detected_at) or started) - started).total_seconds() / 60, 1
                ),
                resolution_minutes=None
                if resolved is None
                else round((resolved - started).total_seconds() / 60, 1),
            )
        )
    served = (
        m.AuditRow.select()
        .where(
            (m.AuditRow.action == "self_served")
            & (m.AuditRow.created_at >= naive(start))
            & (m.AuditRow.created_at < naive(end))
        )
        .count()
    )
    return tuple(items), int(served)
