"""MajorIncidents (orchestrator): bursts of similar incidents become major incidents agents decide on.

Every new incident ticket is shown to the burst detector (pipeline/stages/bursts.py), whose
sliding history is loaded once from the database and then fed as tickets are created (tickets
another daemon created are caught up by id). A burst becomes a candidate: a parent ticket at L3,
the members linked, one alert to L3 and the managers. Accepting it (`#major accept`, `tiket major
accept`) puts the parent on P1 clocks and tells every member's requester, once, that the problem
is known; rejecting it leaves the members as ordinary tickets and rests the pattern. Status
updates on the parent reach every member's requester; resolving the parent resolves them all.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.edges.proactive_store import MajorRow, ProactiveStore, TicketText
from pipeline.errors import InvalidAction, NotFound
from pipeline.records import AuditEvent, TicketState, TicketUpdate
from pipeline.settings import Settings
from pipeline.stages.bursts import (
    NOTHING,
    BurstDecision,
    BurstDetector,
    BurstPolicy,
    KnownPattern,
    Sighting,
)
from pipeline.stages.majors import (
    plan_accept,
    plan_broadcast,
    plan_candidate,
    plan_known_problem,
    plan_member_linked,
    plan_member_resolved,
    plan_reject,
    plan_update_note,
)
from pipeline.stages.text_similarity import tokens
from pipeline.vocabulary import OPEN_STATES

if TYPE_CHECKING:
    from pipeline.app import Tiket

log = logging.getLogger(__name__)

PATTERN_TTL = 5.0


def burst_policy(settings: Settings) -> BurstPolicy:
    """The detector's rule from [major_incident]."""
    section = settings.section("major_incident")
    return BurstPolicy(
        min_mails=int(section["min_mails"]),
        window=timedelta(minutes=float(section["window_minutes"])),
        similarity=float(section["similarity"]),
        significance=float(section["significance"]),
        baseline=timedelta(hours=float(section["baseline_hours"])),
    )


def ticket_words(subject: str, body: str) -> frozenset[str]:
    """The words a ticket is compared on: its subject (counted twice: people name the broken
    thing there) and the first lines of its first mail after the greeting (the symptom; the rest
    is context every mail has)."""
    lines = body.strip().splitlines()
    if lines and len(lines[0]) <= 40 and lines[0].rstrip().endswith((",", "!")):
        lines = lines[1:]  # "Hi team," and the like
    subject_words = tokens(subject)
    return subject_words | {f"s:{w}" for w in subject_words} | tokens("\n".join(lines), 240)


def counts_for_bursts(ticket: TicketText) -> bool:
    """Incidents (and tickets whose kind is not known yet) count; requests and breaches do not."""
    return ticket.kind != "request" and not ticket.breach_suspected


