"""Priority: the desk rule impact × urgency → P1-P4, and turning impact/urgency probabilities into priority ones (pure)

The matrix comes from ``[triage.priority_matrix]`` (impact → {urgency → "P1".."P4"}); a plain dict works too.
Pure module: no I/O, no clock, no environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_MATRIX",
    "LEVELS",
    "PRIORITIES",
    "PriorityMatrix",
    "combine_probabilities",
    "priority_for",
    "validate_matrix",
]

PRIORITIES: tuple[str, ...] = ("P1", "P2", "P3", "P4")
LEVELS: tuple[str, ...] = ("high", "medium", "low")
PriorityMatrix = Mapping[str, Mapping[str, str]]
DEFAULT_MATRIX: PriorityMatrix = {
    "high": {"high": "P1", "medium": "P2", "low": "P3"},
    "medium": {"high": "P2", "medium": "P3", "low": "P4"},
    "low": {"high": "P3", "medium": "P4", "low": "P4"},
}


def validate_matrix(matrix: PriorityMatrix) -> dict[str, dict[str, str]]:
    """Return a plain, complete copy of ``matrix``; raises ValueError naming the missing or bad cell."""
    checked: dict[str, dict[str, str]] = {}
    for impact in LEVELS:
        row = matrix.get(impact)
        if not isinstance(row, Mapping):
            raise ValueError(f"priority_matrix: missing impact {impact!r}")
        checked[impact] = {}
        for urgency in LEVELS:
            value = str(row.get(urgency, "")).upper()
            if value not in PRIORITIES:
                raise ValueError(
                    f"priority_matrix.{impact}.{urgency}: {row.get(urgency)!r} is not one of {PRIORITIES}"
                )
            checked[impact][urgency] = value
    return checked


def priority_for(impact: str, urgency: str, matrix: PriorityMatrix = DEFAULT_MATRIX) -> str:
    """The priority the desk rule gives to ``impact`` × ``urgency``. Raises KeyError if not a level."""
    return str(matrix[impact.lower()][urgency.lower()]).upper()


def combine_probabilities(
    impact_probs: npt.NDArray[np.float64],
    impact_classes: Sequence[str],
    urgency_probs: npt.NDArray[np.float64],
    urgency_classes: Sequence[str],
    matrix: PriorityMatrix = DEFAULT_MATRIX,
) -> npt.NDArray[np.float64]:
    """P(priority) per row, columns in ``PRIORITIES`` order, from independent impact and urgency heads.

    P(p) = Σ over (i, u) with matrix[i][u] = p of P(i) · P(u). Rows of the inputs sum to 1, so do the
    outputs. Treating the two heads as independent is an approximation; it keeps the rule exact.
    """
    out = np.zeros((impact_probs.shape[0], len(PRIORITIES)), dtype=np.float64)
    for i, impact in enumerate(impact_classes):
        for u, urgency in enumerate(urgency_classes):
            column = PRIORITIES.index(priority_for(impact, urgency, matrix))
            out[:, column] += impact_probs[:, i] * urgency_probs[:, u]
    return out
