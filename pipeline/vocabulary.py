"""Vocabulary: the words tiket's records, rules and interfaces share, each defined once (pure)"""

from __future__ import annotations

PRIORITIES = ("P1", "P2", "P3", "P4")
"""Impact x urgency, most urgent first."""

TIERS = ("L1", "L2", "L3")
"""Support tiers, in escalation order."""

KINDS = ("incident", "request")
"""What a ticket is: something broken, or something wanted."""

HEADS = ("kind", "category", "priority")
"""The triage model's suggestions that a ticket records."""

STATES = ("new", "open", "in_progress", "pending", "resolved", "closed")
"""A ticket's lifecycle states."""

OPEN_STATES = ("new", "open", "in_progress", "pending")
"""States in which the SLA clocks can run and agents act."""

CLOSED_STATES = ("resolved", "closed")
"""States a ticket ends in (a reply reopens a resolved one)."""

CLOCKS = ("first_response", "resolution")
"""The two SLA clocks of every ticket."""
