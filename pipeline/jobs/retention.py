"""Retention (orchestrator): the daily job that empties the raw bytes of old mail.

Tickets, messages, attachments and the audit trail stay; only the stored raw bytes of mail
processed (or quarantined) longer ago than [retention] processed_days (quarantined_days) are
emptied, so a desk does not keep every mail it ever received, whole, for ever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.edges.store import Store
from pipeline.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneStats:
    """How many mails had their raw bytes emptied, by state."""

    processed: int
    quarantined: int


def prune_raw(store: Store, settings: Settings, now: datetime) -> PruneStats:
    """Empty the raw bytes of mail older than the retention days (0 days: keep for ever)."""
    retention = settings.retention
    counts = {}
    for state, days in (
        ("done", retention.processed_days),
        ("quarantined", retention.quarantined_days),
    ):
        counts[state] = store.prune_raw(state, now - timedelta(days=days), now) if days > 0 else 0
    stats = PruneStats(processed=counts["done"], quarantined=counts["quarantined"])
    if stats.processed or stats.quarantined:
        log.info("retention action=pruned processed=%d quarantined=%d", *counts.values())
    return stats
