"""Agent mail (orchestrator): proves threads and verifies agents' mail before any command runs.

Joins the pure checks of stages/agent_auth.py with the store and the settings: which of a mail's
thread ids are ours with a valid token, and whether a mail in an agent's name may act on a
ticket. A mail that fails is planned as a refused agent mail (audited, nothing to the requester,
a notice to the agent's own address); one that passes runs its #commands within the agent's
tiers' mail_commands.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pipeline.edges.store import Store
from pipeline.errors import InvalidAction
from pipeline.jobs.desk import Desk
from pipeline.records import AuditEvent, IntakePlan, ParsedMail, ReplyMatch, TicketInfo, Verdict
from pipeline.settings import Settings
from pipeline.stages.agent_auth import check_agent_mail, read_issued_id, token_holder
from pipeline.stages.lifecycle import plan_agent_reply, plan_refused_agent_mail

log = logging.getLogger(__name__)


class AgentGate:
    """The verification of agent mail and of our own thread ids, for one desk."""

    def __init__(self, settings: Settings, store: Store, desk: Desk) -> None:
        self.settings = settings
        self.store = store
        self.desk = desk
        self.keyring = desk.keyring

    def issued_tickets(
        self, mail: ParsedMail, ids: tuple[str, ...], now: datetime
    ) -> dict[str, TicketInfo]:
        """Thread ids that are ours with a token issued to this sender -> their ticket."""
        desk = self.settings.desk
        refs: dict[str, str] = {}
        for message_id in ids:
            issued = read_issued_id(message_id, desk.message_id_domain, desk.ref_prefix)
            if issued and token_holder(issued, (mail.sender,), self.keyring, now):
                refs[message_id] = issued.ref
        tickets = self.store.tickets_by_refs(refs.values()) if refs else {}
        return {mid: tickets[ref] for mid, ref in refs.items() if ref in tickets}

    def plan(
        self, mail: ParsedMail, verdict: Verdict, match: ReplyMatch, now: datetime
    ) -> IntakePlan | None:
        """The plan for a mail in an agent's name to an open ticket; None for any other mail."""
        ticket = match.ticket
        if (
            not verdict.accept
            or ticket is None
            or ticket.status == "closed"
            or mail.sender not in self.settings.agents
        ):
            return None
        tiers = self.settings.tiers_of(mail.sender)
        security = self.settings.security
        check = check_agent_mail(
            mail,
            ticket.ref,
            (mail.sender, *(t.group for t in tiers)),
            self.keyring,
            mode=security.agent_mail_auth,
            trusted_authserv_id=security.trusted_authserv_id,
            domain=self.settings.desk.message_id_domain,
            prefix=self.settings.desk.ref_prefix,
            now=now,
        )
        if not check.ok:
            log.warning(
                "ticket=%s action=agent_mail_refused claimed=%s reasons=%s",
                ticket.ref,
                mail.sender,
                "; ".join(check.reasons),
            )
            return plan_refused_agent_mail(mail, match, check.reasons, notify=verdict.acknowledge)
        allowed = frozenset(c for t in tiers for c in t.mail_commands)
        return self._verified(mail, ticket, allowed, now)

    def _verified(
        self, mail: ParsedMail, info: TicketInfo, allowed: frozenset[str], now: datetime
    ) -> IntakePlan:
        """A verified agent answered a ticket mail: their #commands act, the rest goes out."""
        ticket = self.store.ticket_state(info.id)
        # the desk's list when it has one ([triage] categories), else those tickets carry now
        categories = self.desk.app.categories or self.store.known_categories()
        try:
            update = plan_agent_reply(
                ticket,
                mail.sender,
                mail.text,
                self.desk.policy,
                self.desk.dossier(ticket),
                now,
                allowed=allowed,
                categories=categories,
            )
        except InvalidAction as exc:
            return IntakePlan(
                disposition="reply_added",
                rule="agent_reply",
                existing=info,
                events=(
                    AuditEvent(action="agent_command_refused", actor=mail.sender, detail=str(exc)),
                ),
            )
        return IntakePlan(
            disposition="reply_added", rule="agent_reply", existing=info, update=update
        )
