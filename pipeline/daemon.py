"""Daemon (EDGE): watches every mailbox (IDLE where offered, `schedule` polling otherwise), runs jobs.

One thread per IDLE-capable IMAP mailbox; polled mailboxes and the outbox job run from the main
thread's `schedule` loop. A failing mailbox is retried with backoff and never stops the others;
SIGTERM finishes the current mail, logs out and exits 0.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType

import schedule

from pipeline.edges.files import private_dir, restrict_umask
from pipeline.edges.imap_source import ImapSource
from pipeline.edges.maildir_source import MaildirSource
from pipeline.edges.model_triager import ModelTriager, model_triager_for
from pipeline.edges.smtp_sender import open_sender
from pipeline.edges.store import Store, open_store
from pipeline.errors import MailboxError
from pipeline.jobs.desk import SlaRun
from pipeline.jobs.intake import MailIntake, PassStats, Source, Triager, utcnow
from pipeline.jobs.outbox import DeliveryStats, deliver_due
from pipeline.settings import Mailbox, Settings

log = logging.getLogger(__name__)


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
    sla: SlaRun = field(default_factory=SlaRun)
    delivery: DeliveryStats = field(default_factory=DeliveryStats)

    def add(self, stats: PassStats) -> None:
        """Fold one pass into the totals."""
        self.fetched += stats.fetched
        self.moved += stats.moved
        for result in stats.results:
            self.dispositions[result.disposition] += 1
            if result.rule:
                self.rules[result.rule] += 1
            self.acknowledged += result.acknowledged


@dataclass(slots=True)
class Runtime:
    """Everything a run needs, built once from settings."""

    settings: Settings
    store: Store
    intake: MailIntake
    triager: Triager


def build_runtime(settings: Settings, triager: Triager | None = None) -> Runtime:
    """Open (and migrate) the database and wire intake to it (every file it makes is private)."""
    restrict_umask()
    private_dir(settings.data_dir)
    store = open_store(settings)
    if triager is None:
        triager = model_triager_for(settings)
    return Runtime(
        settings=settings, store=store, intake=MailIntake(settings, store, triager), triager=triager
    )


def make_source(mailbox: Mailbox) -> Source:
    """The backend for a mailbox URL."""
    if mailbox.scheme == "maildir":
        return MaildirSource(mailbox)
    return ImapSource(mailbox)


HOLDER = f"{socket.gethostname()}:{os.getpid()}"
"""This process, as a lease holder."""


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


def hold(runtime: Runtime, name: str) -> bool:
    """Take or renew a lease for this process ([intake] lease_seconds)."""
    ttl = timedelta(seconds=runtime.settings.intake.lease_seconds)
    return runtime.store.acquire_lease(name, HOLDER, ttl, utcnow(), holder_is_dead)


def while_held(runtime: Runtime, name: str, stop: Callable[[], bool]) -> Callable[[], bool]:
    """A stop() for long work under a lease: renews the lease at every check (each batch) and
    says stop once it is lost, so a backlog that outlasts lease_seconds is not worked twice."""
    return lambda: stop() or not hold(runtime, name)


class LeaseHeld(MailboxError):
    """Another live daemon works this mailbox now; this one stands by."""


def poll_mailbox(
    runtime: Runtime, mailbox: Mailbox, stop: Callable[[], bool] = lambda: False
) -> PassStats:
    """Connect, take in everything new, move what is finished, disconnect (under its lease)."""
    if not hold(runtime, f"mailbox:{mailbox.name}"):
        holder = runtime.store.lease_holder(f"mailbox:{mailbox.name}")
        raise LeaseHeld(f"{mailbox.name}: worked by {holder}; standing by")
    source = make_source(mailbox)
    try:
        uidvalidity = source.open()
        return runtime.intake.poll(
            source, uidvalidity, while_held(runtime, f"mailbox:{mailbox.name}", stop)
        )
    finally:
        source.close()


def deliver_outbox(runtime: Runtime, now: datetime | None = None) -> DeliveryStats:
    """Run the outbox job once (at `now`, for what-if runs such as `sla check --now`)."""
    settings = runtime.settings
    if not hold(runtime, "outbox"):
        return DeliveryStats()
    return deliver_due(
        runtime.store,
        lambda: open_sender(settings.outbox, settings.sources[-1]),
        settings.outbox,
        settings.desk.address,
        now or utcnow(),
        str(settings.section("debug")["crash_at"]),
        still_mine=lambda: hold(runtime, "outbox"),
    )


def run_sla_job(runtime: Runtime) -> SlaRun:
    """Route breaches, warn, escalate and auto-close (one daemon at a time, under a lease)."""
    if not hold(runtime, "sla"):
        return SlaRun()
    return runtime.intake.desk_actions.run_sla(utcnow())


def run_digest(runtime: Runtime) -> bool:
    """Queue yesterday's digest once a day after [digest] send_at (one daemon, under a lease)."""
    from pipeline.jobs.digest_job import run_digest_job

    return hold(runtime, "digest") and run_digest_job(runtime, utcnow())


def run_retention(runtime: Runtime) -> bool:
    """Empty the raw bytes of old mail ([retention]); daily, one daemon at a time."""
    from pipeline.jobs.retention import prune_raw

    if not hold(runtime, "retention"):
        return False
    prune_raw(runtime.store, runtime.settings, utcnow())
    return True


