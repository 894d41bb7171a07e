"""Proactive models: the Peewee tables of major incidents, calls and published fixes (EDGE, migration 8).

Kept apart from models.py so that this feature's schema is one reviewable unit; like every table,
they are written only by the store and the job modules' store methods, with naive-UTC times.
"""

from __future__ import annotations

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from pipeline.edges.models import BaseModel, Ticket


class MajorIncident(BaseModel):
    """A burst of similar incidents: a candidate until an agent accepts or rejects it."""

    parent_id: int

    parent = ForeignKeyField(Ticket, backref="major_incidents", on_delete="CASCADE", unique=True)
    status = CharField(max_length=16, index=True)  # candidate | accepted | rejected | resolved
    signature = TextField()  # the burst's words, space-separated
    category = CharField(max_length=64, null=True)
    started_at = DateTimeField()  # the first member's creation
    detected_at = DateTimeField()
    decided_at = DateTimeField(null=True)
    decided_by = CharField(max_length=254, null=True)
    suppress_until = DateTimeField(null=True)  # a rejected pattern: not proposed again before
    resolved_at = DateTimeField(null=True)


class MajorMember(BaseModel):
    """A ticket linked to a major incident; `told` once its requester had the known-problem mail."""

    major_id: int
    ticket_id: int

    major = ForeignKeyField(MajorIncident, backref="members", on_delete="CASCADE")
    ticket = ForeignKeyField(Ticket, backref="major_links", on_delete="CASCADE", unique=True)
    linked_at = DateTimeField()
    how = CharField(max_length=16)  # burst | matched
    told = BooleanField(default=False)


class CallRow(BaseModel):
    """A call with a ticket's requester; a cancellation keeps the row (status cancelled)."""

    class Meta:
        table_name = "call"

    ticket_id: int

    ticket = ForeignKeyField(Ticket, backref="calls", on_delete="CASCADE")
    uid = CharField(max_length=254, unique=True)
    sequence = IntegerField(default=0)
    starts_at = DateTimeField()
    minutes = IntegerField()
    location = TextField()
    organiser = CharField(max_length=254)
    status = CharField(max_length=16)  # scheduled | cancelled
    created_at = DateTimeField()
    updated_at = DateTimeField()


class PublishedFix(BaseModel):
    """A resolution note an agent published as a known fix (only the agent's own words)."""

    ticket_id: int

    ticket = ForeignKeyField(Ticket, backref="published_fixes", on_delete="CASCADE", unique=True)
    title = TextField()
    note = TextField()
    words = TextField()  # what the fix is matched on: the ticket's subject and the note
    agent = CharField(max_length=254)
    created_at = DateTimeField(index=True)


PROACTIVE_MODELS = (MajorIncident, MajorMember, CallRow, PublishedFix)
