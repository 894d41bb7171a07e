"""Training: one shared vectorizer, grouped out-of-fold scores per head, per-class thresholds, final fit.

Every text is prepared and tokenized once; one TF-IDF matrix feeds every head (each reads the columns
its stop words allow). For each head whose label column exists, every class is learnt, however rare
(a rare class is suggested with its honest, low confidence); ``min_class_examples`` only governs which
classes may be *applied*. Out-of-fold scores come from GroupKFold over the ``group`` column (paraphrase
families and duplicate texts stay on one side); a softmax temperature fitted on them turns scores into
probabilities. Each applicable class gets its own threshold: the lowest confidence at which that class's
suggestions reach ``target_precision``, picked on the out-of-fold rows of every fold but the last and
checked on the last fold's rows, which took no part in picking (the model card reports both).

Priority: when impact and urgency heads can both be trained, priority is derived from them through the
matrix and a ``priority`` label column is ignored; otherwise the priority label is learnt directly.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GroupKFold, KFold

from classifiers.cues import kind_vote
from classifiers.datasets import TicketData, source_of
from classifiers.estimators import (
    CANDIDATES,
    HEAD_STOP_WORDS,
    RANDOM_STATE,
    Builder,
    Candidate,
    TemperedLinear,
    build_vectorizer,
    fit_temperature,
    head_columns,
    softmax,
)
from classifiers.evaluation import head_metrics
from classifiers.features import prepare_mails
from classifiers.priority import PRIORITIES, PriorityMatrix, combine_probabilities, validate_matrix
from classifiers.serving import KIND_CUE_WEIGHT, kind_shift
from classifiers.thresholds import NEVER, ThresholdChoice, applied_mask, pick_class_thresholds

__all__ = [
    "FittedHead",
    "Progress",
    "TrainingOptions",
    "KIND_CUE_WEIGHT",
    "TrainingResult",
    "kind_shift",
    "train_heads",
]

Progress = Callable[[str], None]
HEAD_ORDER: tuple[str, ...] = ("kind", "category", "priority", "impact", "urgency")
SELECT_ROWS = 30_000
PRIOR_ERRORS = 1.0  # imagined errors per threshold cut (see thresholds.pick_threshold)


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
    n_splits: int = 4
    # Try every candidate and keep the best out-of-fold macro-F1 (`tiket train --select`); otherwise the
    # first (three summed views: measured at or above a plain class-balanced LinearSVC on every export).
    select: bool | None = False
    candidates: Mapping[str, tuple[Candidate, ...]] = field(default_factory=lambda: CANDIDATES)
    # Add the fault-vs-ask cue of the mail's own words (classifiers.cues.kind_vote) to the kind head's
    # scores, in training (so thresholds see it) and serving alike. On for the default model.
    kind_cues: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FittedHead:
    """A trained head: its classifier, the matrix columns it reads, classes, per-class thresholds, report."""

    name: str
    classifier: TemperedLinear
    columns: npt.NDArray[np.intp]
    classes: tuple[str, ...]
    thresholds: Mapping[str, float]
    report: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingResult:
    """The shared vectorizer, trained heads, priority mode ("direct", "matrix", "absent"), skipped heads."""

    vectorizer: TfidfVectorizer
    heads: Mapping[str, FittedHead]
    priority_mode: str
    priority_thresholds: Mapping[str, float] | None
    priority_report: dict[str, Any] | None
    skipped: Mapping[str, str]
    seconds: float


def _fold_ids(groups: npt.NDArray[np.str_], n_splits: int) -> npt.NDArray[np.intp]:
    """Fold number per row: GroupKFold when there are enough groups, else shuffled KFold (tiny data)."""
    folds = np.zeros(groups.size, dtype=np.intp)
    if len(set(groups.tolist())) >= n_splits * 2:
        splits = GroupKFold(n_splits=n_splits).split(groups, groups, groups)
    else:
        splits = KFold(n_splits=n_splits, shuffle=True, random_state=RANDOM_STATE).split(groups)
    for number, (_, test) in enumerate(splits):
        folds[test] = number
    return folds


def _fit(
    builder: Builder,
    x: csr_matrix,
    y: npt.NDArray[np.str_],
    weights: npt.NDArray[np.float64],
) -> TemperedLinear:
    return builder().fit(x, y, sample_weight=weights)


def _out_of_fold_scores(
    builder: Builder,
    x: csr_matrix,
    y: npt.NDArray[np.str_],
    weights: npt.NDArray[np.float64],
    folds: npt.NDArray[np.intp],
    classes: tuple[str, ...],
    step: Callable[[str], None],
) -> npt.NDArray[np.float64]:
    """Decision scores per row from a model that did not see the row's group; a class absent from a
    training fold gets a score well below every other."""
    scores = np.full((y.size, len(classes)), np.nan)
    for number in sorted(set(folds.tolist())):
        step(f"fold {number + 1}/{len(set(folds.tolist()))}")
        test = folds == number
        train = ~test
        if len(set(y[train].tolist())) < 2:
            continue
        fitted = _fit(builder, x[train], y[train], weights[train])
        part = fitted.decision_function(x[test])
        columns = [classes.index(str(c)) for c in fitted.classes_]
        block = np.full((part.shape[0], len(classes)), part.min() - 10.0)
        block[:, columns] = part
        scores[test] = block
    out: npt.NDArray[np.float64] = np.nan_to_num(scores, nan=0.0)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class _Evaluation:
    thresholds: dict[str, float]
    metrics: dict[str, Any]


def _threshold_report(
    choices: Mapping[str, ThresholdChoice],
    check: Mapping[str, tuple[int, float | None]],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, choice in choices.items():
        rows, precision = check[label]
        out[label] = {
            "value": round(choice.threshold, 4),
            "picked_precision": round(choice.precision, 4),
            "picked_coverage": round(choice.coverage, 4),
            "checked_rows_applied": rows,
            "checked_precision": None if precision is None else round(precision, 4),
            "reached_target": choice.reached,
        }
    return out


def _source_limits(
    y: npt.NDArray[np.str_],
    pred: npt.NDArray[np.str_],
    conf: npt.NDArray[np.float64],
    sources: npt.NDArray[np.str_],
    applicable: Sequence[str],
    target: float,
) -> dict[str, float]:
    """Per class, the highest of the thresholds each data source needs on its own (sources labelled with
    that class and with enough suggestions of it): an easy synthetic source must not buy coverage that a
    harder, more realistic one does not support."""
    limits: dict[str, float] = {}
    names = sorted(set(sources.tolist()))
    if len(names) < 2:
        return limits
    for name in names:
        mask = sources == name
        present = set(y[mask].tolist())
        labels = [label for label in applicable if label in present]
        part = pick_class_thresholds(
            pred[mask].tolist(),
            conf[mask].tolist(),
            (pred[mask] == y[mask]).tolist(),
            applicable=labels,
            target_precision=target,
            min_support=_min_support(int(mask.sum())),
            prior_errors=PRIOR_ERRORS,
        )
        for label, choice in part.items():
            if int(((pred == label) & mask).sum()) < _min_support(int(mask.sum())):
                continue  # too few suggestions of this class in this source to judge it there
            limits[label] = max(limits.get(label, 0.0), choice.threshold)
    return limits


def _min_support(rows: int) -> int:
    """A class threshold must be backed by at least 20 suggestions or 0.2 % of the rows."""
    return max(20, rows // 500)


def _evaluate(
    y: npt.NDArray[np.str_],
    probs: npt.NDArray[np.float64],
    classes: tuple[str, ...],
    applicable: Sequence[str],
    folds: npt.NDArray[np.intp],
    sources: npt.NDArray[np.str_],
    target: float,
) -> _Evaluation:
    """Per-class thresholds picked on every fold but the last, checked on the last; metrics of both."""
    pred = np.asarray(classes, dtype=str)[probs.argmax(axis=1)]
    conf = probs.max(axis=1)
    correct = pred == y
    check = folds == folds.max()
    pick = ~check if check.any() and (~check).any() else np.ones_like(check)
    choices = pick_class_thresholds(
        pred[pick].tolist(),
        conf[pick].tolist(),
        correct[pick].tolist(),
        applicable=applicable,
        target_precision=target,
        min_support=_min_support(int(pick.sum())),
        prior_errors=PRIOR_ERRORS,
    )
    limits = _source_limits(y[pick], pred[pick], conf[pick], sources[pick], applicable, target)
    thresholds = {
        label: max(choice.threshold, limits.get(label, 0.0)) for label, choice in choices.items()
    }
    checked: dict[str, tuple[int, float | None]] = {}
    applied = applied_mask(pred.tolist(), conf.tolist(), thresholds)
    for label in choices:
        mask = check & applied & (pred == label)
        checked[label] = (int(mask.sum()), float(correct[mask].mean()) if mask.any() else None)
    metrics = head_metrics(y.tolist(), pred.tolist(), conf.tolist(), thresholds)
    metrics["threshold_pick"] = _split_summary(correct, applied, pick)
    metrics["threshold_check"] = _split_summary(correct, applied, check)
    metrics["class_thresholds"] = _threshold_report(choices, checked)
    return _Evaluation(thresholds=thresholds, metrics=metrics)


def _split_summary(
    correct: npt.NDArray[np.bool_], applied: npt.NDArray[np.bool_], rows: npt.NDArray[np.bool_]
) -> dict[str, Any]:
    hit = applied & rows
    return {
        "rows": int(rows.sum()),
        "applied_precision": round(float(correct[hit].mean()), 4) if hit.any() else None,
        "coverage": round(float(hit.sum() / max(1, rows.sum())), 4),
    }


@dataclass(slots=True)
class _Ticker:
    """Plain-text progress: "[ 3/14] kind: svc_balanced fold 2/4"."""

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


def _count_steps(heads: Sequence[str], options: TrainingOptions, select: bool) -> int:
    per_head = [(len(options.candidates[h]) if select else 1) * options.n_splits + 1 for h in heads]
    return sum(per_head) + 2


@dataclass(frozen=True, slots=True, kw_only=True)
class _Inputs:
    x: csr_matrix
    kind_votes: npt.NDArray[np.float64] | None
    vocabulary: Mapping[str, int]
    folds: npt.NDArray[np.intp]
    sources: npt.NDArray[np.str_]
    weights: npt.NDArray[np.float64]


def _train_head(
    head: str,
    labels: Sequence[str | None],
    inputs: _Inputs,
    options: TrainingOptions,
    tick: _Ticker,
    select: bool,
) -> tuple[FittedHead, npt.NDArray[np.float64]]:
    index = np.array([i for i, label in enumerate(labels) if label is not None], dtype=np.intp)
    y = np.array([labels[i] for i in index], dtype=str)
    counts = Counter(y.tolist())
    classes = tuple(sorted(counts))
    applicable = [label for label in classes if counts[label] >= options.min_class_examples]
    stop = HEAD_STOP_WORDS.get(head, frozenset())
    column_sets = {
        True: head_columns(inputs.vocabulary, stop),
        False: np.arange(len(inputs.vocabulary), dtype=np.intp),
    }
    # Summed views (first candidate): single words and all n-grams, plus for every head but kind the
    # view without its stop words. Kind's stop words are dropped for generalising across sources (the
    # default model); in one desk's own export its function words are signal (measured: with that view
    # Endava kind macro-F1 fell below the plain baseline, without it it is at or above).
    unigrams = head_columns(inputs.vocabulary, frozenset(), unigrams=True)
    views = (
        (unigrams, column_sets[False])
        if head == "kind"
        else (column_sets[True], unigrams, column_sets[False])
    )
    rows_x = inputs.x[index]
    w, folds, sources = inputs.weights[index], inputs.folds[index], inputs.sources[index]
    truth = np.array([classes.index(label) for label in y], dtype=np.intp)
    candidates = options.candidates[head] if select else options.candidates[head][:1]
    tried: dict[str, dict[str, float]] = {}
    best: tuple[float, Candidate, float, _Evaluation, npt.NDArray[np.float64]] | None = None
    for candidate in candidates:

        def step(message: str, label: str = f"{head}: {candidate.name}") -> None:
            tick(f"{label} {message}")

        x = rows_x[:, column_sets[candidate.stop_words]]
        build = _with_views(candidate, views)
        scores = _out_of_fold_scores(build, x, y, w, folds, classes, step)
        if head == "kind" and inputs.kind_votes is not None:
            scores = scores + kind_shift(inputs.kind_votes[index], classes)
        temperature = fit_temperature(scores, truth)
        probs = softmax(scores, temperature)
        evaluation = _evaluate(
            y, probs, classes, applicable, folds, sources, options.target_precision
        )
        macro = float(evaluation.metrics["macro_f1"])
        tried[candidate.name] = {"accuracy": evaluation.metrics["accuracy"], "macro_f1": macro}
        if best is None or macro > best[0]:
            best = (macro, candidate, temperature, evaluation, probs)
    assert best is not None  # candidates is never empty
    _, chosen, temperature, evaluation, probs = best
    columns = column_sets[chosen.stop_words]
    tick(f"{head}: final fit ({chosen.name}, {y.size} rows)")
    classifier = _fit(_with_views(chosen, views), rows_x[:, columns], y, w)
    classifier.temperature = temperature
    report = {
        "estimator": chosen.name,
        "candidates": tried,
        "rows": int(y.size),
        "features": int(columns.size),
        "temperature": round(temperature, 4),
        "class_counts": dict(sorted(counts.items())),
        "not_applied_classes": {
            label: f"{counts[label]} examples < min_class_examples {options.min_class_examples}"
            for label in classes
            if label not in applicable
        },
        "cv": {"splitter": "GroupKFold", "n_splits": options.n_splits, **evaluation.metrics},
        "threshold": _head_threshold_summary(evaluation),
    }
    fitted = FittedHead(
        name=head,
        classifier=classifier,
        columns=columns,
        classes=classes,
        thresholds=evaluation.thresholds,
        report=report,
    )
    oof = np.full((inputs.x.shape[0], len(classes)), np.nan)
    oof[index] = probs
    return fitted, oof


def _with_views(candidate: Candidate, views: tuple[npt.NDArray[np.intp], ...]) -> Builder:
    """The candidate's builder, given the head's column views when it sums models over them."""
    if not candidate.views:
        return candidate.build

    def build() -> TemperedLinear:
        estimator = candidate.build()
        estimator.views = views
        return estimator

    return build


def _head_threshold_summary(evaluation: _Evaluation) -> dict[str, Any]:
    """Head-level view of the per-class thresholds (what `tiket train` prints)."""
    pick, check = evaluation.metrics["threshold_pick"], evaluation.metrics["threshold_check"]
    reached = any(value < NEVER for value in evaluation.thresholds.values())
    return {
        "per_class": {k: round(v, 4) for k, v in evaluation.thresholds.items()},
        "precision": pick["applied_precision"] or 0.0,
        "coverage": pick["coverage"],
        "checked_precision": check["applied_precision"],
        "checked_coverage": check["coverage"],
        "reached_target": reached,
        "note": ""
        if reached
        else "target precision not reached by any class: head never auto-applies",
    }


def _matrix_priority(
    data: TicketData,
    impact: FittedHead,
    urgency: FittedHead,
    oof: Mapping[str, npt.NDArray[np.float64]],
    inputs: _Inputs,
    options: TrainingOptions,
) -> tuple[dict[str, float], dict[str, Any]]:
    both = ~np.isnan(oof["impact"][:, 0]) & ~np.isnan(oof["urgency"][:, 0])
    probs = combine_probabilities(
        oof["impact"][both], impact.classes, oof["urgency"][both], urgency.classes, options.matrix
    )
    impacts = np.asarray(data.labels["impact"], dtype=object)[both]
    urgencies = np.asarray(data.labels["urgency"], dtype=object)[both]
    y = np.array(
        [options.matrix[str(i)][str(u)] for i, u in zip(impacts, urgencies, strict=True)], dtype=str
    )
    counts = Counter(y.tolist())
    applicable = [p for p in PRIORITIES if counts[p] >= options.min_class_examples]
    evaluation = _evaluate(
        y,
        probs,
        PRIORITIES,
        applicable,
        inputs.folds[both],
        inputs.sources[both],
        options.target_precision,
    )
    report = {
        "estimator": "impact x urgency matrix",
        "rows": int(y.size),
        "cv": evaluation.metrics,
        "threshold": _head_threshold_summary(evaluation),
        "matrix": {k: dict(v) for k, v in options.matrix.items()},
    }
    return evaluation.thresholds, report


def train_heads(
    data: TicketData, options: TrainingOptions, *, progress: Progress | None = None
) -> TrainingResult:
    """Train every head the data has labels for. Raises ValueError if no head could be trained."""
    started = time.perf_counter()
    heads = _heads_to_train(data, options)
    select = options.select if options.select is not None else len(data) <= SELECT_ROWS
    tick = _Ticker(total=_count_steps(heads, options, select), emit=progress)
    tick(f"preparing {len(data)} texts")
    mails = prepare_mails(data.pairs())
    tick("shared TF-IDF vectorizer")
    vectorizer = build_vectorizer()
    groups = np.asarray(data.groups, dtype=str)
    votes = [kind_vote(mail.own_text) for mail in mails] if options.kind_cues else None
    inputs = _Inputs(
        x=vectorizer.fit_transform([mail.model_text for mail in mails]).tocsr(),
        kind_votes=None if votes is None else np.asarray(votes, dtype=np.float64),
        vocabulary=vectorizer.vocabulary_,
        folds=_fold_ids(groups, options.n_splits),
        sources=np.asarray([source_of(group) for group in groups], dtype=str),
        weights=np.asarray(data.weights, dtype=np.float64),
    )
    fitted: dict[str, FittedHead] = {}
    oof: dict[str, npt.NDArray[np.float64]] = {}
    skipped: dict[str, str] = {}
    use_matrix = _can_train(data, "impact", options) and _can_train(data, "urgency", options)
    for head in heads:
        if head == "priority" and use_matrix:
            skipped[head] = "impact and urgency are labelled: priority comes from the matrix"
            continue
        labels = data.labels[head]
        if len({label for label in labels if label is not None}) < 2:
            skipped[head] = "fewer than 2 classes"
            continue
        fitted[head], oof[head] = _train_head(head, labels, inputs, options, tick, select)
    if not fitted:
        raise ValueError("no head could be trained: no label column with 2+ classes")
    mode, thresholds, report = "absent", None, None
    if "impact" in fitted and "urgency" in fitted:
        mode = "matrix"
        thresholds, report = _matrix_priority(
            data, fitted["impact"], fitted["urgency"], oof, inputs, options
        )
    elif "priority" in fitted:
        mode = "direct"
    return TrainingResult(
        vectorizer=vectorizer,
        heads=fitted,
        priority_mode=mode,
        priority_thresholds=thresholds,
        priority_report=report,
        skipped=skipped,
        seconds=time.perf_counter() - started,
    )


def _can_train(data: TicketData, head: str, options: TrainingOptions) -> bool:
    if head not in data.labels:
        return False
    counts = Counter(label for label in data.labels[head] if label is not None)
    return sum(1 for n in counts.values() if n >= options.min_class_examples) >= 2
