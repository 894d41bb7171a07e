"""Tests for classifiers.thresholds: picking the auto-apply threshold on out-of-fold predictions."""

from __future__ import annotations

import pytest

from classifiers.thresholds import NEVER, pick_threshold

CASES = [
    # (confidences, correct, target, min_support, threshold, precision, coverage, reached)
    (
        "all correct: lowest confidence",
        [0.9, 0.8, 0.6, 0.55],
        [True] * 4,
        0.95,
        1,
        0.55,
        1.0,
        1.0,
        True,
    ),
    (
        "stop before the first error",
        [0.9, 0.8, 0.7, 0.6],
        [True, True, True, False],
        0.95,
        1,
        0.7,
        1.0,
        0.75,
        True,
    ),
    (
        "an early error averaged out",
        [0.99, 0.98, 0.97, 0.96, 0.5],
        [True, False, True, True, False],
        0.75,
        1,
        0.96,
        0.75,
        0.8,
        True,
    ),
    ("never reached", [0.9, 0.8], [False, True], 0.95, 1, NEVER, 0.5, 0.0, False),
    (
        "ties go together",
        [0.9, 0.9, 0.9, 0.2],
        [True, False, True, True],
        0.9,
        1,
        NEVER,
        0.75,
        0.0,
        False,
    ),
    (
        "min support ignores a lucky top",
        [0.99, 0.8, 0.7, 0.6],
        [True, False, False, True],
        0.95,
        2,
        NEVER,
        0.5,
        0.0,
        False,
    ),
]


@pytest.mark.parametrize(
    (
        "name",
        "conf",
        "correct",
        "target",
        "support",
        "threshold",
        "precision",
        "coverage",
        "reached",
    ),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_pick_threshold(
    name: str,
    conf: list[float],
    correct: list[bool],
    target: float,
    support: int,
    threshold: float,
    precision: float,
    coverage: float,
    reached: bool,
) -> None:
    """The lowest threshold reaching the target precision, or NEVER when none does."""
    choice = pick_threshold(conf, correct, target_precision=target, min_support=support)
    assert choice.threshold == pytest.approx(threshold)
    assert choice.precision == pytest.approx(precision)
    assert choice.coverage == pytest.approx(coverage)
    assert choice.reached is reached


def test_empty_input_never_applies() -> None:
    """No out-of-fold rows: the head never auto-applies."""
    assert pick_threshold([], [], target_precision=0.9).threshold == NEVER


def test_length_mismatch_is_an_error() -> None:
    """Confidences and correctness flags must pair up."""
    with pytest.raises(ValueError):
        pick_threshold([0.5], [True, False], target_precision=0.9)
