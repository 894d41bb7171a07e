"""Calls: an agent's `#call` parsed, and the iCalendar invitation or cancellation it sends (pure)

`#call 2026-12-03 10:00 30m https://meet.example/abc` books a call at 10:00 in the desk's time zone
for 30 minutes; `#call cancel` cancels the ticket's booked call. The invitation is an RFC 5545
VCALENDAR (METHOD:REQUEST, or METHOD:CANCEL with the same UID and SEQUENCE + 1) built with the
`icalendar` library, with a VTIMEZONE for the desk's zone so that calendar clients show the right
local time; the requester is the one ATTENDEE, asked to RSVP; the organiser is the agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import InvalidAction
from pipeline.records import AuditEvent, MailIntent, TicketState, TicketUpdate

DURATION = re.compile(r"^(?:(\d{1,2})h)?(?:(\d{1,3})m(?:in)?)?$", re.IGNORECASE)
CALL_HELP = "#call YYYY-MM-DD HH:MM DURATION WHERE (e.g. #call 2026-12-03 10:00 30m https://meet.example/abc) or #call cancel"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRequest:
    """A call to book: start (aware, in the desk's zone), length and where to meet."""

    start: datetime
    minutes: int
    where: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallCancel:
    """`#call cancel`: cancel the ticket's booked call."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallInvite:
    """Everything an invitation or cancellation says (one VEVENT)."""

    uid: str
    sequence: int
    start: datetime  # aware, in the desk's zone
    minutes: int
    where: str
    summary: str
    description: str
    organiser: str
    organiser_name: str
    attendee: str
    attendee_name: str
    cancelled: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BookedCall:
    """A ticket's call as stored: the same UID for its invitation and its cancellation."""

    uid: str
    sequence: int
    starts_at: datetime  # aware UTC
    minutes: int
    location: str
    organiser: str
    status: str  # scheduled | cancelled


def parse_duration(text: str) -> int:
    """'30m', '1h', '1h30m', '45' (minutes) -> minutes; InvalidAction for anything else."""
    value = text.strip().lower()
    if value.isdigit():
        minutes = int(value)
    else:
        found = DURATION.match(value)
        if not found or not any(found.groups()):
            raise InvalidAction(f"not a call length: {text!r} (use 30m, 1h or 1h30m)")
        minutes = int(found.group(1) or 0) * 60 + int(found.group(2) or 0)
    if not 5 <= minutes <= 480:
        raise InvalidAction(f"a call lasts 5 minutes to 8 hours, not {minutes} minutes")
    return minutes


def parse_call(argument: str, zone: str) -> CallRequest | CallCancel:
    """The argument of `#call` (or of the CLI's --at/--minutes/--where, joined) as a request.

    Raises InvalidAction naming what is wrong: a bad date or time, a time that does not exist in
    the desk's zone (a DST gap), a bad length, or no place to meet.
    """
    words = argument.split()
    if [w.lower() for w in words] == ["cancel"]:
        return CallCancel()
    if len(words) < 4:
        raise InvalidAction(f"incomplete call: {CALL_HELP}")
    day_text, time_text, length, where = words[0], words[1], words[2], " ".join(words[3:])
    try:
        day = date.fromisoformat(day_text)
        hour, minute = (int(p) for p in time_text.split(":"))
        local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=_zone(zone))
    except ValueError:
        raise InvalidAction(f"not a date and time: {day_text} {time_text} ({CALL_HELP})")
    if not _exists(local):
        raise InvalidAction(f"{day_text} {time_text} does not exist in {zone} (clock change)")
    if len(where) > 500 or any(ord(c) < 32 for c in where):
        raise InvalidAction("the meeting place must be one short line (a URL or a phone number)")
    return CallRequest(start=local, minutes=parse_duration(length), where=where)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidAction(f"unknown time zone {name!r}")


def _exists(local: datetime) -> bool:
    """False for a wall time skipped by a clock change (it does not survive a UTC round trip)."""
    back = local.astimezone(ZoneInfo("UTC")).astimezone(local.tzinfo)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


def call_uid(ref: str, number: int, domain: str) -> str:
    """The UID of a ticket's n-th call: stable, unique, at our domain (RFC 5545 3.8.4.7)."""
    return f"{ref.lower()}-call-{number}@{domain}"


