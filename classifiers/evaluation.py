"""Evaluation: per-head metrics (accuracy, macro-F1, per-class precision/recall/F1, precision and coverage
at the auto-apply threshold), shared by cross-validation at training time and ``tiket evaluate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

__all__ = ["format_metrics", "head_metrics"]


def head_metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    confidences: Sequence[float],
    threshold: float,
) -> dict[str, Any]:
    """Metrics of one head on labelled rows; a JSON-ready dict.

    ``at_threshold.precision`` is the accuracy on the rows whose confidence reaches ``threshold``
    (None when no row does); ``at_threshold.coverage`` is the share of rows that do.
    """
    truth = np.asarray(y_true, dtype=object).astype(str)
    pred = np.asarray(y_pred, dtype=object).astype(str)
    conf = np.asarray(confidences, dtype=np.float64)
    labels = sorted(set(truth) | set(pred))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, pred, labels=labels, zero_division=0.0
    )
    applied = conf >= threshold
    return {
        "rows": int(truth.size),
        "accuracy": round(float(accuracy_score(truth, pred)), 4),
        "macro_f1": round(
            float(
                f1_score(truth, pred, labels=sorted(set(truth)), average="macro", zero_division=0.0)
            ),
            4,
        ),
        "per_class": {
            label: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "at_threshold": {
            "threshold": round(float(threshold), 4),
            "precision": round(float((truth[applied] == pred[applied]).mean()), 4)
            if applied.any()
            else None,
            "coverage": round(float(applied.mean()), 4),
        },
    }


def format_metrics(head: str, metrics: dict[str, Any]) -> str:
    """A human-readable block for one head's metrics."""
    at = metrics["at_threshold"]
    precision = "n/a" if at["precision"] is None else f"{at['precision']:.3f}"
    lines = [
        f"{head}: rows={metrics['rows']} accuracy={metrics['accuracy']:.3f} "
        f"macro_f1={metrics['macro_f1']:.3f} threshold={at['threshold']:.3f} "
        f"precision@threshold={precision} coverage={at['coverage']:.3f}",
    ]
    for label, row in metrics["per_class"].items():
        lines.append(
            f"    {label:<24} precision={row['precision']:.3f} recall={row['recall']:.3f} "
            f"f1={row['f1']:.3f} support={row['support']}"
        )
    return "\n".join(lines)
