"""Triage model: the serving API the intake pipeline calls (suggest kind, category and priority for a mail).

``load_model(model_dir)`` returns a ``TriageModel``; ``suggest(subject, body)`` returns a ``TriageResult``
with one ``HeadSuggestion`` per head (always kind, category, priority, in that order), the breach verdict
and the model version. A head absent from the bundle gives ``label=None, confidence=0.0, applied=False``.
A suspected data breach forces priority P1, applied, whatever the priority head says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.pipeline import Pipeline

from classifiers.breach import BreachVerdict, detect_breach
from classifiers.features import prepare_texts
from classifiers.persistence import ModelUnavailable, read_bundle
from classifiers.priority import PRIORITIES, combine_probabilities

__all__ = [
    "SERVED_HEADS",
    "HeadSuggestion",
    "ModelUnavailable",
    "TriageModel",
    "TriageResult",
    "load_model",
]

SERVED_HEADS: tuple[str, ...] = ("kind", "category", "priority")
BREACH_PRIORITY = "P1"


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadSuggestion:
    """One head's suggestion. ``confidence`` is 1.0 when the breach rule forced the label."""

    head: str  # "kind" | "category" | "priority"
    label: str | None  # None when the head is not in the bundle
    confidence: float  # calibrated probability of `label`, 0..1
    applied: bool  # confidence >= the head's threshold (or forced by the breach rule)


@dataclass(frozen=True, slots=True, kw_only=True)
class TriageResult:
    """Suggestions for one mail, the breach verdict and the version of the model that made them."""

    heads: tuple[HeadSuggestion, ...]  # always in the order kind, category, priority
    breach_suspected: bool
    breach_reasons: tuple[str, ...]
    model_version: str  # e.g. "default-<created_at>-<hash8>"

    def head(self, name: str) -> HeadSuggestion:
        """The suggestion of head ``name``. Raises KeyError for an unknown head."""
        for suggestion in self.heads:
            if suggestion.head == name:
                return suggestion
        raise KeyError(name)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Head:
    pipeline: Pipeline
    classes: tuple[str, ...]
    threshold: float

    def probabilities(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Probabilities with columns in ``classes`` order."""
        raw = self.pipeline.predict_proba(list(texts))
        order = [list(self.pipeline.classes_).index(c) for c in self.classes]
        return np.asarray(raw, dtype=np.float64)[:, order]


class TriageModel:
    """A loaded bundle. Thread-safe for concurrent ``suggest`` calls (prediction does not mutate state)."""

    version: str

    def __init__(self, bundle: Mapping[str, Any], card: Mapping[str, Any]) -> None:
        self.version = str(bundle["version"])
        self.card = dict(card)
        self._heads = {
            name: _Head(
                pipeline=head["pipeline"],
                classes=tuple(head["classes"]),
                threshold=float(head["threshold"]),
            )
            for name, head in bundle["heads"].items()
        }
        self._priority_mode = str(bundle["priority_mode"])
        self._priority_threshold = float(bundle.get("priority_threshold") or 1.01)
        self._matrix: Mapping[str, Mapping[str, str]] = bundle["matrix"]

    @property
    def thresholds(self) -> dict[str, float]:
        """Auto-apply threshold per served head present in the bundle."""
        out = {name: head.threshold for name, head in self._heads.items() if name in SERVED_HEADS}
        if self._priority_mode == "matrix":
            out["priority"] = self._priority_threshold
        return out

    def predict_heads(
        self, items: Sequence[tuple[str, str]]
    ) -> dict[str, tuple[list[str], list[float]]]:
        """Raw model output per served head present: (labels, confidences); no breach override."""
        texts = prepare_texts(items)
        out: dict[str, tuple[list[str], list[float]]] = {}
        for name in ("kind", "category"):
            if name in self._heads:
                out[name] = self._decide(
                    self._heads[name].probabilities(texts), self._heads[name].classes
                )
        priority = self._priority_probabilities(texts)
        if priority is not None:
            out["priority"] = self._decide(*priority)
        return out

    def _priority_probabilities(
        self, texts: Sequence[str]
    ) -> tuple[npt.NDArray[np.float64], tuple[str, ...]] | None:
        if self._priority_mode == "direct":
            head = self._heads["priority"]
            return head.probabilities(texts), head.classes
        if self._priority_mode == "matrix":
            impact, urgency = self._heads["impact"], self._heads["urgency"]
            probs = combine_probabilities(
                impact.probabilities(texts),
                impact.classes,
                urgency.probabilities(texts),
                urgency.classes,
                self._matrix,
            )
            return probs, PRIORITIES
        return None

    @staticmethod
    def _decide(
        probs: npt.NDArray[np.float64], classes: Sequence[str]
    ) -> tuple[list[str], list[float]]:
        best = probs.argmax(axis=1)
        return [classes[i] for i in best], [float(p) for p in probs[np.arange(len(best)), best]]

    def suggest(self, subject: str, body: str) -> TriageResult:
        """Suggestions for one mail."""
        return self.suggest_many([(subject, body)])[0]

    def suggest_many(self, items: Sequence[tuple[str, str]]) -> list[TriageResult]:
        """Suggestions for many (subject, body) pairs, in input order; batching is much faster per mail."""
        if not items:
            return []
        predicted = self.predict_heads(items)
        thresholds = self.thresholds
        results = []
        for row, (subject, body) in enumerate(items):
            verdict = detect_breach(subject, body)
            heads = tuple(
                self._suggestion(name, predicted, thresholds, row, verdict) for name in SERVED_HEADS
            )
            results.append(
                TriageResult(
                    heads=heads,
                    breach_suspected=verdict.flagged,
                    breach_reasons=verdict.reasons,
                    model_version=self.version,
                )
            )
        return results

    @staticmethod
    def _suggestion(
        name: str,
        predicted: Mapping[str, tuple[list[str], list[float]]],
        thresholds: Mapping[str, float],
        row: int,
        verdict: BreachVerdict,
    ) -> HeadSuggestion:
        if name == "priority" and verdict.flagged:
            return HeadSuggestion(head=name, label=BREACH_PRIORITY, confidence=1.0, applied=True)
        if name not in predicted:
            return HeadSuggestion(head=name, label=None, confidence=0.0, applied=False)
        labels, confidences = predicted[name]
        confidence = confidences[row]
        return HeadSuggestion(
            head=name,
            label=labels[row],
            confidence=round(confidence, 4),
            applied=confidence >= thresholds[name],
        )


def load_model(model_dir: Path) -> TriageModel:
    """Load the bundle in ``model_dir``.

    Raises ModelUnavailable if it is missing, corrupt, or was built with other library versions.
    """
    bundle, card = read_bundle(Path(model_dir))
    try:
        return TriageModel(bundle, card)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelUnavailable(f"{model_dir}: malformed bundle: {exc}") from exc
