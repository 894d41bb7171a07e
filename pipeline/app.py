"""The application object: tiket built once from Settings, with intake, ticket actions and jobs as peers.

`Tiket(settings)` owns the store, the desk policy, the desk identity, the triager and a lazy
similar-ticket index; nothing is opened or loaded before it is used, so a command that only lists
tickets never imports scikit-learn and never loads the model. The CLI, the daemon and the web
console are thin skins over one instance: they parse input, call one method and show the result.

    app = Tiket(load_settings("desk.toml"))
    app.run_once()                     # every mailbox, the SLA job, the outbox
    app.desk.escalate("TKT-000012", "anna@example.org", "needs a network engineer", now)
    app.run_sla(now, apply=False)      # what the SLA job would do, changing nothing
"""

from __future__ import annotations

import logging
import os
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pipeline.errors import MailboxError, NotFound, TiketError
from pipeline.records import DeskIdentity, IntakeResult, SimilarTicket
from pipeline.settings import DAYS, Mailbox, Settings
from pipeline.stages.lifecycle import DeskPolicy, TierInfo
from pipeline.stages.sla import Calendar, SlaPolicy

if TYPE_CHECKING:
    from pipeline.edges.proactive_store import ProactiveStore
    from pipeline.edges.store import Store
    from pipeline.jobs.console import Console
    from pipeline.jobs.desk import Desk, SlaRun
    from pipeline.jobs.intake import MailIntake, PassStats, Source, Triager
    from pipeline.jobs.outbox import DeliveryStats
    from pipeline.jobs.proactive import ProactiveDesk
    from pipeline.jobs.similar import SimilarIndex
    from pipeline.stages.agent_auth import Keyring

log = logging.getLogger(__name__)

HOLDER = f"{socket.gethostname()}:{os.getpid()}"
"""This process, as a lease holder."""

JOB_LEASES = ("outbox", "sla", "digest", "retention")


def utcnow() -> datetime:
    """The real clock (the edges and jobs pass `now` into the pure stages)."""
    return datetime.now(UTC)


class LeaseHeld(MailboxError):
    """Another live daemon works this mailbox now; this one stands by."""


@dataclass(slots=True)
class RunSummary:
    """Totals of a run, for the summary printed by `tiket run --once`."""

    fetched: int = 0
    moved: int = 0
    dispositions: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    acknowledged: int = 0
    failed_mailboxes: list[str] = field(default_factory=list)
    standing_by: list[str] = field(default_factory=list)
    sla: Any = None  # SlaRun
    delivery: Any = None  # DeliveryStats

    def add(self, stats: PassStats) -> None:
        """Fold one pass into the totals."""
        self.fetched += stats.fetched
        self.moved += stats.moved
        for result in stats.results:
            self.dispositions[result.disposition] += 1
            if result.rule:
                self.rules[result.rule] += 1
            self.acknowledged += result.acknowledged


def holder_is_dead(holder: str) -> bool:
    """True when a lease holder is a process on this host that no longer runs."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def desk_policy(settings: Settings) -> DeskPolicy:
    """The lifecycle rules from the [sla], [tiers] and [security] settings."""
    sla = settings.sla
    calendar = Calendar(
        timezone=settings.desk.timezone,
        always=not sla.business_hours,
        start=time.fromisoformat(sla.business_start),
        end=time.fromisoformat(sla.business_end),
        weekdays=frozenset(DAYS.index(d) for d in sla.business_days),
        holidays=frozenset(date.fromisoformat(h) for h in sla.holidays),
    )
    return DeskPolicy(
        sla=SlaPolicy(
            first_response_hours=sla.first_response_hours,
            resolution_hours=sla.resolution_hours,
            default_priority=sla.default_priority,
            calendar=calendar,
            always_on=frozenset(sla.always_on),
            warn_before=timedelta(minutes=sla.warn_before_minutes),
            escalate_first_response=frozenset(
                p for p, on in sla.escalate_on_missed_first_response.items() if on
            ),
        ),
        tiers={k: TierInfo(key=k, name=t.name, group=t.group) for k, t in settings.tiers.items()},
        security_contact=settings.security_contact,
        auto_close_after=timedelta(hours=sla.auto_close_after_hours),
        tell_relaxed_target=sla.tell_requester_of_relaxed_target,
    )


def desk_identity(settings: Settings) -> DeskIdentity:
    """Who the desk's mails come from ([desk])."""
    desk = settings.desk
    return DeskIdentity(
        name=desk.name,
        address=desk.address,
        message_id_domain=desk.message_id_domain,
        timezone=desk.timezone,
    )


