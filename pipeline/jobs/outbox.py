"""Outbox: deliver due rows over one connection per batch, with backoff and a give-up time.

4xx and socket errors are retried (initial delay doubling up to a maximum) until the row's give-up
time; 5xx fails the row at once. Both are audited. A row's Message-ID never changes, so a resend
after a crash carries the same id.

Delivered rows are marked sent together, one UPDATE and commit per batch, or sooner when a batch
takes long (MARK_EVERY_SECONDS, e.g. a slow SMTP server): a crash resends at most those rows, with
their Message-IDs, and another daemon taking the outbox lease over does not resend a long batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.edges.smtp_sender import FileSender, SmtpSender
from pipeline.edges.store import Store
from pipeline.errors import PermanentSendError, TransientSendError
from pipeline.faults import crash_point
from pipeline.records import DueMail
from pipeline.settings import OutboxSettings
from pipeline.stages.addresses import unmailable

log = logging.getLogger(__name__)
MARK_EVERY_SECONDS = 0.5


@dataclass(slots=True)
class DeliveryStats:
    """What one run of the outbox job did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def retry_delay(attempts: int, initial: int, maximum: int) -> timedelta:
    """Backoff after the n-th failed attempt (1-based): initial * 2**(n-1), capped at maximum."""
    return timedelta(seconds=min(maximum, initial * 2 ** max(0, attempts - 1)))


def deliver_due(
    store: Store,
    make_sender: Callable[[], FileSender | SmtpSender],
    config: OutboxSettings,
    sender_address: str,
    now: datetime,
    crash_at: str = "",
    still_mine: Callable[[], bool] = lambda: True,
) -> DeliveryStats:
    """Deliver every due row, a batch per connection, until none is due.

    `still_mine()` renews the outbox lease before each further batch; once it says no, another
    daemon has the outbox and this one stops (a long drain must not be delivered twice).
    """
    stats = DeliveryStats()
    while True:
        rows = store.due_outbox(now, config.batch_size)
        if not rows:
            return stats
        sender = make_sender()
        try:
            sender.__enter__()
        except TransientSendError as exc:  # could not connect or log in: every row waits
            log.error("outbox action=connect_failed reason=%s", exc)
            for row in rows:
                _retry_or_fail(store, row, str(exc), config, now, stats)
            return stats
        sent: list[DueMail] = []
        marked_at = time.monotonic()
        try:
            for row in rows:
                if _deliver_row(store, sender, row, config, sender_address, now, stats, crash_at):
                    sent.append(row)
                if time.monotonic() - marked_at > MARK_EVERY_SECONDS:
                    _mark_sent(store, sent, now, stats)
                    marked_at = time.monotonic()
        finally:
            _mark_sent(store, sent, now, stats)
            sender.__exit__(None, None, None)
        if len(rows) < config.batch_size or not still_mine():
            return stats


def _mark_sent(store: Store, sent: list[DueMail], now: datetime, stats: DeliveryStats) -> None:
    """Record the delivered rows (one UPDATE), then log them."""
    if not sent:
        return
    store.outbox_sent([row.id for row in sent], now)
    stats.sent += len(sent)
    for row in sent:
        log.info("outbox=%s action=sent template=%s", row.message_id, row.template)
    sent.clear()


def _deliver_row(
    store: Store,
    sender: FileSender | SmtpSender,
    row: DueMail,
    config: OutboxSettings,
    sender_address: str,
    now: datetime,
    stats: DeliveryStats,
    crash_at: str,
) -> bool:
    """Send one row; True when it was delivered (the caller marks it sent)."""
    refused = unmailable(row.recipients)
    if refused or not row.recipients:  # one address must be one RCPT: never let a sender add more
        reason = (
            f"refused: {refused[0][:100]!r} is not exactly one mailbox"
            if refused
            else ("refused: no recipient")
        )
        store.outbox_failed(row.id, reason, now, retry_at=None)
        stats.failed += 1
        log.warning("outbox=%s action=failed reason=%s", row.message_id, reason)
        return False
    try:
        sender.send(sender_address, row.recipients, row.raw, row.message_id)
    except PermanentSendError as exc:
        store.outbox_failed(row.id, str(exc), now, retry_at=None)
        stats.failed += 1
        log.warning("outbox=%s action=failed reason=%s", row.message_id, exc)
        return False
    except TransientSendError as exc:
        _retry_or_fail(store, row, str(exc), config, now, stats)
        return False
    crash_point("after_send", crash_at)
    return True


def _retry_or_fail(
    store: Store,
    row: DueMail,
    error: str,
    config: OutboxSettings,
    now: datetime,
    stats: DeliveryStats,
) -> None:
    attempts = row.attempts + 1
    retry_at = now + retry_delay(attempts, config.retry_initial_seconds, config.retry_max_seconds)
    give_up_at = row.give_up_at
    if give_up_at is not None and retry_at > give_up_at:
        store.outbox_failed(row.id, f"gave up: {error}", now, retry_at=None)
        stats.failed += 1
        log.warning("outbox=%s action=gave_up reason=%s", row.message_id, error)
        return
    store.outbox_failed(row.id, error, now, retry_at=retry_at)
    stats.retried += 1
    log.info(
        "outbox=%s action=retry at=%s reason=%s",
        row.message_id,
        retry_at.isoformat(timespec="seconds"),
        error,
    )
