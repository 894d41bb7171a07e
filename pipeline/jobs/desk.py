"""Desk (orchestrator): agent actions, L1 review, the SLA job and the breach route.

Every action has the same shape: load the ticket, gather its dossier (suggestions, conversation,
similar resolved tickets), call a pure planner from lifecycle.py, render its mails and apply it in
one transaction. The CLI, agents' mail commands and the scheduled jobs all go through here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from pipeline.errors import InvalidAction
from pipeline.records import (
    AuditEvent,
    Dossier,
    MailIntent,
    OutgoingMail,
    TicketState,
    TicketUpdate,
)
from pipeline.stages.agent_actions import plan_assign_agent, plan_merge, plan_note, plan_reply
from pipeline.stages.agent_auth import issue_message_id
from pipeline.stages.lifecycle import (
    clock_facts,
    plan_assign,
    plan_auto_close,
    plan_breach_route,
    plan_escalation,
    plan_fields,
    plan_review,
    plan_sla_step,
    plan_status,
)
from pipeline.stages.rendering import render_mail
from pipeline.stages.sla import sla_actions
from pipeline.vocabulary import OPEN_STATES

if TYPE_CHECKING:
    from pipeline.app import Tiket
    from pipeline.jobs.similar import SimilarIndex

log = logging.getLogger(__name__)
Planner = Callable[[TicketState, Dossier], TicketUpdate]


@dataclass(slots=True)
class SlaRun:
    """What one run of the SLA job did."""

    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    closed: int = 0
    breach_routes: int = 0
    planned: list[str] = field(default_factory=list)


class Desk:
    """Agent and scheduled actions on tickets."""

    def __init__(self, app: Tiket) -> None:
        self.app = app
        self.settings = app.settings
        self.store = app.store
        self.policy = app.policy
        self.identity = app.identity
        self.keyring = app.keyring  # signs the token in every Message-ID we send

    @property
    def similar(self) -> SimilarIndex:
        """The app's similar-ticket index (built on first use, kept by a long-running process)."""
        return self.app.similar

    # -- building blocks ------------------------------------------------------------------------
    def dossier(self, ticket: TicketState) -> Dossier:
        """Suggestions, conversation and the most similar resolved tickets."""
        # internal notes stay in the console: a dossier travels by mail
        conversation = self.store.conversation(ticket.id, notes=False)
        return Dossier(
            suggestions=self.store.suggestions(ticket.id),
            decided=self.store.decided_heads(ticket.id),
            conversation=conversation,
            similar=self.similar.like_ticket(ticket.id, ticket.subject, conversation),
        )

    def render(self, update: TicketUpdate, now: datetime) -> Callable[[str], list[OutgoingMail]]:
        """The render callback for store.apply_update: fixed Message-IDs that encode the ref."""

        def render(ref: str) -> list[OutgoingMail]:
            return [
                render_mail(
                    intent,
                    ref=ref,
                    desk=self.identity,
                    now=now,
                    message_id=issue_message_id(
                        ref,
                        f"{intent.purpose}-{uuid.uuid4().hex[:10]}",
                        intent.to,
                        self.identity.message_id_domain,
                        self.keyring,
                    ),
                )
                for intent in update.mails
            ]

        return render

    def act(
        self,
        ref: str | int,
        planner: Planner,
        now: datetime,
        version: int | None = None,
        *,
        similar: bool = True,
    ) -> TicketUpdate:
        """Load, plan, render and apply one action; returns the applied update.

        With `version` (the ticket's version when the agent loaded it) the action is refused
        with Conflict if anyone changed the ticket since: nothing is written then. With
        similar=False the planner's dossier has the suggestions only (no similar-ticket search:
        the actions that mail no dossier stay fast and never build the similar-ticket index).
        """
        ticket = self.store.ticket_state(ref)
        dossier = (
            self.dossier(ticket)
            if similar
            else Dossier(
                suggestions=self.store.suggestions(ticket.id),
                decided=self.store.decided_heads(ticket.id),
            )
        )
        update = replace(planner(ticket, dossier), expected_version=version)
        with self.store.db.atomic():
            self.store.apply_update(update, now, self.render(update, now))
            self.app.proactive.after_update(update, now)  # e.g. a major incident's members
        log.info(
            "ticket=%s action=%s actor=%s",
            ticket.ref,
            ",".join(e.action for e in update.events),
            update.actor,
        )
        return update

    # -- agent actions --------------------------------------------------------------------------
    def assign(
        self, ref: str, tier: str, actor: str, now: datetime, *, version: int | None = None
    ) -> TicketUpdate:
        """Give a ticket to a tier."""
        return self.act(
            ref,
            lambda t, d: plan_assign(
                t, tier.upper(), actor, "assigned by " + actor, self.policy, d, now
            ),
            now,
            version,
        )

    def escalate(
        self, ref: str, actor: str, reason: str, now: datetime, *, version: int | None = None
    ) -> TicketUpdate:
        """Move a ticket one tier up."""
        return self.act(
            ref, lambda t, d: plan_escalation(t, actor, reason, self.policy, d, now), now, version
        )

    def set_status(
        self,
        ref: str,
        target: str,
        actor: str,
        note: str,
        now: datetime,
        *,
        version: int | None = None,
    ) -> TicketUpdate:
        """resolve / close / reopen / pending / in_progress."""
        hours = self.policy.auto_close_after.total_seconds() / 3600
        return self.act(
            ref,
            lambda t, d: plan_status(
                t, target, actor, note or f"{target} by {actor}", now, note=note, reopen_hours=hours
            ),
            now,
            version,
            similar=False,
        )

    def set_fields(
        self,
        ref: str,
        changes: Mapping[str, str],
        actor: str,
        now: datetime,
        *,
        version: int | None = None,
    ) -> TicketUpdate:
        """Change kind, category or priority (stored as labels for retraining)."""
        return self.act(
            ref,
            lambda t, d: plan_fields(
                t, changes, actor, d.suggestions, self.app.categories, self.policy, now
            ),
            now,
            version,
            similar=False,
        )

    def review(
        self,
        ref: str,
        corrections: Mapping[str, str],
        actor: str,
        now: datetime,
        *,
        accept: tuple[str, ...] = (),
        version: int | None = None,
    ) -> TicketUpdate:
        """Decide some heads: `corrections` set values, `accept` takes those heads' suggestions.

        Only what is decided here is labelled; the ticket stays in the queue until every unsure
        head is decided. On a ticket already reviewed, corrections change the fields (and are
        labelled as corrections of the suggestion); an accept is refused.
        """

        def planner(ticket: TicketState, dossier: Dossier) -> TicketUpdate:
            if not ticket.needs_review:
                if accept or not corrections:
                    raise InvalidAction(f"{ticket.ref} is not waiting for review")
                return plan_fields(
                    ticket,
                    corrections,
                    actor,
                    dossier.suggestions,
                    self.app.categories,
                    self.policy,
                    now,
                )
            return plan_review(
                ticket,
                dossier.suggestions,
                corrections,
                actor,
                accept=accept,
                decided=dossier.decided,
                categories=self.app.categories,
                policy=self.policy,
                now=now,
            )

        return self.act(ref, planner, now, version, similar=False)

    def reply(
        self, ref: str, actor: str, text: str, now: datetime, *, version: int | None = None
    ) -> TicketUpdate:
        """Answer the requester (threaded mail; the answer joins the conversation)."""
        return self.act(
            ref, lambda t, d: plan_reply(t, actor, text, now), now, version, similar=False
        )

    def note(
        self, ref: str, actor: str, text: str, now: datetime, *, version: int | None = None
    ) -> TicketUpdate:
        """Add an internal note (never mailed)."""
        return self.act(ref, lambda t, d: plan_note(t, actor, text), now, version, similar=False)

    def assign_agent(
        self, ref: str, agent: str, actor: str, now: datetime, *, version: int | None = None
    ) -> TicketUpdate:
        """Give a ticket to one agent (a member of a tier)."""
        agents = self.agent_tiers()
        return self.act(
            ref,
            lambda t, d: plan_assign_agent(t, agent, actor, agents),
            now,
            version,
            similar=False,
        )

    def merge(
        self, ref: str, into: str, actor: str, now: datetime, *, version: int | None = None
    ) -> TicketUpdate:
        """Merge a duplicate into another ticket; its requester is told."""
        target = self.store.ticket_state(into)
        return self.act(
            ref, lambda t, d: plan_merge(t, target, actor, now), now, version, similar=False
        )

    def agent_tiers(self) -> dict[str, str]:
        """Every agent's address -> their tier (the lowest tier they are a member of)."""
        found: dict[str, str] = {}
        for key, tier in self.settings.tiers.items():
            for member in tier.members:
                found.setdefault(member, key)
        return found

    def render_loose_mail(self, intent: MailIntent, now: datetime) -> OutgoingMail:
        """Render a mail that belongs to no ticket (a sign-in link) for the outbox."""
        return render_mail(
            intent,
            ref=None,
            desk=self.identity,
            now=now,
            message_id=f"<tiket.{intent.purpose}.{uuid.uuid4().hex}@{self.identity.message_id_domain}>",
        )

    def accept_all(
        self, ref: str, actor: str, now: datetime, *, version: int | None = None
    ) -> TicketUpdate:
        """Accept every suggestion not yet decided (the review screen's one key)."""
        ticket = self.store.ticket_state(ref)
        decided = self.store.decided_heads(ticket.id)
        heads = tuple(
            s.head for s in self.store.suggestions(ticket.id) if s.label and s.head not in decided
        )
        return self.review(ref, {}, actor, now, accept=heads, version=version)

    def flag_breach(self, ref: str, actor: str, reason: str, now: datetime) -> SlaRun:
        """An agent suspects a data breach: flag it and route it at once."""
        ticket = self.store.ticket_state(ref)
        self.store.apply_update(
            TicketUpdate(
                ticket_id=ticket.id,
                ref=ticket.ref,
                actor=actor,
                fields=(("breach_suspected", True),),
                events=(AuditEvent(action="breach_suspected", actor=actor, detail=reason),),
            ),
            now,
            lambda ref: [],
        )
        self._route_breach(self.store.ticket_state(ref), now)
        return SlaRun(breach_routes=1)

    # -- scheduled ------------------------------------------------------------------------------
    def run_sla(self, now: datetime, *, apply: bool = True) -> SlaRun:
        """Route suspected breaches, warn before and escalate on breaches, close quiet tickets.

        With apply=False nothing is written or queued: the run counts what would happen at `now`
        and `planned` lists it, one line per step (`tiket sla check --now T`, a what-if).
        """
        run = SlaRun()
        quiet = (
            self.app.proactive.rows.quiet_ticket_ids()
        )  # a major incident's parent has the clocks
        for ticket in self.store.ticket_states(OPEN_STATES):
            if ticket.id in quiet:
                continue
            if ticket.breach_suspected and ("breach", "routed", "L3") not in ticket.sla_done:
                run.breach_routes += 1
                run.planned.append(f"{ticket.ref} breach route to L3 and security")
                if not apply:
                    continue
                self._route_breach(self.store.ticket_state(ticket.id), now)
                ticket = self.store.ticket_state(ticket.id)
            actions = sla_actions(
                clock_facts(ticket),
                ticket.tier,
                ticket.status,
                ticket.sla_done,
                self.policy.sla,
                now,
                ticket.tier_since,
            )
            if actions and apply:
                ticket = self.store.ticket_state(ticket.id)  # with its last Message-ID, for mail
            for action in actions:
                if apply:
                    update = plan_sla_step(ticket, action, self.policy, self.dossier(ticket), now)
                    if not self.store.apply_update(update, now, self.render(update, now)):
                        continue
                run.warnings += action.kind == "warning"
                run.breaches += action.kind == "breach"
                run.escalations += action.escalate_to is not None
                step = f"{action.clock} {action.kind} at {action.tier}"
                if action.escalate_to:
                    step += f", escalate to {action.escalate_to}"
                run.planned.append(f"{ticket.ref} {step}")
                log.info(
                    "ticket=%s action=sla_%s clock=%s tier=%s applied=%s",
                    ticket.ref,
                    action.kind,
                    action.clock,
                    action.tier,
                    "yes" if apply else "no",
                )
        for ticket in self.store.ticket_states(("resolved",)):
            if plan_auto_close(ticket, self.policy, now) is None:
                continue
            run.closed += 1
            run.planned.append(f"{ticket.ref} auto-close")
            if apply:  # reload with the last Message-ID to thread the mail
                full = self.store.ticket_state(ticket.id)
                closing = plan_auto_close(full, self.policy, now)
                assert closing is not None
                self.store.apply_update(closing, now, self.render(closing, now))
        return run

    def _route_breach(self, ticket: TicketState, now: datetime) -> None:
        reasons = self.store.breach_reasons(ticket.id) or ("flagged",)
        update = plan_breach_route(ticket, reasons, "tiket", self.policy, self.dossier(ticket), now)
        marked = replace(update, sla_event=("breach", "routed", "L3"))  # once per ticket
        self.store.apply_update(marked, now, self.render(marked, now))
        log.warning(
            "ticket=%s action=breach_routed to=L3,%s", ticket.ref, self.policy.security_contact
        )
