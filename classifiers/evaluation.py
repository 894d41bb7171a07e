"""Evaluation: per-head metrics (accuracy, macro-F1, per-class precision/recall/F1, precision and coverage
at the auto-apply threshold), shared by cross-validation at training time and ``tiket evaluate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from classifiers.thresholds import NEVER, applied_mask

__all__ = ["format_metrics", "head_metrics"]


def head_metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    confidences: Sequence[float],
    thresholds: float | Mapping[str, float],
    *,
    applied: Sequence[bool] | None = None,
) -> dict[str, Any]:
    """Metrics of one head on labelled rows; a JSON-ready dict.

    ``thresholds``: one per class (a class without one never applies) or one for all.
    ``at_threshold.precision`` is the accuracy on the rows whose suggestion was applied (None when none
    was); ``at_threshold.coverage`` is the share of rows applied. Per class: precision, recall, F1, its
    threshold, ``applied`` (suggestions of the class applied), ``applied_precision`` (correct share of
    those) and ``coverage`` (applied suggestions of the class / rows labelled with it). ``applied``, when
    given, says which suggestions were applied (a rule, not a threshold, decided: priority cues).
    """
    truth = np.asarray(y_true, dtype=object).astype(str)
    pred = np.asarray(y_pred, dtype=object).astype(str)
    conf = np.asarray(confidences, dtype=np.float64)
    labels = sorted(set(truth) | set(pred))
    per_class_limit = (
        {label: float(thresholds) for label in labels}
        if isinstance(thresholds, int | float)
        else {label: float(thresholds.get(label, NEVER)) for label in labels}
    )
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, pred, labels=labels, zero_division=0.0
    )
    applied_rows = (
        applied_mask(pred.tolist(), conf.tolist(), per_class_limit)
        if applied is None
        else np.asarray(applied, dtype=bool)
    )
    right = truth == pred
    per_class: dict[str, dict[str, Any]] = {}
    for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True):
        mine = applied_rows & (pred == label)
        per_class[label] = {
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "f1": round(float(f), 4),
            "support": int(s),
            "threshold": round(per_class_limit[label], 4),
            "applied": int(mine.sum()),
            "applied_precision": round(float(right[mine].mean()), 4) if mine.any() else None,
            "coverage": round(float(mine.sum() / s), 4) if s else None,
        }
    return {
        "rows": int(truth.size),
        "accuracy": round(float(accuracy_score(truth, pred)), 4),
        "macro_f1": round(
            float(
                f1_score(truth, pred, labels=sorted(set(truth)), average="macro", zero_division=0.0)
            ),
            4,
        ),
        "per_class": per_class,
        "at_threshold": {
            "threshold": "per class"
            if not isinstance(thresholds, int | float)
            else round(float(thresholds), 4),
            "precision": round(float(right[applied_rows].mean()), 4)
            if applied_rows.any()
            else None,
            "coverage": round(float(applied_rows.mean()), 4),
        },
    }


def format_metrics(head: str, metrics: dict[str, Any]) -> str:
    """A human-readable block for one head's metrics."""
    at = metrics["at_threshold"]
    precision = "n/a" if at["precision"] is None else f"{at['precision']:.3f}"
    lines = [
        f"{head}: rows={metrics['rows']} accuracy={metrics['accuracy']:.3f} "
        f"macro_f1={metrics['macro_f1']:.3f} applied_precision={precision} "
        f"coverage={at['coverage']:.3f}",
    ]
    for label, row in metrics["per_class"].items():
        applied = "n/a" if row["applied_precision"] is None else f"{row['applied_precision']:.3f}"
        lines.append(
            f"    {label:<24} precision={row['precision']:.3f} recall={row['recall']:.3f} "
            f"f1={row['f1']:.3f} support={row['support']} threshold={row['threshold']:.3f} "
            f"applied={row['applied']} applied_precision={applied}"
        )
    return "\n".join(lines)
