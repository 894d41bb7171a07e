"""Records: the frozen dataclasses that cross stage boundaries (no Peewee row or email.Message does) (pure)"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskIdentity:
    """Who our mails are from and how their Message-IDs look."""

    name: str
    address: str
    message_id_domain: str
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True, kw_only=True)
class RawMail:
    """One mail as fetched from a mailbox, before anything else happens to it."""

    mailbox: str
    uidvalidity: int
    uid: int
    raw: bytes
    internal_date: datetime | None = None
    full_size: int | None = None  # set when only the head of an oversized mail was fetched


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredMail:
    """A received mail as committed in the database, ready for processing."""

    id: int
    mailbox: str
    uidvalidity: int
    uid: int
    raw: bytes
    attempts: int
    received_at: datetime
    arrived_at: datetime | None = None  # when the mail server took it (None: it did not say)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """A MIME part kept as a file; `filename` is already made safe."""

    filename: str
    content_type: str
    payload: bytes
    inline: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedMail:
    """What tiket understood of a mail. Addresses are lower-cased; dates are aware UTC."""

    message_id: str
    sender: str
    sender_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    reply_to: tuple[str, ...]
    subject: str
    date: datetime
    text: str
    html_only: bool
    attachments: tuple[Attachment, ...]
    dropped_attachments: tuple[str, ...]
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]
    content_type: str
    content_language: str
    return_path: str | None
    defects: tuple[str, ...]
    size: int
    from_header: str = ""  # the From header as sent (RFC 2047 words still encoded)
    body_key: str = ""  # stages.addresses.body_key(text): the flood and loop fingerprint
    text_truncated: bool = False  # text was cut at the intake limit before any pattern ran

    def header(self, name: str) -> str | None:
        """The first value of a header (name case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderHistory:
    """What the store knows about a sender that screening needs (looked up before screening)."""

    acks_last_hour: int = 0  # to this sender's normalised address
    desk_acks_last_hour: int = 0  # to anyone
    same_body_recent: int = 0  # earlier mails of this sender with the same normalised body


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """Screening's answer. `accept` False: record only. `acknowledge` False: no automatic reply."""

    accept: bool
    acknowledge: bool
    rule: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketInfo:
    """The facts about an existing ticket that reply matching and planning need."""

    id: int
    ref: str
    status: str
    requester: str
    participants: frozenset[str]
    subject: str
    priority: str | None = None
    tier: str = "L1"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyMatch:
    """Which ticket a mail belongs to; `ticket` None means a new ticket."""

    ticket: TicketInfo | None
    via: str | None = None
    ignored_tag: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Suggestion:
    """One triage head's suggestion as recorded on a ticket."""

    head: str
    label: str | None
    confidence: float
    applied: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TriageOutcome:
    """Triage's answer for one mail; `degraded` says why no model answered, if so."""

    suggestions: tuple[Suggestion, ...] = ()
    breach_suspected: bool = False
    breach_reasons: tuple[str, ...] = ()
    model_version: str | None = None
    degraded: str | None = None

    def applied(self, head: str) -> str | None:
        """The label of an applied head, or None."""
        for s in self.suggestions:
            if s.head == head and s.applied:
                return s.label
        return None

    @property
    def needs_review(self) -> bool:
        """True when some head was not applied (or no model answered): L1 must look."""
        return (
            self.degraded is not None
            or not self.suggestions
            or any(not s.applied for s in self.suggestions)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One line of a ticket's or mail's audit trail."""

    action: str
    actor: str = "tiket"
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MailIntent:
    """A mail to be rendered from a template once the ticket's reference is known."""

    template: str
    to: tuple[str, ...]
    purpose: str
    context: tuple[tuple[str, object], ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    locale: str = "en"
    calendar: bytes = b""  # an iCalendar object sent as a text/calendar part (a call invitation)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingMail:
    """A rendered mail, ready for the outbox; its Message-ID is fixed here and never changes."""

    message_id: str
    template: str
    to: tuple[str, ...]
    subject: str
    raw: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class DueMail:
    """An outbox row due for delivery, as the outbox job needs it."""

    id: int
    message_id: str
    template: str
    recipients: tuple[str, ...]
    raw: bytes
    attempts: int
    give_up_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewTicket:
    """A ticket to create."""

    subject: str
    requester: str
    requester_name: str
    kind: str | None
    category: str | None
    priority: str | None
    breach_suspected: bool
    needs_review: bool
    language: str
    linked_to: int | None = None
    participants: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IntakePlan:
    """Everything one inbound mail changes, applied by the store in one transaction."""

    disposition: str  # ticket_created | reply_added | screened | duplicate
    rule: str | None = None
    new_ticket: NewTicket | None = None
    existing: TicketInfo | None = None
    reopen: bool = False
    store_message: bool = True
    triage: TriageOutcome | None = None
    events: tuple[AuditEvent, ...] = ()
    mails: tuple[MailIntent, ...] = ()
    add_participants: tuple[str, ...] = ()
    update: TicketUpdate | None = None  # an agent's reply: commands and the answer to send


@dataclass(frozen=True, slots=True, kw_only=True)
class IntakeResult:
    """What happened to one inbound mail (for logs and the run summary)."""

    inbound_id: int
    disposition: str
    ticket_ref: str | None = None
    rule: str | None = None
    acknowledged: bool = False
    error: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketState:
    """A ticket as the lifecycle planners see it (loaded by the store, never a Peewee row)."""

    id: int
    ref: str
    subject: str
    requester: str
    requester_name: str
    status: str
    tier: str
    priority: str | None
    kind: str | None
    category: str | None
    breach_suspected: bool
    needs_review: bool
    language: str
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    assignee: str | None
    changes: tuple[tuple[datetime, str, str], ...] = ()
    sla_done: frozenset[tuple[str, str, str]] = frozenset()
    last_message_id: str | None = None
    tier_since: datetime | None = None
    version: int = 0  # bumped by every desk action: an edit made on an older version conflicts


@dataclass(frozen=True, slots=True, kw_only=True)
class SimilarTicket:
    """A resolved ticket like this one, with how it was solved."""

    ref: str
    subject: str
    score: float
    resolution_note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Dossier:
    """What an escalation mail or the review screen shows besides the ticket itself."""

    suggestions: tuple[Suggestion, ...] = ()
    conversation: tuple[tuple[str, str, str, str], ...] = ()  # (at, direction, from, body)
    similar: tuple[SimilarTicket, ...] = ()
    decided: frozenset[str] = frozenset()  # heads an agent has labelled (a correction or accept)


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketUpdate:
    """Everything one agent action, mail command, review decision or SLA step changes."""

    ticket_id: int
    ref: str
    actor: str
    fields: tuple[tuple[str, object], ...] = ()
    status: tuple[str, str, str] | None = None  # (from, to, reason)
    events: tuple[AuditEvent, ...] = ()
    mails: tuple[MailIntent, ...] = ()
    decisions: tuple[tuple[str, str, str | None], ...] = ()  # (head, label, suggested)
    sla_event: tuple[str, str, str] | None = None  # (clock, kind, tier): at most once
    note: tuple[str, str] | None = None  # (direction, text) added to the conversation
    expected_version: int | None = None  # refuse (Conflict) unless the ticket is still at it
    merge_into: int | None = None  # move this ticket's messages and participants there
    merge_events: tuple[AuditEvent, ...] = ()  # audited on the ticket merged into
    effects: tuple[tuple[str, str], ...] = ()  # (name, argument): work beyond this ticket, done
    # by pipeline/jobs/proactive.py once the update is applied (#major, #update, #call, --publish)
