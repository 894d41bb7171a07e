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


def test_each_class_gets_its_own_threshold() -> None:
    """A clear class applies from a low confidence, a confusable one only from a high one, a class
    without enough suggestions never (NEVER)."""
    from classifiers.thresholds import pick_class_thresholds

    predicted = ["a"] * 40 + ["b"] * 40 + ["c"] * 5
    confidences = [0.5 + i / 100 for i in range(40)] * 2 + [0.99] * 5
    correct = [True] * 40 + [i >= 20 for i in range(40)] + [True] * 5
    choices = pick_class_thresholds(
        predicted,
        confidences,
        correct,
        applicable=["a", "b", "c"],
        target_precision=0.95,
        min_support=10,
    )
    assert choices["a"].threshold == 0.5
    assert choices["b"].threshold == pytest.approx(0.69)  # 20 hits and 1 miss above it: 0.952
    assert choices["c"].threshold == NEVER


def test_prior_errors_need_a_longer_run_of_hits() -> None:
    """With one imagined error, 10 lucky rows no longer reach 0.95; 19 hits do (19/20)."""
    ten = pick_threshold(
        [0.9] * 10, [True] * 10, target_precision=0.95, min_support=5, prior_errors=1
    )
    nineteen = pick_threshold(
        [0.9] * 19, [True] * 19, target_precision=0.95, min_support=5, prior_errors=1
    )
    assert not ten.reached and nineteen.reached


def test_an_export_without_a_group_column_gets_coverage(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 12's root cause: rows without a group each counted as their own data source, so the
    luckiest row set the threshold (coverage 0). An easy one-source export must now auto-apply kind."""
    import csv

    from classifiers.datasets import read_tickets
    from classifiers.training import TrainingOptions, train_heads

    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["subject", "body", "type"])
        for n in range(300):
            writer.writerow(
                [
                    f"printer {n} broken",
                    f"The printer on floor {n % 9} shows error and will not print",
                    "incident",
                ]
            )
            writer.writerow(
                [
                    f"new laptop {n}",
                    f"Please order a new laptop and monitor for starter {n % 7}",
                    "request",
                ]
            )
    result = train_heads(read_tickets(path), TrainingOptions(select=False))
    report = result.heads["kind"].report
    assert report["cv"]["accuracy"] >= 0.97
    assert report["threshold"]["coverage"] >= 0.9
    assert report["threshold"]["checked_coverage"] >= 0.9
