"""Triage model: the serving API the intake pipeline calls (suggest kind, category and priority for a mail).

``load_model(model_dir)`` returns a ``TriageModel``; ``suggest(subject, body)`` returns a ``TriageResult``
with one ``HeadSuggestion`` per head (always kind, category, priority, in that order), the breach verdict
and the model version. A head absent from the bundle gives ``label=None, confidence=0.0, applied=False``.
A suspected data breach forces priority P1, applied, whatever the priority head says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from classifiers.breach import BreachVerdict, detect_breach_in
from classifiers.cues import kind_vote, read_priority
from classifiers.features import PreparedMail, prepare_mails
from classifiers.labelling import label_category
from classifiers.persistence import ModelUnavailable, read_bundle
from classifiers.priority import PRIORITIES, combine_probabilities
from classifiers.serving import LinearHead, Rows, TfidfServing, kind_shift
from classifiers.thresholds import applied_mask

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
# Default model: a suspected breach is a security incident (kind and category forced like priority).
BREACH_LABELS = {"kind": "incident", "category": "security"}


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


class _Head:
    """A head ready to serve: its linear model (``classifiers.serving.LinearHead``, as wide as the shared
    matrix, zero on the columns it does not read), the classes in serving order and their thresholds."""

    def __init__(
        self, classifier: LinearHead, classes: tuple[str, ...], thresholds: Mapping[str, float]
    ) -> None:
        self.classifier = classifier
        self.classes = classes
        self.thresholds = thresholds
        own = list(classifier.classes_)
        self._order = [own.index(c) for c in classes]

    def probabilities(
        self, x: Rows, shift: npt.NDArray[np.float64] | None = None
    ) -> npt.NDArray[np.float64]:
        """Probabilities with columns in ``classes`` order, from the shared TF-IDF rows ``x``; ``shift``
        (rows x ``classifier.classes_``) is added to the scores first (the kind cue)."""
        return self.classifier.probabilities(x, shift)[:, self._order]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Predicted:
    labels: list[str]
    confidences: list[float]
    applied: list[bool]


class TriageModel:
    """A loaded bundle. Thread-safe for concurrent ``suggest`` calls (prediction does not mutate state)."""

    version: str

    def __init__(
        self,
        bundle: Mapping[str, Any],
        card: Mapping[str, Any],
        *,
        category_merge: Mapping[str, str] | None = None,
    ) -> None:
        self.version = str(bundle["version"])
        self._merge = dict(category_merge or {})
        self.card = dict(card)
        self._vectorizer = TfidfServing(bundle["vectorizer"])
        self._heads = {
            name: _Head(
                LinearHead(head["linear"]),
                classes=tuple(head["classes"]),
                thresholds={str(k): float(v) for k, v in head["thresholds"].items()},
            )
            for name, head in bundle["heads"].items()
        }
        self._priority_mode = str(bundle["priority_mode"])
        self._priority_thresholds = {
            str(k): float(v) for k, v in (bundle.get("priority_thresholds") or {}).items()
        }
        self._priority_cues = bool(bundle.get("priority_cues", False))
        self._kind_cues = bool(bundle.get("kind_cues", False))
        self._category_rules = bool(bundle.get("category_rules", False))
        self._matrix: Mapping[str, Mapping[str, str]] = bundle["matrix"]

    @property
    def thresholds(self) -> dict[str, dict[str, float]]:
        """Auto-apply threshold per class, per served head present in the bundle."""
        out = {
            name: dict(head.thresholds)
            for name, head in self._heads.items()
            if name in SERVED_HEADS
        }
        if self._priority_mode == "matrix":
            out["priority"] = dict(self._priority_thresholds)
        return out

    @property
    def classes(self) -> dict[str, tuple[str, ...]]:
        """The classes each served head can suggest."""
        out = {name: head.classes for name, head in self._heads.items() if name in SERVED_HEADS}
        if self._priority_mode == "matrix":
            out["priority"] = PRIORITIES
        return out

    def predict_heads(
        self, items: Sequence[tuple[str, str]]
    ) -> dict[str, tuple[list[str], list[float]]]:
        """Model output per served head present: (labels, confidences); no breach override."""
        predicted = self._predict(prepare_mails(items))
        return {name: (p.labels, p.confidences) for name, p in predicted.items()}

    def predict_decisions(
        self, items: Sequence[tuple[str, str]]
    ) -> dict[str, tuple[list[str], list[float], list[bool]]]:
        """Per served head present: (labels, confidences, applied); no breach override."""
        predicted = self._predict(prepare_mails(items))
        return {name: (p.labels, p.confidences, p.applied) for name, p in predicted.items()}

    def _predict(
        self, mails: Sequence[PreparedMail], verdicts: Sequence[BreachVerdict] | None = None
    ) -> dict[str, _Predicted]:
        """Each head's decision; with the default model's rules a suspected breach is a P1 security
        incident (kind, category and priority forced, applied; for other models only serving forces P1).
        ``verdicts``: the breach rules' answers, when the caller has them already."""
        x = self._vectorizer.transform([mail.model_text for mail in mails])
        out: dict[str, _Predicted] = {}
        for name in ("kind", "category"):
            if name in self._heads:
                head = self._heads[name]
                shift = None
                if name == "kind" and self._kind_cues:
                    votes = np.asarray([kind_vote(mail.own_text) for mail in mails], dtype=float)
                    shift = kind_shift(votes, tuple(str(c) for c in head.classifier.classes_))
                out[name] = self._decide(
                    head.probabilities(x, shift), head.classes, head.thresholds
                )
        if self._category_rules and "category" in out:
            out["category"] = self._with_rules(out["category"], mails)
        priority = self._priority_probabilities(x)
        if priority is not None:
            out["priority"] = self._decide(*priority)
        if self._priority_cues:
            kinds = out["kind"].labels if "kind" in out else [None] * len(mails)
            out["priority"] = self._with_cues(out.get("priority"), mails, kinds)
        forced = {
            **(BREACH_LABELS if self._category_rules else {}),
            **({"priority": BREACH_PRIORITY} if self._priority_cues else {}),
        }
        if forced:
            if verdicts is None:
                verdicts = [detect_breach_in(mail.own_text) for mail in mails]
            for name, label in forced.items():
                if name in out:
                    out[name] = _forced(out[name], [v.flagged for v in verdicts], label)
        if self._merge and "category" in out:
            merged = [self._merge.get(label, label) for label in out["category"].labels]
            out["category"] = replace(out["category"], labels=merged)
        return out

    @staticmethod
    def _with_rules(learnt: _Predicted, mails: Sequence[PreparedMail]) -> _Predicted:
        """Category applied only where the weak-supervision rules agree with the head; security phrases
        (phishing, stolen, hacked…) make the suggestion security, applied only if the head agrees."""
        labels, confidences, applied = [], [], []
        for row, mail in enumerate(mails):
            body = mail.model_text[len(mail.subject_text) :]
            weak = label_category(mail.subject_text, body).label
            label, confidence = learnt.labels[row], learnt.confidences[row]
            if weak == "security" and label != "security":
                label, confidence = "security", 0.5
            labels.append(label)
            confidences.append(confidence)
            applied.append(learnt.applied[row] and weak == learnt.labels[row])
        return _Predicted(labels=labels, confidences=confidences, applied=applied)

    def _with_cues(
        self,
        learnt: _Predicted | None,
        mails: Sequence[PreparedMail],
        kinds: Sequence[str | None],
    ) -> _Predicted:
        """Priority from the impact/urgency cues, applied when both were read from the text; otherwise the
        learnt head's applied suggestion, else the cues' label with its defaults, not applied.
        Confidence: 0.95 when both cues are explicit, 0.6 with one default, 0.4 with two."""
        labels, confidences, applied = [], [], []
        for row, mail in enumerate(mails):
            cue = read_priority(mail.own_text, kind=kinds[row], matrix=self._matrix)
            explicit = int(cue.impact.explicit) + int(cue.urgency.explicit)
            if explicit < 2 and learnt is not None and learnt.applied[row]:
                labels.append(learnt.labels[row])
                confidences.append(learnt.confidences[row])
                applied.append(True)
                continue
            labels.append(cue.label)
            confidences.append((0.4, 0.6, 0.95)[explicit])
            applied.append(explicit == 2)
        return _Predicted(labels=labels, confidences=confidences, applied=applied)

    def _priority_probabilities(
        self, x: Rows
    ) -> tuple[npt.NDArray[np.float64], tuple[str, ...], Mapping[str, float]] | None:
        if self._priority_mode == "direct":
            head = self._heads["priority"]
            return head.probabilities(x), head.classes, head.thresholds
        if self._priority_mode == "matrix":
            impact, urgency = self._heads["impact"], self._heads["urgency"]
            probs = combine_probabilities(
                impact.probabilities(x),
                impact.classes,
                urgency.probabilities(x),
                urgency.classes,
                self._matrix,
            )
            return probs, PRIORITIES, self._priority_thresholds
        return None

    @staticmethod
    def _decide(
        probs: npt.NDArray[np.float64], classes: Sequence[str], thresholds: Mapping[str, float]
    ) -> _Predicted:
        best = probs.argmax(axis=1)
        labels = [classes[i] for i in best]
        confidences = [float(p) for p in probs[np.arange(len(best)), best]]
        return _Predicted(
            labels=labels,
            confidences=confidences,
            applied=applied_mask(labels, confidences, dict(thresholds)).tolist(),
        )

    def suggest(self, subject: str, body: str) -> TriageResult:
        """Suggestions for one mail."""
        return self.suggest_many([(subject, body)])[0]

    def suggest_many(self, items: Sequence[tuple[str, str]]) -> list[TriageResult]:
        """Suggestions for many (subject, body) pairs, in input order; batching is much faster per mail.

        Each mail is prepared once; the model heads, the priority cues and the breach rules share it.
        """
        if not items:
            return []
        mails = prepare_mails(items)
        verdicts = [detect_breach_in(mail.own_text) for mail in mails]
        predicted = self._predict(mails, verdicts)
        results = []
        for row, verdict in enumerate(verdicts):
            heads = tuple(self._suggestion(name, predicted, row, verdict) for name in SERVED_HEADS)
            results.append(
                TriageResult(
                    heads=heads,
                    breach_suspected=verdict.flagged,
                    breach_reasons=verdict.reasons,
                    model_version=self.version,
                )
            )
        return results

    def _suggestion(
        self,
        name: str,
        predicted: Mapping[str, _Predicted],
        row: int,
        verdict: BreachVerdict,
    ) -> HeadSuggestion:
        if name == "priority" and verdict.flagged:
            return HeadSuggestion(head=name, label=BREACH_PRIORITY, confidence=1.0, applied=True)
        if verdict.flagged and self._category_rules and name in BREACH_LABELS:
            return HeadSuggestion(
                head=name, label=BREACH_LABELS[name], confidence=1.0, applied=True
            )
        if name not in predicted:
            return HeadSuggestion(head=name, label=None, confidence=0.0, applied=False)
        head = predicted[name]
        return HeadSuggestion(
            head=name,
            label=head.labels[row],
            confidence=round(head.confidences[row], 4),
            applied=head.applied[row],
        )


def _forced(head: _Predicted, flagged: Sequence[bool], label: str) -> _Predicted:
    """``head`` with ``label`` applied at confidence 1.0 on the flagged rows."""
    return _Predicted(
        labels=[label if f else x for f, x in zip(flagged, head.labels, strict=True)],
        confidences=[1.0 if f else c for f, c in zip(flagged, head.confidences, strict=True)],
        applied=[True if f else a for f, a in zip(flagged, head.applied, strict=True)],
    )


def load_model(model_dir: Path, *, category_merge: Mapping[str, str] | None = None) -> TriageModel:
    """Load the bundle in ``model_dir``; ``category_merge`` (old key → new key, see
    ``classifiers.taxonomy.category_merges``) reports merged categories under their new key.

    Raises ModelUnavailable if it is missing, corrupt, or was built with other library versions.
    """
    bundle, card = read_bundle(Path(model_dir))
    try:
        return TriageModel(bundle, card, category_merge=category_merge)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelUnavailable(f"{model_dir}: malformed bundle: {exc}") from exc
