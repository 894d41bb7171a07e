"""ProactiveDesk (orchestrator): what the desk does beyond recording a mail: first diagnosis,
known fixes, major incidents, calls, self-service.

Intake calls it twice per new ticket: `shape_intake` before the plan is applied (the
acknowledgement gets the diagnosis questions, known fixes, the breach first steps or the
known-problem notice) and `after_intake` in the same transaction once the ticket exists (the
burst detector sees it). Agent updates, by mail or CLI, pass through `after_update`, which does
their effects (#major, #update, #call, #resolve --publish) and resolves a major incident's
members when its parent is resolved.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from pipeline.edges.knowledge_base import kb_folder, load_articles
from pipeline.edges.proactive_store import FIRST_BODY_CHARS, TicketText
from pipeline.errors import InvalidAction
from pipeline.records import (
    AuditEvent,
    IntakePlan,
    ParsedMail,
    ReplyMatch,
    TicketUpdate,
)
from pipeline.stages.calls import parse_call, plan_call
from pipeline.stages.first_diagnosis import plan_self_served, says_solved, shape_acknowledgement
from pipeline.stages.known_fixes import FixMatch, KnownFix, match_fixes, published_fix
from pipeline.stages.reply_matching import thread_ids
from pipeline.stages.text_similarity import tokens

if TYPE_CHECKING:
    from pipeline.app import Tiket
    from pipeline.jobs.major_incident import MajorIncidents

log = logging.getLogger(__name__)

FIX_TTL = 60.0


class ProactiveDesk:
    """First diagnosis, known fixes, major incidents, calls and self-service for one app."""

    def __init__(self, app: Tiket) -> None:
        self.app = app
        self.settings = app.settings
        self.rows = app.proactive_rows
        kb = app.settings.section("kb")
        self.min_score = float(kb["min_score"])
        self.max_fixes = int(kb["max_fixes"])
        self._published: tuple[float, tuple[KnownFix, ...]] | None = None

    @cached_property
    def majors(self) -> MajorIncidents:
        """The burst detector and the agents' decisions on major incidents."""
        from pipeline.jobs.major_incident import MajorIncidents

        return MajorIncidents(self.app, self.rows)

    @cached_property
    def articles(self) -> tuple[KnownFix, ...]:
        """The knowledge base's articles (read once per process)."""
        return load_articles(kb_folder(self.settings))

    # -- intake -----------------------------------------------------------------------------------
    def shape_intake(
        self, plan: IntakePlan, mail: ParsedMail, now: datetime
    ) -> tuple[IntakePlan, int | None]:
        """The plan with its acknowledgement shaped, and the accepted major incident the new
        ticket belongs to (None for none)."""
        ticket = plan.new_ticket
        if ticket is None:
            return plan, None
        known = None
        if ticket.kind != "request" and not ticket.breach_suspected:
            known = self.majors.known_problem(mail.subject, mail.text, ticket.category, now)
        fixes: tuple[FixMatch, ...] = ()
        if known is None and not ticket.breach_suspected and plan.mails:
            fixes = self.fixes_for(mail.subject, mail.text, ticket.category)
        shaped = shape_acknowledgement(
            plan,
            fixes=fixes,
            breach_steps=self.breach_steps(ticket.language),
            known_problem=(known[1], known[2]) if known else None,
        )
        return shaped, known[0] if known else None

    def after_intake(
        self,
        plan: IntakePlan,
        mail: ParsedMail,
        known_major: int | None,
        applied: tuple[int | None, str | None],
        now: datetime,
        arrived_at: datetime | None = None,
    ) -> None:
        """A new ticket exists: show it to the burst detector (in the intake's transaction).
        The detector reads the ticket as intake just wrote it, not back from the database, and
        dates it by the mail's arrival at the desk's server (`arrived_at`), not by when intake
        got to it: a backlog fetched at once after downtime is not a burst."""
        new = plan.new_ticket
        ticket_id, ref = applied
        if new is None or ticket_id is None or not ref or not self.majors.enabled:
            return
        text = TicketText(
            id=ticket_id,
            arrived_at=min(arrived_at, now) if arrived_at is not None else now,
            requester=new.requester,
            category=new.category,
            kind=new.kind,
            subject=new.subject,
            body=mail.text[:FIRST_BODY_CHARS],
            breach_suspected=new.breach_suspected,
        )
        self.majors.observe(text, ref, now, known_major)

    def fixes_for(self, subject: str, text: str, category: str | None) -> tuple[FixMatch, ...]:
        """The best known fixes for a new ticket's words: articles and published fixes."""
        return match_fixes(
            tokens(f"{subject}\n{text}"),
            category,
            self.articles + self.published(),
            min_score=self.min_score,
            limit=self.max_fixes,
        )

    def published(self) -> tuple[KnownFix, ...]:
        """Published fixes (cached for FIX_TTL seconds; this process's publishing drops it)."""
        if self._published is None or time.monotonic() - self._published[0] >= FIX_TTL:
            fixes = tuple(
                published_fix(f"#{ticket_id}", title, note, words)
                for ticket_id, title, note, words in self.rows.published_fixes()
            )
            self._published = (time.monotonic(), fixes)
        return self._published[1]

    def breach_steps(self, language: str) -> tuple[str, ...]:
        """The breach policy's first steps for the user, in their language ([security])."""
        security = self.settings.section("security")
        key = "user_first_steps_ms" if language == "ms" else "user_first_steps"
        return tuple(str(step) for step in security[key])

    def plan_self_served(
        self, mail: ParsedMail, match: ReplyMatch, now: datetime
    ) -> IntakePlan | None:
        """The requester answered `#solved` (or `#selesai`): resolve the ticket as self-served.
        None when this is not such a reply (then intake plans it as any reply). A From header
        proves nothing: the reply must thread through a Message-ID tiket issued to the requester
        for this ticket (its token), or the words stay words."""
        info = match.ticket
        if info is None or mail.sender != info.requester or not says_solved(mail.text):
            return None
        issued = self.app.intake.agent_gate.issued_tickets(mail, thread_ids(mail), now)
        if not any(t.id == info.id for t in issued.values()):
            return None
        ticket = self.app.store.ticket_state(info.id)
        hours = self.app.policy.auto_close_after.total_seconds() / 3600
        update = plan_self_served(ticket, mail.sender, now, reopen_hours=hours)
        if update is None:
            return None
        return IntakePlan(
            disposition="reply_added", rule="self_served", existing=info, update=update
        )

    # -- agents' updates --------------------------------------------------------------------------
    def after_update(self, update: TicketUpdate, now: datetime) -> None:
        """Do an applied update's effects; a refused one is audited on the ticket, not raised."""
        for name, argument in update.effects:
            try:
                self._effect(update, name, argument, now)
            except InvalidAction as exc:
                self.app.store.apply_update(
                    TicketUpdate(
                        ticket_id=update.ticket_id,
                        ref=update.ref,
                        actor=update.actor,
                        events=(
                            AuditEvent(
                                action="agent_command_refused",
                                actor=update.actor,
                                detail=f"#{name}: {exc}",
                            ),
                        ),
                    ),
                    now,
                    lambda ref: [],
                )
                log.info("ticket=%s action=refused command=%s reason=%s", update.ref, name, exc)
        if update.status is not None and update.status[1] == "resolved":
            note = str(dict(update.fields).get("resolution_note") or update.status[2])
            self.majors.parent_resolved(update.ticket_id, note, update.actor, now)

    def _effect(self, update: TicketUpdate, name: str, argument: str, now: datetime) -> None:
        if name == "major":
            if argument == "accept":
                self.majors.accept(update.ticket_id, update.actor, now)
            else:
                self.majors.reject(update.ticket_id, update.actor, now)
        elif name == "major_update":
            self.majors.broadcast(update.ticket_id, argument, update.actor, now)
        elif name == "call":
            self.call(update.ticket_id, argument, update.actor, now)
        elif name == "publish":
            self.publish(update.ticket_id, argument, update.actor, now)

    # -- calls and published fixes ---------------------------------------------------------------
    def call(self, ref: str | int, argument: str, agent: str, now: datetime) -> TicketUpdate:
        """Book (or with `cancel`, cancel) a call with the requester: the calendar mail, the
        call row and the audit event, in one transaction."""
        zone = self.settings.desk.timezone
        request = parse_call(argument, zone)
        store = self.app.store
        with store.db.atomic():
            ticket = store.ticket_state(ref)
            update, call = plan_call(
                ticket,
                request,
                previous=self.rows.latest_call(ticket.id),
                number=self.rows.call_count(ticket.id) + 1,
                organiser=agent,
                zone=zone,
                domain=self.settings.desk.message_id_domain,
                now=now,
            )
            store.apply_update(update, now, self.app.desk.render(update, now))
            self.rows.save_call(ticket.id, call, now)
        log.info("ticket=%s action=%s uid=%s", ticket.ref, update.events[0].action, call.uid)
        return update

    def publish(self, ref: str | int, note: str, agent: str, now: datetime) -> None:
        """Offer a resolution note as a known fix from now on (only the agent's words are shown)."""
        store = self.app.store
        ticket = store.ticket_state(ref)
        if not note.strip():
            raise InvalidAction("a published fix needs a note")
        title = note.strip().splitlines()[0][:80]
        words = " ".join(sorted(tokens(f"{ticket.subject}\n{note}", 1500)))
        with store.db.atomic():
            self.rows.publish_fix(ticket.id, title, note.strip(), words, agent, now)
            self._published = None
            store.apply_update(
                TicketUpdate(
                    ticket_id=ticket.id,
                    ref=ticket.ref,
                    actor=agent,
                    events=(AuditEvent(action="fix_published", actor=agent, detail=title),),
                ),
                now,
                lambda ref: [],
            )
