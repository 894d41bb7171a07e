"""Triage classifiers: incident/request, category and priority suggestions with calibrated confidence.

Serving API: ``load_model``, ``TriageModel``, ``TriageResult``, ``HeadSuggestion``, ``ModelUnavailable``
(in ``classifiers.triage_model``) and ``ensure_default_model`` (in ``classifiers.default_model``).
"""

from classifiers.default_model import ensure_default_model
from classifiers.triage_model import (
    HeadSuggestion,
    ModelUnavailable,
    TriageModel,
    TriageResult,
    load_model,
)

__all__ = [
    "HeadSuggestion",
    "ModelUnavailable",
    "TriageModel",
    "TriageResult",
    "ensure_default_model",
    "load_model",
]