def build_calendar(invite: CallInvite, now: datetime) -> bytes:
    """The VCALENDAR of an invitation (METHOD:REQUEST) or cancellation (METHOD:CANCEL)."""
    # imported here: icalendar costs 0.2 CPU-s to import, and only a `#call` needs it
    from icalendar import Calendar, Event, Timezone, vCalAddress, vText

    zone = invite.start.tzinfo
    assert zone is not None
    cal = Calendar()
    cal.add("prodid", "-//tiket//service desk calls//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "CANCEL" if invite.cancelled else "REQUEST")
    tzid = str(getattr(zone, "key", "UTC"))
    cal.add_component(Timezone.from_tzid(tzid))
    event = Event()
    event.add("uid", invite.uid)
    event.add("sequence", invite.sequence)
    event.add("dtstamp", now.astimezone(ZoneInfo("UTC")))
    event.add("dtstart", invite.start)
    event.add("dtend", invite.start + timedelta(minutes=invite.minutes))
    event.add("summary", invite.summary)
    event.add("description", invite.description)
    event.add("location", invite.where)
    event.add("status", "CANCELLED" if invite.cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    organiser = vCalAddress(f"mailto:{invite.organiser}")
    organiser.params["cn"] = vText(invite.organiser_name or invite.organiser)
    event.add("organizer", organiser)
    attendee = vCalAddress(f"mailto:{invite.attendee}")
    attendee.params["cn"] = vText(invite.attendee_name or invite.attendee)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("NEEDS-ACTION")
    attendee.params["rsvp"] = vText("TRUE")
    event.add("attendee", attendee, encode=False)
    cal.add_component(event)
    return bytes(cal.to_ical())


def plan_call(
    ticket: TicketState,
    request: CallRequest | CallCancel,
    *,
    previous: BookedCall | None,
    number: int,
    organiser: str,
    zone: str,
    domain: str,
    now: datetime,
) -> tuple[TicketUpdate, BookedCall]:
    """The invitation (or cancellation) mail to the requester, its audit event and the call.

    A new call while one is booked replaces it: same UID, SEQUENCE + 1 (RFC 5546 3.2.2). Raises
    InvalidAction for a cancellation with no booked call.
    """
    if isinstance(request, CallCancel):
        if previous is None or previous.status != "scheduled":
            raise InvalidAction(f"{ticket.ref} has no booked call to cancel")
        call = BookedCall(
            uid=previous.uid,
            sequence=previous.sequence + 1,
            starts_at=previous.starts_at,
            minutes=previous.minutes,
            location=previous.location,
            organiser=previous.organiser,
            status="cancelled",
        )
    else:
        rebook = previous is not None and previous.status == "scheduled"
        call = BookedCall(
            uid=previous.uid if rebook and previous else call_uid(ticket.ref, number, domain),
            sequence=previous.sequence + 1 if rebook and previous else 0,
            starts_at=request.start.astimezone(ZoneInfo("UTC")),
            minutes=request.minutes,
            location=request.where,
            organiser=organiser,
            status="scheduled",
        )
    start = call.starts_at.astimezone(_zone(zone))
    cancelled = call.status == "cancelled"
    invite = CallInvite(
        uid=call.uid,
        sequence=call.sequence,
        start=start,
        minutes=call.minutes,
        where=call.location,
        summary=f"[{ticket.ref}] Call with the service desk: {ticket.subject[:120]}",
        description=f"Ticket {ticket.ref}: {ticket.subject[:300]}\nWhere: {call.location}",
        organiser=call.organiser,
        organiser_name=call.organiser,
        attendee=ticket.requester,
        attendee_name=ticket.requester_name,
        cancelled=cancelled,
    )
    refs = (ticket.last_message_id,) if ticket.last_message_id else ()
    mail = MailIntent(
        template="call_cancelled" if cancelled else "call_invitation",
        to=(ticket.requester,),
        purpose=f"call-{call.sequence}",
        context=(
            ("subject", ticket.subject),
            ("requester_name", ticket.requester_name),
            ("start", start.strftime("%Y-%m-%d %H:%M")),
            ("zone", zone),
            ("minutes", call.minutes),
            ("where", call.location),
            ("organiser", call.organiser),
        ),
        in_reply_to=ticket.last_message_id,
        references=refs,
        locale=ticket.language,
        calendar=build_calendar(invite, now),
    )
    what = "call_cancelled" if cancelled else "call_booked"
    detail = (
        f"{start:%Y-%m-%d %H:%M} {zone}, {call.minutes} min, {call.location} "
        f"(uid {call.uid}, sequence {call.sequence})"
    )
    update = TicketUpdate(
        ticket_id=ticket.id,
        ref=ticket.ref,
        actor=organiser,
        events=(AuditEvent(action=what, actor=organiser, detail=detail),),
        mails=(mail,),
        note=("note", f"{'Call cancelled' if cancelled else 'Call booked'}: {detail}"),
    )
    return update, call