class MajorIncidents:
    """The burst detector over new tickets, and the agents' decisions on its candidates."""

    def __init__(self, app: Tiket, rows: ProactiveStore) -> None:
        self.app = app
        self.settings = app.settings
        section = app.settings.section("major_incident")
        self.enabled = bool(section["enabled"])
        self.suppress = timedelta(minutes=float(section["suppress_minutes"]))
        self.policy = burst_policy(app.settings)
        self.rows = rows
        self.store = app.store
        self.zone = app.settings.desk.timezone
        self._detector: BurstDetector | None = None
        self._seen = 0  # the highest ticket id the detector has been shown
        self._patterns: tuple[float, list[KnownPattern]] | None = None
        self._rows_seen: dict[int, MajorRow] = {}  # the major incidents the patterns came from

    # -- the detector ---------------------------------------------------------------------------
    def detector(self, now: datetime, before_id: int | None = None) -> BurstDetector:
        """The detector with the recent history (loaded on first use, up to `before_id`)."""
        if self._detector is None:
            detector = BurstDetector(self.policy)
            since = now - self.policy.baseline - self.policy.window
            for ticket in self.rows.ticket_texts(since=since):
                if before_id is not None and ticket.id >= before_id:
                    break
                self._remember(detector, ticket)
            detector.mark_linked(self.rows.linked_ticket_ids(since))
            self._detector = detector
        return self._detector

    def _remember(self, detector: BurstDetector, ticket: TicketText) -> None:
        self._seen = max(self._seen, ticket.id)
        if counts_for_bursts(ticket):
            detector.remember(_sighting(ticket))

    def _catch_up(self, detector: BurstDetector, before_id: int) -> None:
        """Show the detector tickets created since it last looked (by another daemon)."""
        if before_id - 1 <= self._seen:
            return
        for ticket in self.rows.ticket_texts(after_id=self._seen):
            if ticket.id >= before_id:
                break
            self._remember(detector, ticket)

    def patterns(self, now: datetime) -> list[KnownPattern]:
        """Open candidates, accepted major incidents, and rejected ones still resting (cached for
        PATTERN_TTL seconds: intake asks twice per new ticket; this process's own decisions
        drop the cache at once, another process's are seen within the TTL)."""
        cached = self._patterns
        if cached is not None and time.monotonic() - cached[0] < PATTERN_TTL:
            return [p for p in cached[1] if p.until is None or p.until > now]
        found = self._load_patterns(now)
        self._patterns = (time.monotonic(), found)
        return found

    def forget_patterns(self) -> None:
        """Drop the cached patterns (a major incident changed)."""
        self._patterns = None
        self._rows_seen = {}

    def _major_row(self, major_id: int) -> MajorRow:
        """A major incident as the cached patterns saw it (as fresh as they are), else read."""
        cached = self._rows_seen.get(major_id)
        return cached if cached is not None else self.rows.major_by_id(major_id)

    def _load_patterns(self, now: datetime) -> list[KnownPattern]:
        found = []
        recent = now - self.suppress - self.policy.baseline
        majors = self.rows.majors(("candidate", "accepted")) + self.rows.majors(
            ("rejected",), since=recent
        )
        self._rows_seen = {major.id: major for major in majors}
        for major in majors:
            until = major.suppress_until if major.status == "rejected" else None
            if major.status == "rejected" and (until is None or until <= now):
                continue
            found.append(
                KnownPattern(
                    major_id=major.id,
                    status=major.status,
                    category=major.category,
                    words=frozenset(major.signature.split()),
                    until=until,
                )
            )
        return found

    def known_problem(
        self, subject: str, body: str, category: str | None, now: datetime
    ) -> tuple[int, str, str] | None:
        """(major id, parent ref, parent subject) of the accepted major incident a new mail
        belongs to, or None. Asked before the ticket is written, to shape its acknowledgement."""
        if not self.enabled:
            return None
        accepted = [p for p in self.patterns(now) if p.status == "accepted"]
        if not accepted:
            return None
        probe = Sighting(
            ticket_id=0,
            at=now,
            requester="",
            category=category,
            words=ticket_words(subject, body),
        )
        found = self.detector(now).match_pattern(probe, accepted)
        if found is None:
            return None
        major = self.rows.major_by_id(found[0].major_id)
        parent = self.store.ticket_state(major.parent_id)
        return major.id, parent.ref, parent.subject

    def observe(
        self, ticket: TicketText, ref: str, now: datetime, known_major: int | None
    ) -> BurstDecision:
        """Show a new ticket (`ref`: its reference) to the detector and act on what it finds
        (link or propose)."""
        if not self.enabled:
            return NOTHING
        ticket_id = ticket.id
        detector = self.detector(now, before_id=ticket_id)
        self._catch_up(detector, ticket_id)
        self._seen = max(self._seen, ticket_id)
        if not counts_for_bursts(ticket):
            return NOTHING
        sighting = _sighting(ticket)
        if known_major is not None:  # its acknowledgement already says so: link it there
            detector.remember(sighting)
            detector.mark_linked([ticket_id])
            decision = BurstDecision(action="link", major_id=known_major, members=(ticket_id,))
        else:
            decision = detector.observe(sighting, self.patterns(now))
        if decision.action == "link" and decision.major_id is not None:
            self._link(decision.major_id, ticket_id, ref, now, told=known_major is not None)
        elif decision.action == "propose":
            self._propose(decision, now)
        return decision

    def _link(self, major_id: int, ticket_id: int, ref: str, now: datetime, *, told: bool) -> None:
        major = self._major_row(major_id)
        self.rows.add_members(major_id, [ticket_id], "matched", now, told=told)
        # the new ticket was written in this transaction: its link is an audit event, no update
        self.store.record_events(
            plan_member_linked(ticket_id, ref, major.parent_ref, "matched"), now
        )
        if major.status == "accepted":  # only the requester's notice needs the whole ticket
            member = self.store.ticket_state(ticket_id)
            parent = self.store.ticket_state(major.parent_id)
            self._apply(plan_known_problem(member, parent, "tiket", tell=not told), now)
            self.rows.set_told([ticket_id])
        log.info("ticket=%s action=major_linked major=%s", ref, major.parent_ref)

    def _propose(self, decision: BurstDecision, now: datetime) -> None:
        loaded = {state.id: state for state in self.store.states_of(decision.members)}
        members = [loaded[i] for i in decision.members]
        subjects = Counter(m.subject for m in members)
        l3 = self.settings.tiers["L3"].group if "L3" in self.settings.tiers else ""
        parent_id, parent_ref = self.rows.new_ticket(
            subject=f"Major incident: {subjects.most_common(1)[0][0]}"[:250],
            requester=l3 or self.settings.desk.address,
            category=decision.category,
            mailbox="major-incident",
            now=now,
        )
        major_id = self.rows.create_major(
            parent_id=parent_id,
            signature=" ".join(sorted(decision.words)),
            category=decision.category,
            started_at=min(m.created_at for m in members),
            now=now,
        )
        self.rows.add_members(major_id, decision.members, "burst", now, told=False)
        self.forget_patterns()
        managers = tuple(str(a) for a in self.settings.section("digest")["managers"])
        update = plan_candidate(
            self.store.ticket_state(parent_id),
            members,
            to=tuple(dict.fromkeys(a for a in (l3, *managers) if a)),
            signature=" ".join(sorted(decision.words)),
            expected=decision.expected,
            zone=self.zone,
            now=now,
        )
        self._apply(update, now)
        for member in members:
            self._apply(plan_member_linked(member.id, member.ref, parent_ref, "burst"), now)
        log.warning(
            "ticket=%s action=major_candidate members=%d requesters=%d",
            parent_ref,
            len(members),
            decision.requesters,
        )

    # -- the agents' decisions ------------------------------------------------------------------
    def _major(self, ref: str | int, *statuses: str) -> tuple[TicketState, MajorRow]:
        parent = self.store.ticket_state(ref)
        major = self.rows.major_of(parent.id)
        if major is None:
            raise InvalidAction(f"{parent.ref} is not a major incident")
        if statuses and major.status not in statuses:
            raise InvalidAction(f"major incident {parent.ref} is {major.status}")
        return parent, major

    def accept(self, ref: str | int, actor: str, now: datetime) -> int:
        """Accept a candidate: the parent on P1 at L3, each member's requester told once.
        Returns how many requesters were told now."""
        with self.store.db.atomic():
            parent, major = self._major(ref, "candidate")
            self.rows.update_major(major.id, status="accepted", decided_at=now, decided_by=actor)
            self.forget_patterns()
            self._apply(plan_accept(parent, actor), now)
            parent = self.store.ticket_state(parent.id)
            told = 0
            for ticket_id, already in self.rows.members(major.id):
                member = self.store.ticket_state(ticket_id)
                if member.status not in OPEN_STATES:
                    continue
                self._apply(plan_known_problem(member, parent, actor, tell=not already), now)
                told += not already
            self.rows.set_told([t for t, _ in self.rows.members(major.id)])
        log.warning("ticket=%s action=major_accepted actor=%s told=%d", parent.ref, actor, told)
        return told

    def reject(self, ref: str | int, actor: str, now: datetime) -> None:
        """Reject a candidate: members stay ordinary tickets; the pattern rests for a while."""
        with self.store.db.atomic():
            parent, major = self._major(ref, "candidate")
            until = now + self.suppress
            self.rows.update_major(
                major.id, status="rejected", decided_at=now, decided_by=actor, suppress_until=until
            )
            self.forget_patterns()
            self._apply(plan_reject(parent, actor, now, until, self.zone), now)
            for ticket_id, _ in self.rows.members(major.id):
                self._apply(
                    TicketUpdate(
                        ticket_id=ticket_id,
                        ref=self.store.ticket_state(ticket_id).ref,
                        actor=actor,
                        events=(
                            AuditEvent(
                                action="major_rejected",
                                actor=actor,
                                detail=f"{parent.ref} is not a major incident: an ordinary ticket",
                            ),
                        ),
                    ),
                    now,
                )
        log.info("ticket=%s action=major_rejected actor=%s", parent.ref, actor)

    def broadcast(self, ref: str | int, text: str, actor: str, now: datetime) -> int:
        """Mail a status update to every linked requester once; returns how many."""
        with self.store.db.atomic():
            parent, major = self._major(ref, "accepted")
            seen: set[str] = set()
            for ticket_id, _ in self.rows.members(major.id):
                member = self.store.ticket_state(ticket_id)
                if member.status == "closed" or member.requester in seen:
                    continue
                seen.add(member.requester)
                self._apply(plan_broadcast(member, parent, text, actor), now)
            self._apply(plan_update_note(parent, text, actor, len(seen)), now)
        return len(seen)

    def parent_resolved(self, parent_id: int, note: str, actor: str, now: datetime) -> int:
        """The parent was resolved: resolve every open member with its note; returns how many."""
        major = self.rows.major_of(parent_id)
        if major is None or major.status not in ("candidate", "accepted"):
            return 0
        parent = self.store.ticket_state(parent_id)
        hours = self.app.policy.auto_close_after.total_seconds() / 3600
        resolved = 0
        with self.store.db.atomic():
            self.rows.update_major(major.id, status="resolved", resolved_at=now)
            self.forget_patterns()
            for ticket_id, _ in self.rows.members(major.id):
                member = self.store.ticket_state(ticket_id)
                update = plan_member_resolved(member, parent, note, actor, now, reopen_hours=hours)
                if update is not None:
                    self._apply(update, now)
                    resolved += 1
        log.info("ticket=%s action=major_resolved members=%d", parent.ref, resolved)
        return resolved

    def _apply(self, update: TicketUpdate, now: datetime) -> None:
        self.store.apply_update(update, now, self.app.desk.render(update, now))

    # -- what the interfaces show ---------------------------------------------------------------
    def summaries(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Major incidents (detected since `since`) with members and times, oldest first."""
        majors = self.rows.majors(since=since)
        counts = self.rows.member_counts([m.id for m in majors])
        return [major_summary(m, counts.get(m.id, 0)) for m in majors]


def major_summary(major: MajorRow, members: int) -> dict[str, Any]:
    """The JSON form of a major incident (`tiket major list --json`, the digest)."""

    def minutes(later: datetime | None) -> float | None:
        if later is None:
            return None
        return round((later - major.started_at).total_seconds() / 60, 1)

    return {
        "ref": major.parent_ref,
        "status": major.status,
        "category": major.category,
        "members": members,
        "started_at": major.started_at.isoformat(timespec="seconds"),
        "detected_at": major.detected_at.isoformat(timespec="seconds"),
        "decided_by": major.decided_by,
        "resolved_at": major.resolved_at.isoformat(timespec="seconds")
        if major.resolved_at
        else None,
        "minutes_to_detection": minutes(major.detected_at),
        "minutes_to_resolution": minutes(major.resolved_at),
    }


def _sighting(ticket: TicketText) -> Sighting:
    return Sighting(
        ticket_id=ticket.id,
        at=ticket.arrived_at,
        requester=ticket.requester,
        category=ticket.category,
        words=ticket_words(ticket.subject, ticket.body),
    )


def parse_major_ref(ref: str) -> str:
    """A parent reference as typed (the CLI accepts tkt-000012)."""
    if not ref.strip():
        raise NotFound("no ticket reference given")
    return ref.strip().upper()


__all__: Sequence[str] = ("MajorIncidents", "burst_policy", "ticket_words", "major_summary")
