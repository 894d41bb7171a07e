"""MailIntake: orchestrates mail from a source through receive, the pure stages and apply_plan.

receive (commit raw bytes) -> parse -> screen -> match reply -> triage -> plan -> render -> apply,
then the finished mails are moved on the server. Per-mail isolation: an exception in one mail is
recorded against that mail (quarantined at once when unparseable, after max_attempts otherwise)
and the next mail goes on.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from pipeline.edges.parse_pool import ParseFailure, ParsePool, worker_count
from pipeline.edges.store import Received
from pipeline.errors import ClaimLost, UnparseableMail
from pipeline.faults import crash_point
from pipeline.jobs.agent_mail import AgentGate
from pipeline.records import (
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
from pipeline.stages.agent_auth import issue_message_id
from pipeline.stages.language import detect_language
from pipeline.stages.lifecycle import PromisePolicy, plan_intake
from pipeline.stages.parsing import oversized_reason
from pipeline.stages.rendering import render_mail
from pipeline.stages.reply_matching import match_reply, subject_refs, thread_ids
from pipeline.stages.screening import MAIL_RULES, ScreeningPolicy, screen_history, screen_mail

if TYPE_CHECKING:
    from pipeline.app import Tiket
    from pipeline.jobs.desk import Desk
    from pipeline.jobs.proactive import ProactiveDesk

log = logging.getLogger(__name__)


class Source(Protocol):
    """A mailbox backend (imap_source.ImapSource, maildir_source.MaildirSource)."""

    name: str

    @property
    def idle_supported(self) -> bool: ...
    def open(self) -> int: ...
    def pending_uids(self) -> list[int]: ...
    def fetch(self, uids: Sequence[int], max_bytes: int = ...) -> Iterator[RawMail]: ...
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
    """What a batch looked up in bulk, to predict (before triage) which mails make new tickets.

    It simulates the batch's earlier mails (`predict_stored`), so a reply to a mail earlier in
    the same batch is predicted to thread. The real screening and matching run per mail, inside
    the mail's savepoint; a mail the prediction missed is triaged on its own then.
    """

    keys: dict[int, tuple[tuple[str, ...], tuple[str, ...]]]
    by_id: dict[str, TicketInfo]
    by_ref: dict[str, TicketInfo]
    predicted: dict[str, TicketInfo] = field(default_factory=dict)

    def lookups(self, inbound_id: int) -> Lookups:
        """The bulk lookups restricted to one mail's keys (its first 100 ids, 20 references),
        plus the messages the batch's earlier mails are expected to store."""
        ids, refs = self.keys[inbound_id]
        by_id = {i: self.by_id[i] for i in ids if i in self.by_id}
        by_id.update({i: self.predicted[i] for i in ids if i in self.predicted and i not in by_id})
        return by_id, {r: self.by_ref[r] for r in refs if r in self.by_ref}

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
            desk_ack_cap_per_hour=settings.intake.desk_ack_cap_per_hour,
            loop_repeat_limit=settings.intake.loop_repeat_limit,
        )
        self.promise = PromisePolicy(
            first_response_hours=settings.sla.first_response_hours,
            default_priority=settings.sla.default_priority,
            tier_groups={k: t.group for k, t in settings.tiers.items()},
        )
        self.loop_window = timedelta(hours=settings.intake.loop_window_hours)
        self.folders = {m.name: m for m in settings.mailboxes}
        self.crash_at = str(settings.section("debug")["crash_at"])
        self.parser = ParsePool(
            worker_count(settings.intake.parse_workers),
            settings.intake.max_mail_bytes,
            settings.intake.max_attachment_bytes,
            max_seconds=settings.intake.max_mail_seconds,
            max_parts=settings.intake.max_parts,
            max_text_chars=settings.intake.max_text_chars,
        )

    @property
    def triager(self) -> Triager:
        """The app's triager (the model loads on the first batch that needs it)."""
        return self.app.triager

    @property
    def proactive(self) -> ProactiveDesk:
        """The app's first diagnosis, known fixes, major incidents and calls."""
        return self.app.proactive

    @property
    def desk_actions(self) -> Desk:
        """The app's ticket actions (agent mail commands go through them)."""
        return self.app.desk

    @cached_property
    def agent_gate(self) -> AgentGate:
        """Verifies agents' mail and our own thread ids before anything acts on them."""
        return AgentGate(self.settings, self.store, self.app.desk)

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
            for batch in self._fetch_bounded(source, new_uids[start : start + batch_size]):
                stats.fetched += len(batch)
                received = self.store.receive_many(batch, self.clock())
                stats.received += sum(r.new for r in received)
                stats.results.extend(
                    IntakeResult(inbound_id=r.inbound_id, disposition="duplicate")
                    for r in received
                    if r.duplicate_of is not None
                )
                self._quarantine_oversized(batch, received, stats)
                crash_point("after_receive", self.crash_at)
                raws = {r.inbound_id: mail.raw for r, mail in zip(received, batch) if r.new}
                stats.results.extend(self.process_pending(source.name, stop, raws))
                self.finish_moves(source, uidvalidity, stats)
        stats.results.extend(self.process_pending(source.name, stop))
        self.finish_moves(source, uidvalidity, stats)
        return stats

    def _fetch_bounded(self, source: Source, uids: Sequence[int]) -> Iterator[list[RawMail]]:
        """Fetched mail in batches of at most [intake] max_batch_bytes (at least one mail)."""
        limit = self.settings.intake.max_batch_bytes
        batch: list[RawMail] = []
        size = 0
        for raw in source.fetch(uids, max_bytes=self.settings.intake.max_mail_bytes):
            if batch and size + len(raw.raw) > limit:
                yield batch
                batch, size = [], 0
            batch.append(raw)
            size += len(raw.raw)
        if batch:
            yield batch

    def _quarantine_oversized(
        self, batch: Sequence[RawMail], received: Sequence[Received], stats: PassStats
    ) -> None:
        """A mail of which only the head was fetched is quarantined at once, saying so."""
        limit = self.settings.intake.max_mail_bytes
        for raw, done in zip(batch, received):
            if raw.full_size is None or not done.new or done.duplicate_of is not None:
                continue
            reason = oversized_reason(raw.full_size, limit)
            self.store.record_failure(
                done.inbound_id, "fetch", reason, "", self.clock(), quarantine=True
            )
            log.warning(
                "mail=%s:%d action=quarantined stage=fetch reason=%s",
                raw.mailbox,
                done.inbound_id,
                reason,
            )
            stats.results.append(
                IntakeResult(inbound_id=done.inbound_id, disposition="quarantined", error=reason)
            )

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
            batch = self.store.claim_pending(
                self.settings.intake.fetch_batch,
                mailbox,
                self.settings.intake.max_batch_bytes,
                known_raw,
            )
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
        own = {s.id: screen_mail(p, self.screening, SenderHistory(), MAIL_RULES) for s, p in mails}
        triage = self._triage(
            {s.id: p for s, p in mails if self._predict_new_ticket(s.id, p, state, own[s.id])}
        )
        with self.store.batch():  # one commit per batch; each mail is its own savepoint
            for stored, mail in mails:
                results.append(self._process_parsed(stored, mail, triage, own[stored.id]))
        return results

    # -- the batch's lookups --------------------------------------------------------------------
    def _batch_state(self, mails: Sequence[tuple[StoredMail, ParsedMail]]) -> BatchState:
        keys = {stored.id: self._lookup_keys(mail) for stored, mail in mails}
        by_id, by_ref = self.store.thread_lookups(
            (i for ids, _ in keys.values() for i in ids),
            (r for _, refs in keys.values() for r in refs),
        )
        return BatchState(keys=keys, by_id=by_id, by_ref=by_ref)

    def _lookup_keys(self, mail: ParsedMail) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The Message-IDs (the first 100) and references (the first 20) a mail's match looks up."""
        refs = subject_refs(mail.subject, self.settings.desk.ref_prefix)
        return tuple(dict.fromkeys(thread_ids(mail)))[:100], tuple(dict.fromkeys(refs))[:20]

    def _predict_new_ticket(
        self, inbound_id: int, mail: ParsedMail, state: BatchState, verdict: Verdict
    ) -> bool:
        """Will this mail make a new ticket (and so need triage)? `verdict`: the mail's own
        screening rules; the history's rules never drop a mail (they only withhold the answer).
        The match sees the batch's earlier mails as if they were applied."""
        by_id, by_ref = state.lookups(inbound_id)
        if by_id.keys() != set(state.keys[inbound_id][0]):  # our own ids count with a token
            by_id = {
                **self.agent_gate.issued_tickets(mail, thread_ids(mail), self.clock()),
                **by_id,
            }
        match = self._match_from(mail, (by_id, by_ref))
        new = _makes_ticket(verdict, match)
        if verdict.accept or (verdict.rule == "is_bounce" and match.ticket is not None):
            state.predict_stored(mail, match.ticket, new)
        return new

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
        own: Verdict,
    ) -> IntakeResult:
        """`own`: what the mail's own screening rules said (the sender's history is looked up
        only when they let it by)."""
        stage = "screen"
        try:
            now = self.clock()
            history = (
                self.store.sender_history(mail.sender, mail.body_key, now, self.loop_window)
                if own.rule is None
                else SenderHistory()
            )
            verdict = screen_history(own, mail, self.screening, history)
            stage = "match"
            match = self._match(mail, now)
            stage = "plan"
            known_major: int | None = None  # the accepted major incident a new ticket joins
            agent_plan = self.agent_gate.plan(mail, verdict, match, now)
            if agent_plan is not None:
                plan = agent_plan
            elif verdict.accept and (served := self.proactive.plan_self_served(mail, match, now)):
                plan = served
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
                plan, known_major = self.proactive.shape_intake(plan, mail, now)
            stage = "apply"
            mails = plan.mails + (plan.update.mails if plan.update else ())
            with self.store.savepoint():  # the plan and what it sets off, or neither
                applied = self.store.apply_plan(stored, mail, plan, now)
                outgoing = self._render(mails, applied.ref, stored.id, now) if applied.ref else []
                acknowledged = self.store.finish_intake(stored, mail, plan, applied, outgoing, now)
                self.proactive.after_intake(
                    plan,
                    mail,
                    known_major,
                    (applied.ticket_id, applied.ref),
                    now,
                    stored.arrived_at,
                )
                if plan.update is not None:
                    self.proactive.after_update(plan.update, now)
        except ClaimLost as exc:  # another daemon owns the mail now: not a failure of the mail
            log.warning("mail=%s:%d action=skipped reason=%s", stored.mailbox, stored.id, exc)
            return IntakeResult(inbound_id=stored.id, disposition="claim_lost")
        except Exception as exc:  # isolation point: per mail
            return self._fail(stored, stage, exc)
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

    def _match(self, mail: ParsedMail, now: datetime) -> ReplyMatch:
        desk = self.settings.desk
        ids = thread_ids(mail)
        refs = list(subject_refs(mail.subject, desk.ref_prefix))
        by_id = self.store.tickets_by_message_ids(ids) if ids else {}
        if ids:  # our own ids count only with a token issued to this sender
            by_id = self.agent_gate.issued_tickets(mail, ids, now) | by_id
        by_ref = self.store.tickets_by_refs(refs) if refs else {}
        return match_reply(
            mail,
            by_id,
            by_ref,
            own_domain=desk.message_id_domain,
            prefix=desk.ref_prefix,
            trusted=self.settings.agents,
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
                message_id=issue_message_id(
                    ref,
                    f"{intent.purpose}-m{inbound_id}",
                    intent.to,
                    self.desk.message_id_domain,
                    self.agent_gate.keyring,
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
