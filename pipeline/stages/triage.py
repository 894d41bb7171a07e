"""Triage policy: a model's answer -> the suggestions recorded and applied; the data-breach fast path (pure)

Pure: the model itself is loaded at the edge (intake.py) and passed in as plain results.
"""

from __future__ import annotations

from typing import Any

from pipeline.records import Suggestion, TriageOutcome


def outcome_from_result(result: Any) -> TriageOutcome:
    """Turn a classifiers TriageResult into the outcome recorded on the ticket.

    A suspected data breach forces priority P1 (applied) whatever the priority head said.
    """
    suggestions = []
    for head in result.heads:
        suggestion = Suggestion(
            head=head.head,
            label=head.label,
            confidence=float(head.confidence),
            applied=bool(head.applied and head.label is not None),
        )
        if head.head == "priority" and result.breach_suspected:
            suggestion = Suggestion(head="priority", label="P1", confidence=1.0, applied=True)
        suggestions.append(suggestion)
    return TriageOutcome(
        suggestions=tuple(suggestions),
        breach_suspected=bool(result.breach_suspected),
        breach_reasons=tuple(result.breach_reasons),
        model_version=str(result.model_version),
    )


def degraded_outcome(reason: str) -> TriageOutcome:
    """No model answered: the ticket is recorded and waits for L1 review."""
    return TriageOutcome(degraded=reason)
