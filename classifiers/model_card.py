"""Model card: the bundle a training run produces and the card that describes it.

The bundle holds what serving needs (the serving form of the fitted vectorizer and heads, classes,
thresholds, priority mode and matrix, version; no scikit-learn objects); the card holds what a person
auditing the model needs (library versions, data files with sha256, row counts and licences, per-head
cross-validated metrics, thresholds with the precision and coverage they gave, skipped heads,
created_at).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from classifiers.datasets import TicketData
from classifiers.features import PREPARATION_VERSION
from classifiers.persistence import library_versions, serving_form
from classifiers.training import TrainingOptions, TrainingResult

__all__ = ["KNOWN_DATA", "make_bundle", "model_version"]

# sha256 of the shipped data files' CSV text (after gunzip: what classifiers.datasets hashes; PROVENANCE.md
# lists the .gz hashes) → (source, licence), so the card names licences of known data.
KNOWN_DATA: Mapping[str, Mapping[str, str]] = {
    "c83059dad8fd7eeeb1e34f3681bb803c38d411bf4946c22917cf764c575550a8": {
        "name": "support_tickets.csv.gz",
        "source": "Tobias Bueck, Multilingual Customer Support Tickets (synthetic), v5 English + v3, "
        "development part; doi:10.57967/hf/6184",
        "licence": "CC BY-NC 4.0 (attribution required; non-commercial)",
    },
    "ff11a4b58a67b9fa257ededeaaa67a3cab6b9120f3ab73db69a7d911a18fa23b": {
        "name": "it_categories.csv.gz",
        "source": "texts of the Endava tickets (Kaggle Topic_group set), ATA incidents and the IT queues of "
        "the synthetic support tickets, development parts, labelled with the default IT-desk categories by "
        "the weak-supervision rules of classifiers/labelling.py (rows the rules abstain on left out)",
        "licence": "mixed: Endava text (listed CC0, owner withdrew the data), ATA (no licence stated), "
        "synthetic tickets (CC BY-NC 4.0): redistribution rights unclear",
    },
    "1333b6fa089e335e24725f51416c6e81a26a8ff5e6fc29d557dc6813121c70d5": {
        "name": "endava_titles.csv.gz",
        "source": "Endava help-desk tickets (karolzak/support-tickets-classification), titles only, "
        "development part",
        "licence": "no licence stated; owner withdrew the data from public download "
        "(redistribution rights unclear)",
    },
    "0425400e467c705e337949118b330cf997b73b59e7b0e63ac71cc20ab5a71810": {
        "name": "ata_incidents.csv.gz",
        "source": "Automatic Ticket Assignment (GreatLearning-NLP-Capstone-Group-9/Automatic-Ticket-Classification, "
        "input_data.xlsx), real ServiceNow-style incidents, development part, request-looking rows "
        "left out, all labelled incident, weight 0.5",
        "licence": "no licence stated for the data (the repository's MIT licence covers the capstone group's "
        "code, not this third-party ticket data): redistribution rights unclear",
    },
}


def model_version(prefix: str, created_at: datetime, data_sha256s: list[str]) -> str:
    """``<prefix>-<created_at compact UTC>-<hash8 of the data>``, e.g. default-20250101T120000Z-1a2b3c4d."""
    digest = hashlib.sha256("|".join(data_sha256s).encode()).hexdigest()[:8]
    return f"{prefix}-{created_at.strftime('%Y%m%dT%H%M%SZ')}-{digest}"


def _head_entry(result: TrainingResult, name: str) -> dict[str, Any]:
    head = result.heads[name]
    return {
        "classifier": head.classifier,
        "columns": head.columns,
        "classes": list(head.classes),
        "thresholds": dict(head.thresholds),
    }


def make_bundle(
    result: TrainingResult,
    data: TicketData,
    options: TrainingOptions,
    *,
    created_at: datetime,
    prefix: str = "custom",
    priority_cues: bool = False,
    category_rules: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (bundle, card) for a training result. ``created_at`` must be an aware UTC datetime.

    ``priority_cues``: serve priority from the impact and urgency cues of the text (``classifiers.cues``)
    where the learnt head does not apply (the default model: no public data has desk priorities).
    ``category_rules``: apply a category only when the weak-supervision rules the head was trained from
    (``classifiers.labelling``) agree with it, and a suspected breach is category security (the default
    model, whose category labels are those rules' output).
    """
    shas = [source.sha256 for source in data.sources]
    version = model_version(prefix, created_at, shas)
    matrix = {k: dict(v) for k, v in options.matrix.items()}
    fitted = {
        "bundle_format": 2,  # the fitted scikit-learn objects; serving_form makes the bundle
        "version": version,
        "vectorizer": result.vectorizer,
        "heads": {name: _head_entry(result, name) for name in result.heads},
        "priority_mode": result.priority_mode,
        "priority_thresholds": dict(result.priority_thresholds or {}),
        "priority_cues": priority_cues,
        "kind_cues": options.kind_cues,
        "category_rules": category_rules,
        "matrix": matrix,
    }
    bundle = serving_form(fitted)
    heads_report = {name: head.report for name, head in result.heads.items()}
    if result.priority_report is not None:
        heads_report["priority"] = result.priority_report
    card = {
        "model_version": version,
        "created_at": created_at.isoformat(),
        "bundle_format": bundle["bundle_format"],
        "preparation_version": PREPARATION_VERSION,
        "library_versions": library_versions(),
        "training_seconds": round(result.seconds, 1),
        "options": {
            "target_precision": options.target_precision,
            "min_class_examples": options.min_class_examples,
            "n_splits": options.n_splits,
            "candidate_selection": options.select,
        },
        "data": [_data_entry(source.path, source.sha256, source.rows) for source in data.sources],
        "data_sha256": hashlib.sha256("|".join(shas).encode()).hexdigest(),
        "rows": len(data),
        "priority_mode": result.priority_mode,
        "priority_matrix": matrix,
        "heads": heads_report,
        "thresholds": {name: report["threshold"] for name, report in heads_report.items()},
        "skipped_heads": dict(result.skipped),
        "features": {
            "vectorizer": "one shared word 1-2-gram TF-IDF; each head reads the columns its stop words allow",
            "vocabulary": len(result.vectorizer.vocabulary_),
        },
        "priority_cues": priority_cues,
        "kind_cues": options.kind_cues,
        "category_rules": category_rules,
        "breach_rules": "rule layer only (classifiers/breach.py); no model: no reliable breach labels",
        "serving_rules": {
            "category": "applied only where the weak-labelling rules agree; a suspected breach is security"
            if category_rules
            else "none",
            "kind": "fault-vs-ask cue added to the scores (training and serving)"
            if options.kind_cues
            else "none",
            "priority": "impact x urgency cues where the learnt head does not apply; applied when both "
            "were read from the text"
            if priority_cues
            else "none",
        },
    }
    json.dumps(card)  # fail here, not half-way through writing, if something is not serialisable
    return bundle, card


def _data_entry(path: str, sha256: str, rows: int) -> dict[str, Any]:
    known = KNOWN_DATA.get(sha256, {})
    return {
        "path": path,
        "sha256": sha256,
        "rows": rows,
        "source": known.get("source", "user-supplied"),
        "licence": known.get("licence", "unknown (user-supplied data)"),
    }