def make_source(mailbox: Mailbox) -> Source:
    """The backend for a mailbox URL (imapclient is imported only for an IMAP mailbox)."""
    if mailbox.scheme == "maildir":
        from pipeline.edges.maildir_source import MaildirSource

        return MaildirSource(mailbox)
    from pipeline.edges.imap_source import ImapSource

    return ImapSource(mailbox)


class Tiket:
    """tiket for one desk: built once from settings; every interface calls into one instance."""

    def __init__(
        self,
        settings: Settings,
        *,
        triager: Triager | None = None,
        store: Store | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.identity: DeskIdentity = desk_identity(settings)
        self.policy: DeskPolicy = desk_policy(settings)
        if store is not None:
            self.__dict__["store"] = store
        if triager is not None:
            self.__dict__["triager"] = triager

    @classmethod
    def open(cls, settings: Settings, **parts: Any) -> Tiket:
        """A Tiket whose database is connected (and migrated) now."""
        app = cls(settings, **parts)
        app.connect()
        return app

    # -- parts, each made on first use --------------------------------------------------------
    @cached_property
    def store(self) -> Store:
        """The database, connected and migrated (every file tiket makes from now on is private)."""
        from pipeline.edges.files import private_dir, restrict_umask
        from pipeline.edges.store import open_store

        restrict_umask()
        private_dir(self.settings.data_dir)
        return open_store(self.settings)

    @cached_property
    def keyring(self) -> Keyring:
        """The desk secret's keys, which sign the token in every Message-ID tiket sends."""
        from pipeline.edges.secrets import load_keyring

        return load_keyring(self.settings)

    @cached_property
    def triager(self) -> Triager:
        """The model triager ([triage]); the model itself loads on first use or load_model()."""
        from pipeline.edges.model_triager import model_triager_for

        return model_triager_for(self.settings)

    @cached_property
    def similar(self) -> SimilarIndex:
        """Resolved tickets by text (NumPy only; read from the database on first use)."""
        from pipeline.jobs.similar import SimilarIndex

        return SimilarIndex(self.store)

    @cached_property
    def desk(self) -> Desk:
        """Ticket actions: agents' commands, review, SLA steps, the breach route."""
        from pipeline.jobs.desk import Desk

        return Desk(self)

    @cached_property
    def console(self) -> Console:
        """The web console's pages, sign-in and sessions ([web])."""
        from pipeline.jobs.console import Console

        return Console(self)

    @cached_property
    def proactive_rows(self) -> ProactiveStore:
        """Rows of major incidents, calls and published fixes (without the proactive job)."""
        from pipeline.edges.proactive_store import ProactiveStore

        return ProactiveStore(self.store)

    @cached_property
    def proactive(self) -> ProactiveDesk:
        """First diagnosis, known fixes, major incidents, calls (issue 13)."""
        from pipeline.jobs.proactive import ProactiveDesk

        return ProactiveDesk(self)

    @cached_property
    def intake(self) -> MailIntake:
        """Mail from a source through the stages into the store."""
        from pipeline.jobs.intake import MailIntake

        return MailIntake(self)

    @cached_property
    def categories(self) -> frozenset[str]:
        """The desk's category keys ([triage] categories); empty: any category is accepted."""
        configured = self.settings.section("triage").get("categories") or {}
        return frozenset(str(k) for k in configured)

    def load_model(self) -> str | None:
        """Load the triage model now (the daemon does, before its first IDLE); the failure or None."""
        load = getattr(self.triager, "load", None)
        return load() if load is not None else None

    def warm_up(self) -> str | None:
        """Load the model and start the parse workers before the first mail (the daemon does),
        so the first mail after a start is handled as fast as the rest; the model's failure or
        None."""
        failure = self.load_model()
        self.intake.parser.start()
        return failure

    def model_status(self) -> str:
        """The loaded model's version, or why there is none."""
        version = getattr(self.triager, "version", None)
        failure = getattr(self.triager, "failure", None)
        return str(version or failure or "not loaded")

    # -- leases: one daemon per mailbox and per job ---------------------------------------------
    def hold(self, name: str) -> bool:
        """Take or renew a lease for this process ([intake] lease_seconds)."""
        ttl = timedelta(seconds=self.settings.intake.lease_seconds)
        return self.store.acquire_lease(name, HOLDER, ttl, self.clock(), holder_is_dead)

    def while_held(self, name: str, stop: Callable[[], bool]) -> Callable[[], bool]:
        """A stop() for long work under a lease: renews the lease at every check (each batch) and
        says stop once it is lost, so a backlog that outlasts lease_seconds is not worked twice."""
        return lambda: stop() or not self.hold(name)

    def release_leases(self) -> None:
        """Give back every lease this process may hold (a clean stop)."""
        for mailbox in self.settings.mailboxes:
            self.store.release_lease(f"mailbox:{mailbox.name}", HOLDER)
        for job in JOB_LEASES:
            self.store.release_lease(job, HOLDER)

    # -- intake ---------------------------------------------------------------------------------
    def poll_mailbox(self, mailbox: Mailbox, stop: Callable[[], bool] = lambda: False) -> PassStats:
        """Connect, take in everything new, move what is finished, disconnect (under its lease)."""
        lease = f"mailbox:{mailbox.name}"
        if not self.hold(lease):
            raise LeaseHeld(
                f"{mailbox.name}: worked by {self.store.lease_holder(lease)}; standing by"
            )
        source = make_source(mailbox)
        try:
            uidvalidity = source.open()
            return self.intake.poll(source, uidvalidity, self.while_held(lease, stop))
        finally:
            source.close()

    def run_once(self) -> RunSummary:
        """Process everything pending in every mailbox, run the SLA job, deliver due mail."""
        summary = RunSummary()
        for mailbox in self.settings.mailboxes:
            try:
                summary.add(self.poll_mailbox(mailbox))
            except LeaseHeld as exc:
                log.info("mailbox=%s action=skipped reason=%s", mailbox.name, exc)
                summary.standing_by.append(str(exc))
            except MailboxError as exc:
                log.error("mailbox=%s action=failed reason=%s", mailbox.name, exc)
                summary.failed_mailboxes.append(f"{mailbox.name}: {exc}")
        summary.sla = self.run_sla_job()
        summary.delivery = self.deliver_outbox()
        return summary

    def release_quarantine(self, inbound_id: int, actor: str) -> list[IntakeResult] | None:
        """Replay a quarantined mail: now when this process can take its mailbox's lease (the
        results), else None: the daemon that holds the mailbox processes it."""
        mailbox = self.store.release(inbound_id, self.clock(), actor)
        if not self.hold(f"mailbox:{mailbox}"):
            return None
        return self.intake.process_pending(mailbox)

    # -- jobs -----------------------------------------------------------------------------------
    def deliver_outbox(self, now: datetime | None = None) -> DeliveryStats:
        """Run the outbox job once (under the outbox lease)."""
        from pipeline.edges.smtp_sender import open_sender
        from pipeline.jobs.outbox import DeliveryStats, deliver_due

        settings = self.settings
        if not self.hold("outbox"):
            return DeliveryStats()
        return deliver_due(
            self.store,
            lambda: open_sender(settings.outbox, settings.sources[-1]),
            settings.outbox,
            settings.desk.address,
            now or self.clock(),
            str(settings.section("debug")["crash_at"]),
            still_mine=lambda: self.hold("outbox"),
        )

    def run_sla(self, now: datetime | None = None, *, apply: bool = True) -> SlaRun:
        """The SLA job at `now`: route breaches, warn, escalate, auto-close. With apply=False
        nothing is written or sent: the result says what would happen (a what-if)."""
        return self.desk.run_sla(now or self.clock(), apply=apply)

    def run_sla_job(self) -> SlaRun:
        """The scheduled SLA job (one daemon at a time, under a lease)."""
        from pipeline.jobs.desk import SlaRun

        if not self.hold("sla"):
            return SlaRun()
        return self.desk.run_sla(self.clock())

    def run_retention_job(self) -> bool:
        """Empty the raw bytes of old mail ([retention]); daily, one daemon at a time."""
        from pipeline.jobs.retention import prune_raw

        if not self.hold("retention"):
            return False
        prune_raw(self.store, self.settings, self.clock())
        return True

    def run_digest_job(self) -> bool:
        """Queue yesterday's digest once a day after [digest] send_at (one daemon, under a lease)."""
        from pipeline.jobs.digest_job import run_digest_job

        return self.hold("digest") and run_digest_job(self.store, self.settings, self.clock())

    # -- what the interfaces show ---------------------------------------------------------------
    def connect(self) -> Store:
        """Open the database now (the read-only views query through the bound models)."""
        return self.store

    def require_database(self) -> None:
        """Raise NotFound unless the configured SQLite file exists (only `init` and `run` create
        one, so a command run from the wrong folder says so instead of making an empty database)."""
        from pipeline.edges.store import sqlite_path

        path = sqlite_path(self.settings.database.url)
        if path is not None and not path.exists():
            raise NotFound(
                f"no database at {path.resolve()} (database.url in {self.settings.sources[-1]}); "
                "create it with `tiket init`, or point --config / TIKET_CONFIG at the desk's file"
            )

    def list_tickets(
        self, *, status: str | None = None, tier: str | None = None, breached: bool = False
    ) -> list[dict[str, Any]]:
        """Tickets, newest first; with breached=True only those with a missed clock (and which)."""
        from pipeline.edges.views import list_tickets

        self.connect()
        rows = list_tickets(status=status, tier=tier)
        if not breached:
            return rows
        missed = self.breached_clocks()
        return [dict(row, breached=missed[row["ref"]]) for row in rows if row["ref"] in missed]

    def breached_clocks(self, now: datetime | None = None) -> dict[str, list[str]]:
        """{ref: [missed clocks]} for every open ticket (loaded in bulk)."""
        from pipeline.stages.lifecycle import clock_facts
        from pipeline.stages.sla import clock_view
        from pipeline.vocabulary import CLOCKS, OPEN_STATES

        now = now or self.clock()
        missed: dict[str, list[str]] = {}
        for ticket in self.store.ticket_states(OPEN_STATES):
            facts = clock_facts(ticket)
            late = [c for c in CLOCKS if clock_view(c, facts, self.policy.sla, now).breached]
            if late:
                missed[ticket.ref] = late
        return missed

    def clocks(self, ref: str, now: datetime | None = None) -> list[dict[str, Any]]:
        """Both SLA clocks of a ticket: state and due time."""
        from pipeline.stages.lifecycle import clock_facts
        from pipeline.stages.sla import clock_view
        from pipeline.vocabulary import CLOCKS

        now = now or self.clock()
        facts = clock_facts(self.store.ticket_state(ref))
        views = [clock_view(name, facts, self.policy.sla, now) for name in CLOCKS]
        return [
            {
                "clock": v.clock,
                "state": v.state,
                "due": v.due.isoformat(timespec="minutes") if v.due else None,
            }
            for v in views
        ]

    def similar_index_query(self, text: str, k: int = 3) -> tuple[SimilarTicket, ...]:
        """The k resolved tickets most like `text` (the index catches up with the database first)."""
        self.similar.refresh()
        return self.similar.query(text, k)

    def similar_to(self, ref: str) -> list[dict[str, Any]]:
        """The most similar resolved tickets, with how they were solved."""
        ticket = self.store.ticket_state(ref)
        conversation = self.store.conversation(ticket.id, notes=False)
        return [
            {
                "ref": s.ref,
                "subject": s.subject,
                "score": round(s.score, 3),
                "resolution_note": s.resolution_note,
            }
            for s in self.similar.like_ticket(ticket.id, ticket.subject, conversation)
        ]

    def show_ticket(self, ref: str, *, similar: bool = True) -> dict[str, Any]:
        """One ticket: conversation, suggestions, audit trail, SLA clocks, similar tickets."""
        from pipeline.edges.views import show_ticket

        self.connect()
        data = show_ticket(ref)
        data["sla"] = self.clocks(ref)
        data["similar"] = self.similar_to(ref) if similar else []
        data.update(self.proactive_rows.ticket_extras(ref))  # calls, major incident
        return data

    def review_item(self, ticket_id: int, *, similar: bool = False) -> dict[str, Any]:
        """One review-queue entry as JSON-ready data."""
        ticket = self.store.ticket_state(ticket_id)
        conversation = self.store.conversation(ticket.id)
        return {
            "ref": ticket.ref,
            "subject": ticket.subject,
            "requester": ticket.requester,
            "created_at": ticket.created_at.isoformat(timespec="seconds"),
            "status": ticket.status,
            "breach_suspected": ticket.breach_suspected,
            "current": {
                "kind": ticket.kind,
                "category": ticket.category,
                "priority": ticket.priority,
            },
            "suggestions": [
                {
                    "head": s.head,
                    "label": s.label,
                    "confidence": round(s.confidence, 4),
                    "applied": s.applied,
                }
                for s in self.store.suggestions(ticket.id)
            ],
            "similar": self.similar_to(ticket.ref) if similar else [],
            "body": conversation[0][3] if conversation else "",
        }

    def review_queue(self) -> list[dict[str, Any]]:
        """Tickets waiting for L1 review, oldest first (without similar tickets: fast)."""
        return [self.review_item(ticket_id) for ticket_id in self.store.review_queue()]

    def check(self) -> CheckReport:
        """Reach the database, every mailbox and the outbox; one line each."""
        from pipeline.edges.smtp_sender import open_sender

        settings = self.settings
        report = CheckReport(lines=[f"config: ok ({', '.join(settings.sources)})"])
        report.lines.extend(agent_mail_lines(settings))
        try:
            report.lines.append(
                f"database: ok ({settings.database.url}, schema ok: {self.store.schema_ok()})"
            )
        except Exception as exc:  # report every failure, then exit 1
            report.fail(f"database: FAILED: {type(exc).__name__}: {exc}")
        for mailbox in settings.mailboxes:
            source = make_source(mailbox)
            try:
                uidvalidity = source.open()
                report.lines.append(
                    f"mailbox {mailbox.name}: ok ({len(source.pending_uids())} mail(s) waiting, "
                    f"uidvalidity {uidvalidity}, idle {source.idle_supported})"
                )
            except TiketError as exc:
                report.fail(f"mailbox {mailbox.name}: FAILED: {exc}")
            finally:
                source.close()
        try:
            with open_sender(settings.outbox, settings.sources[-1]):
                report.lines.append(f"outbox: ok ({settings.outbox.url})")
        except TiketError as exc:
            report.fail(f"outbox: FAILED: {exc}")
        return report


def agent_mail_lines(settings: Settings) -> list[str]:
    """What `tiket check` says about agent mail verification (loudly when it is weakened)."""
    security = settings.security
    if not settings.agents:
        return ["agent mail: ok (no tier members, so no commands by mail)"]
    if security.agent_mail_auth == "token":
        return [
            'agent mail: WARNING: agent_mail_auth = "token": commands run on possession of a '
            "token alone, WITHOUT checking DMARC/DKIM/SPF. Anyone who sees one of our mails to an "
            "agent (a forward, a mailbox breach) can act as that agent. Set trusted_authserv_id "
            'and agent_mail_auth = "token+dmarc" once your server adds Authentication-Results.'
        ]
    if not security.trusted_authserv_id:
        return [
            'agent mail: WARNING: agent_mail_auth = "token+dmarc" but [security] '
            "trusted_authserv_id is empty: EVERY agent command by mail will be refused"
        ]
    return [
        f"agent mail: ok (token + DMARC or aligned DKIM/SPF per the Authentication-Results "
        f"of {security.trusted_authserv_id})"
    ]


@dataclass(slots=True)
class CheckReport:
    """What `tiket check` found: one line per part, and how many failed."""

    lines: list[str]
    problems: int = 0

    def fail(self, line: str) -> None:
        """Record a failed part."""
        self.lines.append(line)
        self.problems += 1
