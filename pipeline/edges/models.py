"""Models: the Peewee tables (EDGE). Only store.py and migrations.py write them.

Times are stored as naive UTC; store.py converts to and from aware datetimes at its boundary.
"""

from __future__ import annotations

from typing import Any

from peewee import (
    AutoField,
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

database_proxy = DatabaseProxy()


class BaseModel(Model):
    """Every table: bound to the configured database through the proxy."""

    id = AutoField()

    class Meta:
        database = database_proxy


class SchemaVersion(BaseModel):
    """One row per applied migration."""

    id = None  # type: ignore[assignment]  # keyed by version
    version = IntegerField(primary_key=True)
    name = CharField()
    applied_at = DateTimeField()


class Ticket(BaseModel):
    linked_to_id: int | None
    messages: Any
    participants: Any
    suggestions: Any
    events: Any
    outbox: Any
    decisions: Any
    status_changes: Any
    sla_events: Any
    inbound: Any
    followups: Any
    ref = CharField(unique=True, max_length=32)
    subject = TextField()
    requester = CharField(max_length=254, index=True)
    requester_name = CharField(max_length=254, default="")
    status = CharField(max_length=16, index=True)
    kind = CharField(max_length=16, null=True)
    category = CharField(max_length=64, null=True)
    priority = CharField(max_length=4, null=True)
    tier = CharField(max_length=8, default="L1")
    breach_suspected = BooleanField(default=False)
    needs_review = BooleanField(default=False, index=True)
    mailbox = CharField(max_length=64)
    language = CharField(max_length=8, default="en")
    linked_to = ForeignKeyField("self", null=True, backref="followups", on_delete="SET NULL")
    created_at = DateTimeField(index=True)
    updated_at = DateTimeField()
    first_response_at = DateTimeField(null=True)
    resolved_at = DateTimeField(null=True)
    closed_at = DateTimeField(null=True)
    assignee = CharField(max_length=254, null=True)  # migration 3
    resolution_note = TextField(null=True)  # migration 3
    version = IntegerField(default=0)  # migration 7: bumped by every desk action (edit conflicts)


class Participant(BaseModel):
    ticket_id: int
    ticket = ForeignKeyField(Ticket, backref="participants", on_delete="CASCADE")
    address = CharField(max_length=254)
    role = CharField(max_length=16)

    class Meta:
        indexes = ((("ticket", "address"), True),)


class Inbound(BaseModel):
    """Every received mail, its raw bytes and what became of it. Key: mailbox+uidvalidity+uid."""

    ticket_id: int | None
    duplicate_of_id: int | None
    messages: Any
    events: Any

    mailbox = CharField(max_length=64)
    uidvalidity = (
        BigIntegerField()
    )  # IMAP: unsigned 32-bit; over PostgreSQL's integer (migration 4)
    uid = BigIntegerField()  # IMAP: unsigned 32-bit; Maildir: a 60-bit hash (migration 4)
    message_id = CharField(max_length=512, index=True)
    sha256 = CharField(max_length=64, index=True)
    size = IntegerField()  # of the raw bytes, which are kept apart in inbound_raw (migration 11)
    received_at = DateTimeField(index=True)
    state = CharField(max_length=16, index=True)  # pending | done | quarantined
    disposition = CharField(max_length=16, default="pending")
    rule = CharField(max_length=64, null=True)
    ticket = ForeignKeyField(Ticket, null=True, backref="inbound", on_delete="SET NULL")
    duplicate_of = ForeignKeyField("self", null=True, on_delete="SET NULL")
    acknowledged = BooleanField(default=False)
    attempts = IntegerField(default=0)
    on_server = CharField(max_length=16, default="inbox")  # inbox | processed | quarantined
    stage = CharField(max_length=16, null=True)
    reason = TextField(null=True)
    traceback = TextField(null=True)
    processed_at = DateTimeField(null=True)
    sender_key = CharField(max_length=254, null=True)  # migration 6: normalised From address
    body_key = CharField(max_length=32, null=True)  # migration 6: normalised body fingerprint
    arrived_at = DateTimeField(null=True)  # migration 10: the server's arrival time, if it said

    class Meta:
        indexes = ((("mailbox", "uidvalidity", "uid"), True),)


class InboundRaw(BaseModel):
    """The raw bytes of an inbound mail, apart from its row (migration 11): the row is updated as
    the mail moves on (attempts, state, on_server), and SQLite rewrites a whole row, blob and all,
    on every update."""

    class Meta:
        table_name = "inbound_raw"

    id = None  # type: ignore[assignment]  # keyed by the inbound row
    inbound = ForeignKeyField(Inbound, primary_key=True, on_delete="CASCADE")
    raw = BlobField()  # type: ignore[assignment]  # shadows Model.raw(), which tiket never uses


class Message(BaseModel):
    """One entry of a ticket's conversation (an inbound mail, or an agent's or our reply)."""

    ticket_id: int
    inbound_id: int | None
    attachments: Any
    ticket = ForeignKeyField(Ticket, backref="messages", on_delete="CASCADE")
    inbound = ForeignKeyField(Inbound, null=True, backref="messages", on_delete="SET NULL")
    direction = CharField(max_length=8)  # in | out | note
    message_id = CharField(max_length=512, index=True)
    sender = CharField(max_length=254)
    subject = TextField()
    body = TextField()
    created_at = DateTimeField()


class AttachmentRow(BaseModel):
    class Meta:
        table_name = "attachment"

    message_id: int
    message = ForeignKeyField(Message, backref="attachments", on_delete="CASCADE")
    filename = CharField(max_length=255)
    content_type = CharField(max_length=100)
    size = IntegerField()
    sha256 = CharField(max_length=64, index=True)


class SuggestionRow(BaseModel):
    class Meta:
        table_name = "suggestion"

    """A triage head's suggestion for a ticket, kept next to L1's decision."""

    ticket = ForeignKeyField(Ticket, backref="suggestions", on_delete="CASCADE")
    head = CharField(max_length=16)
    label = CharField(max_length=64, null=True)
    confidence = FloatField()
    applied = BooleanField()
    model_version = CharField(max_length=128, null=True)
    created_at = DateTimeField()


class Decision(BaseModel):
    """An agent's label for a head (accepting or correcting the suggestion): training feedback."""

    ticket_id: int

    ticket = ForeignKeyField(Ticket, backref="decisions", on_delete="CASCADE")
    head = CharField(max_length=16)
    label = CharField(max_length=64)
    suggested = CharField(max_length=64, null=True)
    agent = CharField(max_length=254)
    created_at = DateTimeField(index=True)


class AuditRow(BaseModel):
    class Meta:
        table_name = "auditevent"

    ticket_id: int | None
    inbound_id: int | None
    ticket = ForeignKeyField(Ticket, null=True, backref="events", on_delete="CASCADE")
    inbound = ForeignKeyField(Inbound, null=True, backref="events", on_delete="SET NULL")
    action = CharField(max_length=32, index=True)
    actor = CharField(max_length=254)
    detail = TextField(default="")
    created_at = DateTimeField(index=True)


class OutboxRow(BaseModel):
    class Meta:
        table_name = "outbox"

    """A mail to send; its Message-ID is fixed when the row is written, so a resend carries the same id."""

    ticket_id: int | None

    message_id = CharField(max_length=512, unique=True)
    ticket = ForeignKeyField(Ticket, null=True, backref="outbox", on_delete="SET NULL")
    inbound = ForeignKeyField(Inbound, null=True, on_delete="SET NULL")
    template = CharField(max_length=64)
    recipients = TextField()  # a JSON list (comma-separated before migration 6)
    first_recipient = CharField(max_length=254, index=True)
    recipient_key = CharField(max_length=254, default="")  # migration 6: normalised first
    subject = TextField()
    raw = BlobField()  # type: ignore[assignment]  # shadows Model.raw(), which tiket never uses
    status = CharField(max_length=16, index=True)  # pending | sent | failed
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(index=True)
    give_up_at = DateTimeField()
    last_error = TextField(null=True)
    created_at = DateTimeField(index=True)
    sent_at = DateTimeField(null=True)


class StatusChange(BaseModel):
    """Every transition of a ticket's state: the input of the SLA clocks (migration 3)."""

    ticket_id: int

    ticket = ForeignKeyField(Ticket, backref="status_changes", on_delete="CASCADE")
    from_status = CharField(max_length=16)
    to_status = CharField(max_length=16)
    actor = CharField(max_length=254)
    reason = TextField(default="")
    created_at = DateTimeField(index=True)


class SlaEvent(BaseModel):
    """A warning or breach the SLA job acted on, once per ticket, clock and tier (migration 3)."""

    ticket_id: int

    ticket = ForeignKeyField(Ticket, backref="sla_events", on_delete="CASCADE")
    clock = CharField(max_length=16)  # first_response | resolution
    kind = CharField(max_length=8)  # warning | breach
    tier = CharField(max_length=8)
    created_at = DateTimeField(index=True)

    class Meta:
        indexes = ((("ticket", "clock", "kind", "tier"), True),)


class Lease(BaseModel):
    """Who works a mailbox (or the outbox) now: one daemon at a time, taken over on expiry."""

    name = CharField(max_length=128, unique=True)
    holder = CharField(max_length=254)
    expires_at = DateTimeField()


class WebSession(BaseModel):
    """A signed-in agent's browser session (migration 7); only the token's sha256 is stored."""

    class Meta:
        table_name = "web_session"

    token_hash = CharField(max_length=64, unique=True)
    agent = CharField(max_length=254, index=True)
    csrf = CharField(max_length=64)
    via = CharField(max_length=16)  # link | header
    ip = CharField(max_length=64, default="")
    user_agent = CharField(max_length=256, default="")
    created_at = DateTimeField()
    last_seen_at = DateTimeField()
    expires_at = DateTimeField()
    revoked_at = DateTimeField(null=True)


class SignInRequest(BaseModel):
    """One request for a sign-in link (migration 7): rate limits count these; a link for an
    agent has the sha256 of its one-time token (never the token), a stranger's has none."""

    class Meta:
        table_name = "sign_in_request"

    address = CharField(max_length=254, index=True)
    ip = CharField(max_length=64, index=True)
    token_hash = CharField(max_length=64, null=True, unique=True)
    created_at = DateTimeField(index=True)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)


class SavedView(BaseModel):
    """An agent's named queue filter (migration 7)."""

    class Meta:
        table_name = "saved_view"
        indexes = ((("agent", "name"), True),)

    agent = CharField(max_length=254)
    name = CharField(max_length=64)
    query = TextField()  # the queue's query string
    created_at = DateTimeField()


class CannedReply(BaseModel):
    """A reply the desk keeps as a template with {placeholders} (migration 7)."""

    class Meta:
        table_name = "canned_reply"

    name = CharField(max_length=64, unique=True)
    body = TextField()
    updated_by = CharField(max_length=254)
    updated_at = DateTimeField()


ALL_MODELS = (
    SchemaVersion,
    Ticket,
    Participant,
    Inbound,
    InboundRaw,
    Message,
    AttachmentRow,
    SuggestionRow,
    Decision,
    AuditRow,
    OutboxRow,
    StatusChange,
    SlaEvent,
    Lease,
    WebSession,
    SignInRequest,
    SavedView,
    CannedReply,
)
