"""MailIntake: orchestrates mail from a source through receive, the pure stages and apply_plan.

receive (commit raw bytes) -> parse -> screen -> match reply -> triage -> plan -> render -> apply,
then the finished mails are moved on the server. Per-mail isolation: an exception in one mail is
recorded against that mail (quarantined at once when unparseable, after max_attempts otherwise)
and the next mail goes on.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from pipeline.edges.parse_pool import ParseFailure, ParsePool, worker_count
from pipeline.errors import ClaimLost, InvalidAction, UnparseableMail
from pipeline.faults import crash_point
from pipeline.records import (
    AuditEvent,
    IntakePlan,
    IntakeResult,
    MailIntent,
    OutgoingMail,
    ParsedMail,
    RawMail,
    ReplyMatch,
    SenderHistory,
    StoredMail,
    TicketInfo,
    TriageOutcome,
    Verdict,
)
from pipeline.stages.language import detect_language
from pipeline.stages.lifecycle import PromisePolicy, plan_agent_reply, plan_intake
from pipeline.stages.rendering import message_id_for, render_mail
from pipeline.stages.reply_matching import match_reply, own_id_ref, subject_refs, thread_ids
from pipeline.stages.screening import ScreeningPolicy, screen_mail

if TYPE_CHECKING:
    from pipeline.app import Tiket
    from pipeline.edges.store import Applied
    from pipeline.jobs.desk import Desk

log = logging.getLogger(__name__)


class Source(Protocol):
    """A mailbox backend (imap_source.ImapSource, maildir_source.MaildirSource)."""

    name: str

    @property
    def idle_supported(self) -> bool: ...
    def open(self) -> int: ...
    def pending_uids(self) -> list[int]: ...
    def fetch(self, uids: Sequence[int]) -> Iterator[RawMail]: ...
    def move(self, uids: Sequence[int], folder: str) -> None: ...
    def wait(self, timeout: float, stop: Callable[[], bool] = ...) -> bool: ...
    def close(self) -> None: ...


class Triager(Protocol):
    """Suggests kind, category and priority for a batch of (subject, body) pairs."""

    def suggest_many(self, items: Sequence[tuple[str, str]]) -> list[TriageOutcome]: ...


class NoTriage:
    """A triager that never answers: every ticket waits for L1 review."""

    def suggest_many(self, items: Sequence[tuple[str, str]]) -> list[TriageOutcome]:
        return [TriageOutcome(degraded="triage disabled") for _ in items]


@dataclass(slots=True)
class PassStats:
    """Counts of one pass over a mailbox (or over the pending queue)."""

    fetched: int = 0
    received: int = 0
    moved: int = 0
    results: list[IntakeResult] = field(default_factory=list)


Lookups = tuple[Mapping[str, TicketInfo], Mapping[str, TicketInfo]]
"""({Message-ID: ticket}, {reference: ticket}): what reply matching looks up."""


def _makes_ticket(verdict: Verdict, match: ReplyMatch) -> bool:
    """An accepted mail that answers no open ticket makes a new one (and is triaged)."""
    return verdict.accept and (match.ticket is None or match.ticket.status == "closed")


@dataclass(slots=True)
class BatchState:
    """What a batch looked up in bulk, and what its mails changed since (EDGE-free bookkeeping).

    Before triage it simulates the batch's earlier mails (`predict_stored`); while applying it
    tracks what they really wrote, so a later mail is matched again when an earlier one touched
    what it looks up, and the ack cap counts the acknowledgements queued in this batch.
    """

    keys: dict[int, tuple[tuple[str, ...], tuple[str, ...]]]
    by_id: dict[str, TicketInfo]
    by_ref: dict[str, TicketInfo]
    acks_before: dict[str, int]
    predicted: dict[str, TicketInfo] = field(default_factory=dict)
    written_ids: set[str] = field(default_factory=set)
    touched: set[int] = field(default_factory=set)
    created_refs: set[str] = field(default_factory=set)
    acks_added: Counter[str] = field(default_factory=Counter)

    def lookups(self, inbound_id: int) -> Lookups:
        """The bulk lookups restricted to one mail's keys (its first 100 ids, 20 references)."""
        ids, refs = self.keys[inbound_id]
        return (
            {i: self.by_id[i] for i in ids if i in self.by_id},
            {r: self.by_ref[r] for r in refs if r in self.by_ref},
        )

    def predicted_lookups(self, inbound_id: int) -> Lookups:
        """As `lookups`, plus the messages the batch's earlier mails are expected to store."""
        by_id, by_ref = self.lookups(inbound_id)
        ids, _ = self.keys[inbound_id]
        extra = {i: self.predicted[i] for i in ids if i in self.predicted and i not in by_id}
        return {**by_id, **extra}, by_ref

    def predict_stored(self, mail: ParsedMail, ticket: TicketInfo | None, new: bool) -> None:
        """An earlier mail will store its Message-ID under this ticket (or a new one)."""
        if new:
            ticket = TicketInfo(
                id=-len(self.predicted) - 1,
                ref="",
                status="new",
                requester=mail.sender,
                participants=frozenset((mail.sender, *mail.cc)),
                subject=mail.subject,
            )
        if ticket is not None and mail.message_id:
            self.predicted.setdefault(mail.message_id, ticket)

    def start_applying(self) -> None:
        """Predictions are done; from now on only what was really written counts."""
        self.predicted.clear()

    def stale(self, inbound_id: int) -> bool:
        """True when an earlier mail of the batch wrote something this mail's match looks up."""
        ids, refs = self.keys[inbound_id]
        if not (self.written_ids or self.touched or self.created_refs):
            return False
        by_id, by_ref = self.lookups(inbound_id)
        return (
            any(i in self.written_ids for i in ids)
            or any(r in self.created_refs for r in refs)
            or any(t.id in self.touched for t in (*by_id.values(), *by_ref.values()))
        )

    def history(self, sender: str) -> SenderHistory:
        """The sender's acknowledgements in the last hour, this batch's included."""
        if not sender:
            return SenderHistory()
        return SenderHistory(
            acks_last_hour=self.acks_before.get(sender, 0) + self.acks_added[sender]
        )

    def applied(
        self,
        mail: ParsedMail,
        plan: IntakePlan,
        applied: Applied,
        outgoing: Sequence[OutgoingMail],
        *,
        acknowledged: bool,
    ) -> None:
        """Record what one mail's committed savepoint wrote."""
        if applied.ticket_id is not None and plan.store_message:
            self.written_ids.add(mail.message_id)
        self.written_ids.update(out.message_id for out in outgoing)
        if plan.new_ticket is not None and applied.ref:
            self.created_refs.add(applied.ref)
        elif applied.ticket_id is not None:
            self.touched.add(applied.ticket_id)
        if acknowledged:
            self.acks_added.update(
                out.to[0] for out in outgoing if out.template == "acknowledgement" and out.to
            )