def run_once(runtime: Runtime) -> RunSummary:
    """Process everything pending in every mailbox, deliver due outbox rows, return the totals."""
    summary = RunSummary()
    for mailbox in runtime.settings.mailboxes:
        try:
            summary.add(poll_mailbox(runtime, mailbox))
        except LeaseHeld as exc:
            log.info("mailbox=%s action=skipped reason=%s", mailbox.name, exc)
            summary.standing_by.append(str(exc))
        except MailboxError as exc:
            log.error("mailbox=%s action=failed reason=%s", mailbox.name, exc)
            summary.failed_mailboxes.append(f"{mailbox.name}: {exc}")
    summary.sla = run_sla_job(runtime)
    summary.delivery = deliver_outbox(runtime)
    return summary


class Daemon:
    """`tiket run`: runs until SIGTERM/SIGINT."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.stopping = threading.Event()
        self.new_mail = threading.Event()  # set by a watcher: deliver the outbox now, not in 5 s
        self.threads: list[threading.Thread] = []

    def stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Ask every loop to finish its current mail and return."""
        if signum is not None:
            log.info("signal=%d action=stopping", signum)
        self.stopping.set()

    def run(self) -> int:
        """Watch the mailboxes until stopped; returns the exit code (0)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        settings = self.runtime.settings
        intake = settings.intake
        if isinstance(self.runtime.triager, ModelTriager):
            self.runtime.triager.load()
        polled = []
        for mailbox in settings.mailboxes:
            if mailbox.scheme != "maildir" and intake.idle:
                thread = threading.Thread(
                    target=self._watch, args=(mailbox,), name=mailbox.name, daemon=True
                )
                thread.start()
                self.threads.append(thread)
            else:
                polled.append(mailbox)
        jobs = schedule.Scheduler()
        for mailbox in polled:
            jobs.every(intake.poll_interval_seconds).seconds.do(self._guard, self._poll, mailbox)
        jobs.every(5).seconds.do(self._guard, deliver_outbox, self.runtime)
        jobs.every(60).seconds.do(self._guard, run_sla_job, self.runtime)
        jobs.every(60).seconds.do(self._guard, run_digest, self.runtime)
        jobs.every(24).hours.do(self._guard, run_retention, self.runtime)
        log.info(
            "daemon started mailboxes=%d idle=%d polled=%d",
            len(settings.mailboxes),
            len(self.threads),
            len(polled),
        )
        jobs.run_all()
        while not self.stopping.is_set():
            if self.new_mail.wait(1.0):
                self.new_mail.clear()
                self._guard(run_sla_job, self.runtime)  # a new breach suspect is routed at once
                self._guard(deliver_outbox, self.runtime)
            jobs.run_pending()
        for thread in self.threads:
            thread.join(timeout=30)
        for mailbox in settings.mailboxes:
            self.runtime.store.release_lease(f"mailbox:{mailbox.name}", HOLDER)
        self.runtime.store.release_lease("outbox", HOLDER)
        for job in ("sla", "digest", "retention"):
            self.runtime.store.release_lease(job, HOLDER)
        log.info("daemon stopped")
        return 0

    def _guard(self, job: Callable[..., object], *args: object) -> None:
        """Isolation point per job: schedule would re-raise; log the traceback and go on."""
        if self.stopping.is_set():
            return
        try:
            job(*args)
        except Exception:
            log.exception("job=%s action=failed", getattr(job, "__name__", job))

    def _poll(self, mailbox: Mailbox) -> None:
        try:
            if poll_mailbox(self.runtime, mailbox, self.stopping.is_set).results:
                self.new_mail.set()
        except LeaseHeld as exc:
            log.debug("mailbox=%s action=standing_by reason=%s", mailbox.name, exc)
        except MailboxError as exc:
            log.error("mailbox=%s action=failed reason=%s", mailbox.name, exc)

    def _watch(self, mailbox: Mailbox) -> None:
        """IDLE loop for one mailbox, reconnecting with backoff (1 s doubling to the maximum)."""
        intake = self.runtime.settings.intake
        backoff = float(intake.min_backoff_seconds)
        while not self.stopping.is_set():
            if not hold(self.runtime, f"mailbox:{mailbox.name}"):
                self.stopping.wait(self.runtime.settings.intake.lease_seconds / 3)
                continue
            source = make_source(mailbox)
            try:
                uidvalidity = source.open()
                backoff = float(intake.min_backoff_seconds)
                log.info("mailbox=%s action=connected idle=%s", mailbox.name, source.idle_supported)
                self._serve(source, uidvalidity)
            except MailboxError as exc:
                log.error("mailbox=%s action=retry in=%.0fs reason=%s", mailbox.name, backoff, exc)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, float(intake.max_backoff_seconds))
            except Exception:  # isolation point: a bug must not kill the watcher for good
                log.exception("mailbox=%s action=crashed", mailbox.name)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, float(intake.max_backoff_seconds))
            finally:
                source.close()

    def _serve(self, source: Source, uidvalidity: int) -> None:
        intake = self.runtime.settings.intake
        renew = min(intake.idle_renew_seconds, intake.lease_seconds / 3)
        while not self.stopping.is_set() and hold(self.runtime, f"mailbox:{source.name}"):
            if self.runtime.intake.poll(
                source,
                uidvalidity,
                while_held(self.runtime, f"mailbox:{source.name}", self.stopping.is_set),
            ).results:
                self.new_mail.set()
            if not source.idle_supported:
                self.stopping.wait(intake.poll_interval_seconds)
                continue
            source.wait(renew, self.stopping.is_set)
