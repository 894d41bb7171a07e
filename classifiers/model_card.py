"""Model card: the bundle a training run produces and the card that describes it.

The bundle holds what serving needs (fitted pipelines, classes, thresholds, priority mode and matrix,
version); the card holds what a person auditing the model needs (library versions, data files with
sha256, row counts and licences, per-head cross-validated metrics, thresholds with the precision and
coverage they gave, skipped heads, created_at).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from classifiers.datasets import TicketData
from classifiers.persistence import BUNDLE_FORMAT, library_versions
from classifiers.training import TrainingOptions, TrainingResult

__all__ = ["KNOWN_DATA", "make_bundle", "model_version"]

# sha256 of the shipped data files → (source, licence), so the card names licences of known data.
KNOWN_DATA: Mapping[str, Mapping[str, str]] = {
    "bc3e653083b5491dcd3566b871c9d5affab5570927aae552c5c93eb61c34c11c": {
        "name": "support_tickets.csv.gz",
        "source": "Tobias Bueck, Multilingual Customer Support Tickets (synthetic), v5 English + v3, "
                  "development part; doi:10.57967/hf/6184",
        "licence": "CC BY-NC 4.0 (attribution required; non-commercial)",
    },
    "dd1741b11cf6d383cb28e078683af55f0765d1cf5a82627eb86348d8ca4c3a72": {
        "name": "endava_topics.csv.gz",
        "source": "Adison Goh, IT Service Ticket Classification Dataset (Kaggle), Endava tickets, "
                  "development part",
        "licence": "listed CC0 on Kaggle; the underlying Endava data was withdrawn by its owner "
                   "(redistribution rights unclear)",
    },
    "1bb6600031d5d5404f6ce7c1c85d8a839222c7b9201a7b8d1959298460844ddc": {
        "name": "endava_titles.csv.gz",
        "source": "Endava help-desk tickets (karolzak/support-tickets-classification), titles only, "
                  "development part",
        "licence": "no licence stated; owner withdrew the data from public download "
                   "(redistribution rights unclear)",
    },
}


def model_version(prefix: str, created_at: datetime, data_sha256s: list[str]) -> str:
    """``<prefix>-<created_at compact UTC>-<hash8 of the data>``, e.g. default-20250101T120000Z-1a2b3c4d."""
    digest = hashlib.sha256("|".join(data_sha256s).encode()).hexdigest()[:8]
    return f"{prefix}-{created_at.strftime('%Y%m%dT%H%M%SZ')}-{digest}"


def _head_entry(result: TrainingResult, name: str) -> dict[str, Any]:
    head = result.heads[name]
    return {"pipeline": head.pipeline, "classes": list(head.classes), "threshold": head.threshold.threshold}


def make_bundle(
    result: TrainingResult,
    data: TicketData,
    options: TrainingOptions,
    *,
    created_at: datetime,
    prefix: str = "custom",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (bundle, card) for a training result. ``created_at`` must be an aware UTC datetime."""
    shas = [source.sha256 for source in data.sources]
    version = model_version(prefix, created_at, shas)
    matrix = {k: dict(v) for k, v in options.matrix.items()}
    bundle = {
        "bundle_format": BUNDLE_FORMAT,
        "version": version,
        "heads": {name: _head_entry(result, name) for name in result.heads},
        "priority_mode": result.priority_mode,
        "priority_threshold": result.priority_threshold.threshold if result.priority_threshold else None,
        "matrix": matrix,
    }
    heads_report = {name: head.report for name, head in result.heads.items()}
    if result.priority_report is not None:
        heads_report["priority"] = result.priority_report
    card = {
        "model_version": version,
        "created_at": created_at.isoformat(),
        "bundle_format": BUNDLE_FORMAT,
        "library_versions": library_versions(),
        "training_seconds": round(result.seconds, 1),
        "options": {"target_precision": options.target_precision,
                    "min_class_examples": options.min_class_examples,
                    "n_splits": options.n_splits, "candidate_selection": options.select},
        "data": [_data_entry(source.path, source.sha256, source.rows) for source in data.sources],
        "data_sha256": hashlib.sha256("|".join(shas).encode()).hexdigest(),
        "rows": len(data),
        "priority_mode": result.priority_mode,
        "priority_matrix": matrix,
        "heads": heads_report,
        "thresholds": {name: report["threshold"] for name, report in heads_report.items()},
        "skipped_heads": dict(result.skipped),
        "breach_rules": "rule layer only (classifiers/breach.py); no model: no reliable breach labels",
    }
    json.dumps(card)  # fail here, not half-way through writing, if something is not serialisable
    return bundle, card


def _data_entry(path: str, sha256: str, rows: int) -> dict[str, Any]:
    known = KNOWN_DATA.get(sha256, {})
    return {"path": path, "sha256": sha256, "rows": rows,
            "source": known.get("source", "user-supplied"),
            "licence": known.get("licence", "unknown (user-supplied data)")}