class MailIntake:
    """Runs intake for every mailbox against one store."""

    def __init__(self, app: Tiket) -> None:
        settings = app.settings
        self.app = app
        self.settings = settings
        self.store = app.store
        self.clock = app.clock
        self.desk = app.identity
        self.screening = ScreeningPolicy(
            own_domain=self.desk.message_id_domain,
            own_addresses=frozenset({self.desk.address.lower()}),
            ack_cap_per_hour=settings.intake.ack_cap_per_hour,
        )
        self.promise = PromisePolicy(
            first_response_hours=settings.sla.first_response_hours,
            default_priority=settings.sla.default_priority,
            tier_groups={k: t.group for k, t in settings.tiers.items()},
        )
        self.folders = {m.name: m for m in settings.mailboxes}
        self.crash_at = str(settings.section("debug")["crash_at"])
        self.parser = ParsePool(
            worker_count(settings.intake.parse_workers),
            settings.intake.max_mail_bytes,
            settings.intake.max_attachment_bytes,
        )

    @property
    def triager(self) -> Triager:
        """The app's triager (the model loads on the first batch that needs it)."""
        return self.app.triager

    @property
    def desk_actions(self) -> Desk:
        """The app's ticket actions (agent mail commands go through them)."""
        return self.app.desk

    # -- one mailbox --------------------------------------------------------------------------
    def poll(
        self, source: Source, uidvalidity: int, stop: Callable[[], bool] = lambda: False
    ) -> PassStats:
        """Receive everything new in an open source, process it, and move finished mail."""
        stats = PassStats()
        self.finish_moves(source, uidvalidity, stats)
        known = self.store.known_uids(source.name, uidvalidity)
        new_uids = [uid for uid in source.pending_uids() if uid not in known]
        batch_size = self.settings.intake.fetch_batch
        for start in range(0, len(new_uids), batch_size):
            if stop():
                break
            batch = list(source.fetch(new_uids[start : start + batch_size]))
            stats.fetched += len(batch)
            received = self.store.receive_many(batch, self.clock())
            stats.received += sum(r.new for r in received)
            stats.results.extend(
                IntakeResult(inbound_id=r.inbound_id, disposition="duplicate")
                for r in received
                if r.duplicate_of is not None
            )
            crash_point("after_receive", self.crash_at)
            raws = {r.inbound_id: mail.raw for r, mail in zip(received, batch) if r.new}
            stats.results.extend(self.process_pending(source.name, stop, raws))
            self.finish_moves(source, uidvalidity, stats)
        stats.results.extend(self.process_pending(source.name, stop))
        self.finish_moves(source, uidvalidity, stats)
        return stats

    def finish_moves(self, source: Source, uidvalidity: int, stats: PassStats) -> None:
        """Move finished mail out of the inbox on the server, then record that it was moved."""
        box = self.folders[source.name]
        moves = self.store.awaiting_move(source.name, uidvalidity)
        for state, folder in (
            ("processed", box.processed_folder),
            ("quarantined", box.quarantine_folder),
        ):
            uids = moves[state]
            for start in range(0, len(uids), 500):
                chunk = uids[start : start + 500]
                source.move(chunk, folder)
                crash_point("after_move", self.crash_at)
                self.store.mark_moved(source.name, uidvalidity, chunk, state)
                stats.moved += len(chunk)

    # -- the pending queue --------------------------------------------------------------------
    def process_pending(
        self,
        mailbox: str | None = None,
        stop: Callable[[], bool] = lambda: False,
        known_raw: Mapping[int, bytes] | None = None,
    ) -> list[IntakeResult]:
        """Process pending mails until none is left (or stop() says so). `known_raw`: the bytes of
        mails just received, by inbound id, so they are not read back from the database."""
        results: list[IntakeResult] = []
        max_attempts = self.settings.intake.max_attempts
        self.store.quarantine_exhausted(max_attempts, self.clock(), mailbox)
        while not stop():
            batch = self.store.claim_pending(self.settings.intake.fetch_batch, mailbox, known_raw)
            if not batch:
                break
            results.extend(self.process_batch(batch))
        return results

    def process_batch(self, batch: Sequence[StoredMail]) -> list[IntakeResult]:
        """Parse the batch; screen and match it; triage its new tickets in one model call; then
        plan, apply, render and queue mail by mail.

        Screening and reply matching run before triage, so a mail that is screened out or threads
        into an open ticket never goes through the model. They are first worked out for the whole
        batch from a few bulk lookups, with the effects of the batch's earlier mails simulated (a
        reply to a mail earlier in the batch); each mail is then screened and matched again, for
        real, just before it is planned (the ack cap counts the acknowledgements the batch has
        queued; lookups an earlier mail may have changed are made again), and a mail that turns
        out to need triage after all is triaged alone.

        The batch is one transaction and each mail a savepoint inside it: a failing mail rolls back
        alone, and the batch pays for one commit. Attempts were committed before (claim_pending),
        so a crash mid-batch only means the batch's mails are retried, one by one.
        """
        results: list[IntakeResult] = []
        mails: list[tuple[StoredMail, ParsedMail]] = []
        outcomes = self.parser.parse_many([(s.raw, s.received_at) for s in batch])
        for stored, outcome in zip(batch, outcomes):
            if isinstance(outcome, ParseFailure):
                results.append(self._fail(stored, "parse", outcome.error, outcome.trace))
            else:
                mails.append((stored, outcome))
        if not mails:
            return results
        state = self._batch_state(mails)
        triage = self._triage(
            {s.id: p for s, p in mails if self._predict_new_ticket(s.id, p, state)}
        )
        state.start_applying()
        with self.store.db.atomic():  # one commit per batch; each mail is its own savepoint
            for stored, mail in mails:
                results.append(self._process_parsed(stored, mail, triage, state))
        return results

    # -- the batch's lookups --------------------------------------------------------------------
    def _batch_state(self, mails: Sequence[tuple[StoredMail, ParsedMail]]) -> BatchState:
        keys = {stored.id: self._lookup_keys(mail) for stored, mail in mails}
        by_id, by_ref = self.store.thread_lookups(
            (i for ids, _ in keys.values() for i in ids),
            (r for _, refs in keys.values() for r in refs),
        )
        now = self.clock()
        acks = self.store.ack_counts((mail.sender for _, mail in mails), now)
        return BatchState(keys=keys, by_id=by_id, by_ref=by_ref, acks_before=acks)

    def _lookup_keys(self, mail: ParsedMail) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The Message-IDs (the first 100) and references (the first 20) a mail's match looks up."""
        desk = self.settings.desk
        ids = thread_ids(mail)
        refs = [
            r for r in (own_id_ref(i, desk.message_id_domain, desk.ref_prefix) for i in ids) if r
        ]
        refs.extend(subject_refs(mail.subject, desk.ref_prefix))
        return tuple(dict.fromkeys(ids))[:100], tuple(dict.fromkeys(refs))[:20]

    def _predict_new_ticket(self, inbound_id: int, mail: ParsedMail, state: BatchState) -> bool:
        """Will this mail make a new ticket (and so need triage)? Screening's accept does not
        depend on the sender's history (the ack cap only withholds the answer); the match sees
        the batch's earlier mails as if they were applied."""
        verdict = screen_mail(mail, self.screening, SenderHistory())
        match = self._match_from(mail, state.predicted_lookups(inbound_id))
        new = _makes_ticket(verdict, match)
        if verdict.accept or (verdict.rule == "is_bounce" and match.ticket is not None):
            state.predict_stored(mail, match.ticket, new)
        return new

    def _match(self, inbound_id: int, mail: ParsedMail, state: BatchState) -> ReplyMatch:
        """The real match, inside the batch's transaction: from the bulk lookups, unless an
        earlier mail of the batch changed what this one looks up (then it is looked up again)."""
        if state.stale(inbound_id):
            return self._match_from(mail, self.store.thread_lookups(*state.keys[inbound_id]))
        return self._match_from(mail, state.lookups(inbound_id))

    def _match_from(
        self, mail: ParsedMail, lookups: tuple[Mapping[str, TicketInfo], Mapping[str, TicketInfo]]
    ) -> ReplyMatch:
        desk = self.settings.desk
        return match_reply(
            mail,
            lookups[0],
            lookups[1],
            own_domain=desk.message_id_domain,
            prefix=desk.ref_prefix,
            trusted=self.settings.agents,
        )

    def _triage(self, mails: dict[int, ParsedMail]) -> dict[int, TriageOutcome]:
        if not mails:
            return {}
        try:
            outcomes = self.triager.suggest_many([(p.subject, p.text) for p in mails.values()])
        except Exception as exc:  # isolation point: a broken model degrades, never stops intake
            log.warning("triage failed, tickets go to L1 review: %s: %s", type(exc).__name__, exc)
            outcomes = [
                TriageOutcome(degraded=f"triage failed: {type(exc).__name__}") for _ in mails
            ]
        return dict(zip(mails, outcomes))

    def _process_parsed(
        self,
        stored: StoredMail,
        mail: ParsedMail,
        triaged: dict[int, TriageOutcome],
        state: BatchState,
    ) -> IntakeResult:
        stage = "screen"
        try:
            now = self.clock()
            verdict = screen_mail(mail, self.screening, state.history(mail.sender))
            stage = "match"
            match = self._match(stored.id, mail, state)
            stage = "plan"
            if verdict.accept and self._from_agent(mail, match):
                plan = self._plan_agent_reply(mail, match, now)
            else:
                new = _makes_ticket(verdict, match)
                triage = triaged.get(stored.id)
                if triage is None and new:  # the prediction missed it
                    stage = "triage"
                    triage = self._triage({stored.id: mail})[stored.id]
                    stage = "plan"
                # only a new ticket's acknowledgement is written in the requester's language
                language = detect_language(mail.text, mail.content_language) if new else "en"
                plan = plan_intake(mail, verdict, match, triage, self.promise, language=language)
            stage = "apply"
            mails = plan.mails + (plan.update.mails if plan.update else ())
            with self.store.savepoint():
                applied = self.store.apply_plan(stored, mail, plan, now)
                outgoing = self._render(mails, applied.ref, stored.id, now) if applied.ref else []
                acknowledged = self.store.finish_intake(stored, plan, applied, outgoing, now)
        except ClaimLost as exc:  # another daemon owns the mail now: not a failure of the mail
            log.warning("mail=%s:%d action=skipped reason=%s", stored.mailbox, stored.id, exc)
            return IntakeResult(inbound_id=stored.id, disposition="claim_lost")
        except Exception as exc:  # isolation point: per mail
            return self._fail(stored, stage, exc)
        state.applied(mail, plan, applied, outgoing, acknowledged=acknowledged)
        crash_point("after_apply", self.crash_at)
        ref = applied.ref
        result = IntakeResult(
            inbound_id=stored.id,
            disposition=plan.disposition,
            ticket_ref=ref,
            rule=plan.rule,
            acknowledged=acknowledged,
        )
        log.info(
            "mail=%s:%d ticket=%s action=%s rule=%s ack=%s",
            stored.mailbox,
            stored.id,
            ref or "-",
            plan.disposition,
            plan.rule or "-",
            "yes" if acknowledged else "no",
        )
        return result

    def _from_agent(self, mail: ParsedMail, match: ReplyMatch) -> bool:
        return (
            match.ticket is not None
            and match.ticket.status != "closed"
            and mail.sender in self.settings.agents
        )

    def _plan_agent_reply(self, mail: ParsedMail, match: ReplyMatch, now: datetime) -> IntakePlan:
        """An agent answered a ticket mail: their #commands act, the rest goes to the requester."""
        assert match.ticket is not None
        ticket = self.store.ticket_state(match.ticket.id)
        try:
            update = plan_agent_reply(
                ticket,
                mail.sender,
                mail.text,
                self.desk_actions.policy,
                self.desk_actions.dossier(ticket),
                now,
            )
        except InvalidAction as exc:
            return IntakePlan(
                disposition="reply_added",
                rule="agent_reply",
                existing=match.ticket,
                events=(
                    AuditEvent(action="agent_command_refused", actor=mail.sender, detail=str(exc)),
                ),
            )
        return IntakePlan(
            disposition="reply_added", rule="agent_reply", existing=match.ticket, update=update
        )

    def _render(
        self, intents: Sequence[MailIntent], ref: str, inbound_id: int, now: datetime
    ) -> list[OutgoingMail]:
        return [
            render_mail(
                intent,
                ref=ref,
                desk=self.desk,
                now=now,
                message_id=message_id_for(
                    ref, f"{intent.purpose}-m{inbound_id}", self.desk.message_id_domain
                ),
            )
            for intent in intents
        ]

    def _fail(
        self, stored: StoredMail, stage: str, exc: Exception, trace: str | None = None
    ) -> IntakeResult:
        unparseable = isinstance(exc, UnparseableMail)
        quarantine = unparseable or stored.attempts >= self.settings.intake.max_attempts
        reason = f"{type(exc).__name__}: {exc}"
        self.store.record_failure(
            stored.id,
            stage,
            reason,
            trace or traceback.format_exc(),
            self.clock(),
            quarantine=quarantine,
        )
        level = logging.WARNING if quarantine else logging.INFO
        log.log(
            level,
            "mail=%s:%d action=%s stage=%s reason=%s",
            stored.mailbox,
            stored.id,
            "quarantined" if quarantine else "retry",
            stage,
            reason[:200],
        )
        return IntakeResult(
            inbound_id=stored.id,
            disposition="quarantined" if quarantine else "pending",
            error=reason,
        )
