"""Triage classifiers: incident/request, category and priority suggestions with calibrated confidence.

Serving API: ``load_model``, ``TriageModel``, ``TriageResult``, ``HeadSuggestion``, ``ModelUnavailable``
(in ``classifiers.triage_model``) and ``ensure_default_model`` (in ``classifiers.default_model``).
They are imported on first use, so that the pure modules (``features``, ``breach``, ``cues``) load
without scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {"ensure_default_model": "classifiers.default_model"} | {
    name: "classifiers.triage_model" for name in __all__ if name != "ensure_default_model"
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'classifiers' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
