"""Training: grouped cross-validation per head, candidate choice, auto-apply thresholds, final fit.

For each head whose label column exists: rows with an empty label are skipped, classes with fewer than
``min_class_examples`` rows are dropped, out-of-fold probabilities are computed with GroupKFold over the
``group`` column (paraphrase families stay on one side), the candidate with the best out-of-fold macro-F1
is kept, the auto-apply threshold is picked on its out-of-fold confidences, and the pipeline is refitted
on all rows with their sample weights.

Priority: when impact and urgency heads can both be trained, priority is derived from them through the
matrix (its threshold is picked on the combined out-of-fold probabilities) and a ``priority`` label
column is ignored; otherwise the priority label is learnt directly.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline

from classifiers.datasets import TicketData
from classifiers.estimators import CANDIDATES, RANDOM_STATE, Builder
from classifiers.evaluation import head_metrics
from classifiers.features import prepare_texts
from classifiers.priority import PRIORITIES, PriorityMatrix, combine_probabilities, validate_matrix
from classifiers.thresholds import ThresholdChoice, pick_threshold

__all__ = ["FittedHead", "Progress", "TrainingOptions", "TrainingResult", "train_heads"]

Progress = Callable[[str], None]
HEAD_ORDER: tuple[str, ...] = ("kind", "category", "priority", "impact", "urgency")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingOptions:
    """Knobs of one training run (from ``[triage]`` config or defaults)."""

    target_precision: float = 0.95
    min_class_examples: int = 30
    matrix: PriorityMatrix = field(
        default_factory=lambda: validate_matrix(
            {
                "high": {"high": "P1", "medium": "P2", "low": "P3"},
                "medium": {"high": "P2", "medium": "P3", "low": "P4"},
                "low": {"high": "P3", "medium": "P4", "low": "P4"},
            }
        )
    )
    n_splits: int = 3
    select: bool = False  # try every candidate (slower) instead of the default one per head
    candidates: Mapping[str, tuple[tuple[str, Builder], ...]] = field(
        default_factory=lambda: CANDIDATES
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FittedHead:
    """A trained head: its fitted pipeline, classes, threshold and cross-validated report."""

    name: str
    pipeline: Pipeline
    classes: tuple[str, ...]
    threshold: ThresholdChoice
    report: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingResult:
    """All trained heads, the priority mode ("direct", "matrix" or "absent") and skipped heads with why."""

    heads: Mapping[str, FittedHead]
    priority_mode: str
    priority_threshold: ThresholdChoice | None
    priority_report: dict[str, Any] | None
    skipped: Mapping[str, str]
    seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class _HeadRows:
    index: npt.NDArray[np.intp]
    labels: npt.NDArray[np.str_]
    dropped: dict[str, int]
    counts: dict[str, int]


def _select_rows(labels: Sequence[str | None], min_examples: int) -> _HeadRows:
    counts = Counter(label for label in labels if label is not None)
    kept = {label for label, n in counts.items() if n >= min_examples}
    index = np.array([i for i, label in enumerate(labels) if label in kept], dtype=np.intp)
    return _HeadRows(
        index=index,
        labels=np.array([labels[i] for i in index], dtype=str),
        dropped={label: n for label, n in sorted(counts.items()) if label not in kept},
        counts={label: n for label, n in sorted(counts.items()) if label in kept},
    )


def _folds(
    y: npt.NDArray[np.str_], groups: npt.NDArray[np.str_], n_splits: int
) -> list[tuple[Any, Any]]:
    """GroupKFold when there are enough groups, else stratified folds (tiny data sets)."""
    if len(set(groups.tolist())) >= n_splits * 2:
        return list(GroupKFold(n_splits=n_splits).split(y, y, groups))
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=RANDOM_STATE)
    return list(splitter.split(y, y))


def _fit(
    pipeline: Pipeline,
    texts: npt.NDArray[Any],
    y: npt.NDArray[np.str_],
    weights: npt.NDArray[np.float64],
) -> Pipeline:
    if np.all(weights == 1.0):
        return pipeline.fit(texts, y)
    return pipeline.fit(texts, y, clf__sample_weight=weights)


def _out_of_fold(
    builder: Builder,
    texts: npt.NDArray[Any],
    y: npt.NDArray[np.str_],
    weights: npt.NDArray[np.float64],
    folds: list[tuple[Any, Any]],
    classes: tuple[str, ...],
    step: Callable[[str], None],
) -> npt.NDArray[np.float64]:
    probs = np.zeros((y.size, len(classes)), dtype=np.float64)
    for number, (train, test) in enumerate(folds, start=1):
        step(f"fold {number}/{len(folds)}")
        fitted = _fit(builder(), texts[train], y[train], weights[train])
        columns = [classes.index(str(c)) for c in fitted.classes_]
        probs[np.ix_(test, columns)] = fitted.predict_proba(texts[test])
    return probs


def _min_support(rows: int) -> int:
    """A threshold must be backed by at least 50 rows or 1 % of them, whichever is more: fewer lucky
    top-confidence rows gave thresholds that did not hold on held-out data (priority, in the benchmark)."""
    return max(50, rows // 100)


def _summarise(
    y: npt.NDArray[np.str_],
    probs: npt.NDArray[np.float64],
    classes: tuple[str, ...],
    target: float,
    sources: npt.NDArray[np.str_] | None = None,
) -> tuple[ThresholdChoice, dict[str, Any]]:
    """Threshold and metrics on out-of-fold predictions.

    With several data sources the threshold must reach the target on each of them (the highest of the
    per-source thresholds): an easy synthetic source must not buy coverage that a harder, more realistic
    one does not support. Precision and coverage are then those of the pooled rows at that threshold.
    """
    pred = np.asarray(classes, dtype=str)[probs.argmax(axis=1)]
    conf = probs.max(axis=1)
    correct = pred == y
    choice = pick_threshold(
        conf.tolist(),
        correct.tolist(),
        target_precision=target,
        min_support=_min_support(conf.size),
    )
    per_source: dict[str, dict[str, Any]] = {}
    if sources is not None and len(set(sources.tolist())) > 1:
        for name in sorted(set(sources.tolist())):
            mask = sources == name
            present = sorted(set(y[mask].tolist()))
            note = ""
            if len(present) < len(classes):
                # A source labelled with only some classes (ATA: incidents only) cannot say whether a
                # suggestion of another class is right, so its rule judges only suggestions of the classes it
                # has (for a one-class source that precision is 1 by construction: no constraint). Its rows
                # suggested as another class still count, as errors, in the pooled precision above.
                mask = mask & np.isin(pred, present)
                note = f"labels only {', '.join(present)}: precision of those suggestions only"
                if not mask.any():
                    per_source[name] = {
                        "rows": int((sources == name).sum()),
                        "note": note + " (none made)",
                    }
                    continue
            part = pick_threshold(
                conf[mask].tolist(),
                correct[mask].tolist(),
                target_precision=target,
                min_support=_min_support(int(mask.sum())),
            )
            per_source[name] = _threshold_dict(part) | {"rows": int((sources == name).sum())}
            if note:
                per_source[name]["note"] = note
            if part.threshold > choice.threshold:
                applied = conf >= part.threshold
                choice = ThresholdChoice(
                    threshold=part.threshold,
                    precision=float(correct[applied].mean()) if applied.any() else 0.0,
                    coverage=float(applied.mean()),
                    support=int(applied.sum()),
                    reached=part.reached,
                )
    metrics = head_metrics(y.tolist(), pred.tolist(), conf.tolist(), choice.threshold)
    if per_source:
        metrics["threshold_per_source"] = per_source
    return choice, metrics


@dataclass(slots=True)
class _Ticker:
    """Plain-text progress: "[ 3/14] kind: logistic fold 2/3"."""

    total: int
    emit: Progress | None
    done: int = 0

    def __call__(self, message: str) -> None:
        self.done += 1
        if self.emit is not None:
            width = len(str(self.total))
            self.emit(f"[{self.done:>{width}}/{self.total}] {message}")


def _heads_to_train(data: TicketData, options: TrainingOptions) -> list[str]:
    present = [head for head in HEAD_ORDER if head in data.labels]
    return [head for head in present if head in options.candidates]


def _count_steps(heads: Sequence[str], options: TrainingOptions) -> int:
    per_head = [
        (len(options.candidates[h]) if options.select else 1) * options.n_splits + 1 for h in heads
    ]
    return sum(per_head) + 1


def _train_head(
    head: str,
    rows: _HeadRows,
    texts: npt.NDArray[Any],
    groups: npt.NDArray[np.str_],
    weights: npt.NDArray[np.float64],
    options: TrainingOptions,
    tick: _Ticker,
) -> tuple[FittedHead, npt.NDArray[np.float64]]:
    x, y, g, w = texts[rows.index], rows.labels, groups[rows.index], weights[rows.index]
    sources = np.asarray([group.split(":", 1)[0] for group in g], dtype=str)
    classes = tuple(sorted(rows.counts))
    folds = _folds(y, g, options.n_splits)
    candidates = options.candidates[head] if options.select else options.candidates[head][:1]
    tried: dict[str, dict[str, float]] = {}
    best: tuple[float, str, Builder, npt.NDArray[np.float64]] | None = None
    for name, builder in candidates:
        label = f"{head}: {name}"

        def step(message: str, label: str = label) -> None:
            tick(f"{label} {message}")

        probs = _out_of_fold(builder, x, y, w, folds, classes, step)
        _, metrics = _summarise(y, probs, classes, options.target_precision)
        tried[name] = {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}
        if best is None or metrics["macro_f1"] > best[0]:
            best = (metrics["macro_f1"], name, builder, probs)
    assert best is not None  # candidates is never empty
    _, name, builder, probs = best
    choice, metrics = _summarise(y, probs, classes, options.target_precision, sources)
    tick(f"{head}: final fit ({name}, {y.size} rows)")
    pipeline = _fit(clone(builder()), x, y, w)
    report = {
        "estimator": name,
        "candidates": tried,
        "rows": int(y.size),
        "class_counts": rows.counts,
        "dropped_classes": rows.dropped,
        "cv": {
            "splitter": type(folds and GroupKFold(options.n_splits)).__name__,
            "n_splits": options.n_splits,
            **metrics,
        },
        "threshold": _threshold_dict(choice),
    }
    fitted = FittedHead(
        name=head, pipeline=pipeline, classes=classes, threshold=choice, report=report
    )
    oof = np.full((texts.shape[0], len(classes)), np.nan)
    oof[rows.index] = probs
    return fitted, oof


def _threshold_dict(choice: ThresholdChoice) -> dict[str, Any]:
    return {
        "value": round(choice.threshold, 4),
        "precision": round(choice.precision, 4),
        "coverage": round(choice.coverage, 4),
        "reached_target": choice.reached,
        "note": "" if choice.reached else "target precision not reached: head never auto-applies",
    }


def _matrix_priority(
    data: TicketData,
    impact: FittedHead,
    urgency: FittedHead,
    oof: Mapping[str, npt.NDArray[np.float64]],
    options: TrainingOptions,
) -> tuple[ThresholdChoice, dict[str, Any]]:
    both = ~np.isnan(oof["impact"][:, 0]) & ~np.isnan(oof["urgency"][:, 0])
    probs = combine_probabilities(
        oof["impact"][both], impact.classes, oof["urgency"][both], urgency.classes, options.matrix
    )
    impacts = np.asarray(data.labels["impact"], dtype=object)[both]
    urgencies = np.asarray(data.labels["urgency"], dtype=object)[both]
    y = np.array(
        [options.matrix[str(i)][str(u)] for i, u in zip(impacts, urgencies, strict=True)], dtype=str
    )
    choice, metrics = _summarise(y, probs, PRIORITIES, options.target_precision)
    report = {
        "estimator": "impact x urgency matrix",
        "rows": int(y.size),
        "cv": metrics,
        "threshold": _threshold_dict(choice),
        "matrix": {k: dict(v) for k, v in options.matrix.items()},
    }
    return choice, report


def train_heads(
    data: TicketData, options: TrainingOptions, *, progress: Progress | None = None
) -> TrainingResult:
    """Train every head the data has labels for. Raises ValueError if no head could be trained."""
    started = time.perf_counter()
    heads = _heads_to_train(data, options)
    tick = _Ticker(total=_count_steps(heads, options), emit=progress)
    tick(f"preparing {len(data)} texts")
    texts = np.asarray(prepare_texts(data.pairs()), dtype=object)
    groups = np.asarray(data.groups, dtype=str)
    weights = np.asarray(data.weights, dtype=np.float64)
    fitted: dict[str, FittedHead] = {}
    oof: dict[str, npt.NDArray[np.float64]] = {}
    skipped: dict[str, str] = {}
    use_matrix = _can_train(data, "impact", options) and _can_train(data, "urgency", options)
    for head in heads:
        if head == "priority" and use_matrix:
            skipped[head] = "impact and urgency are labelled: priority comes from the matrix"
            continue
        rows = _select_rows(data.labels[head], options.min_class_examples)
        if len(rows.counts) < 2:
            skipped[head] = f"fewer than 2 classes with >= {options.min_class_examples} rows"
            continue
        fitted[head], oof[head] = _train_head(head, rows, texts, groups, weights, options, tick)
    if not fitted:
        raise ValueError("no head could be trained: no label column with 2+ classes of enough rows")
    mode, choice, report = "absent", None, None
    if "impact" in fitted and "urgency" in fitted:
        mode = "matrix"
        choice, report = _matrix_priority(data, fitted["impact"], fitted["urgency"], oof, options)
    elif "priority" in fitted:
        mode = "direct"
    return TrainingResult(
        heads=fitted,
        priority_mode=mode,
        priority_threshold=choice,
        priority_report=report,
        skipped=skipped,
        seconds=time.perf_counter() - started,
    )


def _can_train(data: TicketData, head: str, options: TrainingOptions) -> bool:
    if head not in data.labels:
        return False
    return len(_select_rows(data.labels[head], options.min_class_examples).counts) >= 2
