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

DEFAULT_CATEGORIES = (
    "access",
    "email",
    "network",
    "hardware",
    "printing",
    "software",
    "business_apps",
    "storage",
    "security",
)
"""The default model's category keys (names in [triage.categories]); each has its first-diagnosis
templates (templates/<locale>/diagnosis/<category>.*.j2)."""

MAIL_COMMANDS = (
    "resolve",
    "pending",
    "escalate",
    "assign",
    "priority",
    "category",
    "kind",
    "close",
    "major",
    "update",
    "call",
    "solved",
)
"""The #commands agents (and, for #solved, requesters) may put in mail; [tiers.X] mail_commands
restricts them per tier."""
