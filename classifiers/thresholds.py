"""Auto-apply thresholds: the lowest confidence at which suggestions reach a target precision (pure)

Pure module: works on out-of-fold confidences and correctness flags, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["NEVER", "ThresholdChoice", "applied_mask", "pick_class_thresholds", "pick_threshold"]

NEVER = 1.01  # a confidence never reaches it: the head always abstains


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdChoice:
    """A threshold and what it gave on the rows it was picked on.

    ``precision`` is the share of correct suggestions among rows at or above the threshold, ``coverage``
    the share of all rows at or above it; ``reached`` is False when no threshold met the target (then
    ``threshold`` is ``NEVER``, coverage 0 and precision the best seen on ``min_support`` rows or more).
    """

    threshold: float
    precision: float
    coverage: float
    support: int
    reached: bool


def pick_threshold(
    confidences: Sequence[float],
    correct: Sequence[bool],
    *,
    target_precision: float,
    min_support: int = 20,
    prior_errors: float = 0.0,
) -> ThresholdChoice:
    """Lowest threshold t such that precision over {confidence ≥ t} ≥ target, on at least ``min_support`` rows.

    Taking the lowest such t maximises coverage. ``min_support`` keeps a handful of lucky rows at the
    very top from defining the threshold; ``prior_errors`` counts that many imagined errors in every
    cut (hits / (n + prior_errors)), so a short run of lucky rows must be longer to pass: a threshold
    picked on 30 rows then holds on rows it was not picked on. Raises ValueError if the sequences differ
    in length.
    """
    conf = np.asarray(confidences, dtype=np.float64)
    hits = np.asarray(correct, dtype=bool)
    if conf.shape != hits.shape:
        raise ValueError("confidences and correct differ in length")
    if conf.size == 0:
        return ThresholdChoice(
            threshold=NEVER, precision=0.0, coverage=0.0, support=0, reached=False
        )
    order = np.argsort(-conf, kind="stable")
    sorted_conf, sorted_hits = conf[order], hits[order]
    cum_hits = np.cumsum(sorted_hits)
    cum_precision = cum_hits / np.arange(1, conf.size + 1)
    shrunk = cum_hits / (np.arange(1, conf.size + 1) + prior_errors)
    # Only cut between distinct confidences: all rows sharing a confidence are in or out together.
    last_of_tie = np.r_[sorted_conf[1:] != sorted_conf[:-1], True]
    support = np.arange(1, conf.size + 1)
    eligible = last_of_tie & (support >= min(min_support, conf.size))
    ok = eligible & (shrunk >= target_precision)
    if not ok.any():
        best = float(cum_precision[eligible].max()) if eligible.any() else 0.0
        return ThresholdChoice(
            threshold=NEVER, precision=best, coverage=0.0, support=0, reached=False
        )
    cut = int(np.flatnonzero(ok)[-1])
    return ThresholdChoice(
        threshold=float(sorted_conf[cut]),
        precision=float(cum_precision[cut]),
        coverage=float((cut + 1) / conf.size),
        support=cut + 1,
        reached=True,
    )


def pick_class_thresholds(
    predicted: Sequence[str],
    confidences: Sequence[float],
    correct: Sequence[bool],
    *,
    applicable: Sequence[str],
    target_precision: float,
    min_support: int = 20,
    prior_errors: float = 0.0,
) -> dict[str, ThresholdChoice]:
    """One threshold per class in ``applicable``, each picked on the rows suggested as that class.

    Each class gets its own precision/coverage point: a clear class can apply at a low confidence while a
    confusable one needs a high one; a class suggested on fewer than ``min_support`` rows never applies.
    ``coverage`` is relative to the rows suggested as that class.
    """
    pred = np.asarray(predicted, dtype=object)
    conf = np.asarray(confidences, dtype=np.float64)
    hits = np.asarray(correct, dtype=bool)
    out: dict[str, ThresholdChoice] = {}
    for label in applicable:
        mask = pred == label
        if int(mask.sum()) < min_support:  # too few suggestions of the class to trust any threshold
            out[label] = ThresholdChoice(
                threshold=NEVER, precision=0.0, coverage=0.0, support=0, reached=False
            )
            continue
        out[label] = pick_threshold(
            conf[mask].tolist(),
            hits[mask].tolist(),
            target_precision=target_precision,
            min_support=min_support,
            prior_errors=prior_errors,
        )
    return out


def applied_mask(
    predicted: Sequence[str], confidences: Sequence[float], thresholds: dict[str, float]
) -> npt.NDArray[np.bool_]:
    """True where a suggestion reaches its class's threshold (a class without one never applies)."""
    conf = np.asarray(confidences, dtype=np.float64)
    limits = np.asarray([thresholds.get(label, NEVER) for label in predicted], dtype=np.float64)
    return np.asarray(conf >= limits, dtype=bool)
