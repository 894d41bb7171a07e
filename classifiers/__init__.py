"""Triage classifiers: incident/request, category and priority suggestions with calibrated confidence.

Serving API: ``load_model``, ``TriageModel``, ``TriageResult``, ``HeadSuggestion``, ``ModelUnavailable``
(in ``classifiers.triage_model``) and ``ensure_default_model`` (in ``classifiers.default_model``).
They are loaded on first access (PEP 562), so importing a light module such as
``classifiers.breach`` does not import scikit-learn.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_HOMES = {
    "ensure_default_model": "classifiers.default_model",
    "HeadSuggestion": "classifiers.triage_model",
    "ModelUnavailable": "classifiers.triage_model",
    "TriageModel": "classifiers.triage_model",
    "TriageResult": "classifiers.triage_model",
    "load_model": "classifiers.triage_model",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'classifiers' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
