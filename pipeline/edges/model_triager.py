"""Model triager (EDGE): loads the classifiers bundle from disk and answers intake's triage step.

A missing or broken model degrades: every ticket is recorded and queued for L1 review, a warning
is logged once, and each ticket's audit trail says why. The data-breach rules need no model and
run even then.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from classifiers.taxonomy import category_merges, read_taxonomy
from pipeline.records import Suggestion, TriageOutcome
from pipeline.settings import Settings
from pipeline.stages.triage import degraded_outcome, outcome_from_result

log = logging.getLogger(__name__)


def model_triager_for(settings: Settings) -> ModelTriager:
    """The triager the [triage] settings describe."""
    triage = settings.section("triage")
    options = {
        "target_precision": float(triage["target_precision"]),
        "min_class_examples": int(triage["min_class_examples"]),
        "matrix": {k: dict(v) for k, v in triage["priority_matrix"].items()},
    }
    return ModelTriager(
        model_dir_for(settings),
        build_default=bool(triage["build_default"]),
        options=options,
        category_merge=category_merges(read_taxonomy(triage.get("categories") or {})),
    )


def model_dir_for(settings: Settings) -> Path:
    """The configured model folder, or {data_dir}/model."""
    configured = settings.section("triage")["model_dir"]
    return Path(configured) if configured else settings.data_dir / "model"


class ModelTriager:
    """Lazily loads the model on first use; builds the default bundle when configured to."""

    def __init__(
        self,
        model_dir: Path,
        *,
        build_default: bool,
        progress: bool = True,
        options: Mapping[str, Any] | None = None,
        category_merge: Mapping[str, str] | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.category_merge = dict(category_merge or {})
        self.build_default = build_default
        self.progress = progress
        self.options = dict(options or {})
        self._model: Any = None
        self._failure: str | None = None

    @property
    def version(self) -> str | None:
        """The loaded model's version, or None."""
        return getattr(self._model, "version", None)

    @property
    def failure(self) -> str | None:
        """Why the model could not be loaded, or None."""
        return self._failure

    def load(self) -> str | None:
        """Load (or build) the model now; returns the failure reason, or None when it loaded."""
        if self._model is not None or self._failure is not None:
            return self._failure
        try:
            from classifiers import ensure_default_model, load_model

            if self.build_default:
                ensure_default_model(self.model_dir, progress=self.progress, **self.options)
            self._model = load_model(self.model_dir, category_merge=self.category_merge)
        except Exception as exc:  # isolation point: any model failure degrades to L1 review
            self._failure = f"model unavailable: {type(exc).__name__}: {exc}"[:300]
            log.warning("triage degraded, tickets go to L1 review: %s", self._failure)
        return self._failure

    def suggest_many(self, items: Sequence[tuple[str, str]]) -> list[TriageOutcome]:
        """One outcome per (subject, body); degraded outcomes when the model is unavailable."""
        failure = self.load()
        if failure is not None:
            return [_breach_only(subject, body, failure) for subject, body in items]
        results = self._model.suggest_many(list(items))
        return [outcome_from_result(r) for r in results]


def _breach_only(subject: str, body: str, reason: str) -> TriageOutcome:
    """Without a model the breach rules still run, so a breach is never missed for lack of one."""
    try:
        from classifiers.breach import detect_breach
    except ImportError:
        return degraded_outcome(reason)
    verdict = detect_breach(subject, body)
    if not verdict.flagged:
        return degraded_outcome(reason)
    return TriageOutcome(
        suggestions=(Suggestion(head="priority", label="P1", confidence=1.0, applied=True),),
        breach_suspected=True,
        breach_reasons=verdict.reasons,
        degraded=reason,
    )
