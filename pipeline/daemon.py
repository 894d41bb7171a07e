"""Daemon (EDGE): watches every mailbox (IDLE where offered, `schedule` polling otherwise), runs jobs.

A thin skin over the application object: one thread per IDLE-capable IMAP mailbox; polled mailboxes
and the outbox, SLA and digest jobs run from the main thread's `schedule` loop. The model is loaded
and the parse workers started before the first IDLE, so the first mail after a start is answered as
fast as the rest. A failing mailbox is retried with backoff and never stops the others; SIGTERM
finishes the current mail, logs out and exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

import schedule

from pipeline.app import LeaseHeld, Tiket, make_source
from pipeline.errors import MailboxError
from pipeline.jobs.intake import Source
from pipeline.settings import Mailbox

log = logging.getLogger(__name__)


class Daemon:
    """`tiket run`: runs until SIGTERM/SIGINT."""

    def __init__(self, app: Tiket) -> None:
        self.app = app
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
        settings = self.app.settings
        intake = settings.intake
        self.app.warm_up()
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
        jobs.every(5).seconds.do(self._guard, self.app.deliver_outbox)
        jobs.every(60).seconds.do(self._guard, self.app.run_sla_job)
        jobs.every(60).seconds.do(self._guard, self.app.run_digest_job)
        jobs.every(24).hours.do(self._guard, self.app.run_retention_job)
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
                self._guard(self.app.run_sla_job)  # a new breach suspect is routed at once
                self._guard(self.app.deliver_outbox)
            jobs.run_pending()
        for thread in self.threads:
            thread.join(timeout=30)
        self.app.release_leases()
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
            if self.app.poll_mailbox(mailbox, self.stopping.is_set).results:
                self.new_mail.set()
        except LeaseHeld as exc:
            log.debug("mailbox=%s action=standing_by reason=%s", mailbox.name, exc)
        except MailboxError as exc:
            log.error("mailbox=%s action=failed reason=%s", mailbox.name, exc)

    def _watch(self, mailbox: Mailbox) -> None:
        """IDLE loop for one mailbox, reconnecting with backoff (1 s doubling to the maximum)."""
        intake = self.app.settings.intake
        backoff = float(intake.min_backoff_seconds)
        while not self.stopping.is_set():
            if not self.app.hold(f"mailbox:{mailbox.name}"):
                self.stopping.wait(self.app.settings.intake.lease_seconds / 3)
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
        intake = self.app.settings.intake
        renew = min(intake.idle_renew_seconds, intake.lease_seconds / 3)
        while not self.stopping.is_set() and self.app.hold(f"mailbox:{source.name}"):
            if self.app.intake.poll(
                source,
                uidvalidity,
                self.app.while_held(f"mailbox:{source.name}", self.stopping.is_set),
            ).results:
                self.new_mail.set()
            if not source.idle_supported:
                self.stopping.wait(intake.poll_interval_seconds)
                continue
            source.wait(renew, self.stopping.is_set)
