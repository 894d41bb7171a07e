"""Calls (pure): the #call parser, table-driven, and the iCalendar it builds against RFC 5545."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from pipeline.errors import InvalidAction
from pipeline.records import TicketState
from pipeline.stages.calls import (
    BookedCall,
    CallCancel,
    CallRequest,
    parse_call,
    parse_duration,
    plan_call,
)

KL = "Asia/Kuala_Lumpur"
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)

VALID = [
    (
        "2026-12-03 10:00 30m https://meet.example/abc",
        KL,
        datetime(2026, 12, 3, 2, 0, tzinfo=UTC),
        30,
        "https://meet.example/abc",
    ),
    (
        "2026-12-03 09:15 1h +60 3 1234 5678",
        KL,
        datetime(2026, 12, 3, 1, 15, tzinfo=UTC),
        60,
        "+60 3 1234 5678",
    ),
    (
        "2026-12-03 9:05 1h30m tel:+60312345678",
        "UTC",
        datetime(2026, 12, 3, 9, 5, tzinfo=UTC),
        90,
        "tel:+60312345678",
    ),
    (
        "2026-07-01 10:00 45 https://x.example",
        "Europe/Berlin",
        datetime(2026, 7, 1, 8, 0, tzinfo=UTC),
        45,
        "https://x.example",
    ),
    (
        "2026-01-15 10:00 15min room 4.02",
        "Europe/Berlin",
        datetime(2026, 1, 15, 9, 0, tzinfo=UTC),
        15,
        "room 4.02",
    ),
]


@pytest.mark.parametrize(("argument", "zone", "start", "minutes", "where"), VALID)
def test_valid_calls(argument: str, zone: str, start: datetime, minutes: int, where: str) -> None:
    """A well-formed #call: its start in UTC, its length and its place."""
    call = parse_call(argument, zone)
    assert isinstance(call, CallRequest)
    assert (call.start.astimezone(UTC), call.minutes, call.where) == (start, minutes, where)


INVALID = [
    ("", "incomplete"),
    ("2026-12-03 10:00 30m", "incomplete"),
    ("tomorrow 10:00 30m https://x", "not a date"),
    ("2026-13-03 10:00 30m https://x", "not a date"),
    ("2026-12-03 25:00 30m https://x", "not a date"),
    ("2026-12-03 10:00 thirty https://x", "not a call length"),
    ("2026-12-03 10:00 2m https://x", "5 minutes to 8 hours"),
    ("2026-12-03 10:00 9h https://x", "5 minutes to 8 hours"),
    ("2026-03-29 02:30 30m https://x", "does not exist"),  # Berlin's spring-forward gap
]


@pytest.mark.parametrize(("argument", "problem"), INVALID)
def test_invalid_calls_say_what_is_wrong(argument: str, problem: str) -> None:
    """A malformed #call is refused with a reason."""
    with pytest.raises(InvalidAction, match=problem):
        parse_call(argument, "Europe/Berlin")


def test_cancel_and_durations() -> None:
    """`cancel` (any case) cancels; durations read as minutes."""
    assert isinstance(parse_call("Cancel", KL), CallCancel)
    assert [parse_duration(d) for d in ("30m", "1h", "1h15m", "45", "90min")] == [
        30,
        60,
        75,
        45,
        90,
    ]


def ticket() -> TicketState:
    return TicketState(
        id=1, ref="TKT-000001", subject="Excel macro fails", requester="dan@example.com",
        requester_name="Dan Tan", status="open", tier="L2", priority="P3", kind="incident",
        category="software", breach_suspected=False, needs_review=False, language="en",
        created_at=NOW, first_response_at=None, resolved_at=None, assignee=None,
        last_message_id="<m1@example.com>",
    )  # fmt: skip


def calendar_of(raw: bytes) -> Calendar:
    """Parsed with the library, and checked against RFC 5545's required properties."""
    text = raw.decode()
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))  # 3.1 folding
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    calendar = Calendar.from_ical(raw)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    return calendar


def test_invitation_then_cancellation_keep_the_uid_and_raise_the_sequence() -> None:
    """REQUEST: UID, DTSTAMP (UTC), DTSTART with TZID and a matching VTIMEZONE, ORGANIZER, ATTENDEE
    with RSVP; CANCEL: same UID, SEQUENCE + 1, STATUS:CANCELLED."""
    request = parse_call("2026-12-03 10:00 30m https://meet.example/abc", KL)
    update, call = plan_call(
        ticket(), request, previous=None, number=1, organiser="bob@desk.example",
        zone=KL, domain="tiket.example.org", now=NOW,
    )  # fmt: skip
    [mail] = update.mails
    assert mail.template == "call_invitation" and mail.to == ("dan@example.com",)
    invite = calendar_of(mail.calendar)
    assert invite["METHOD"] == "REQUEST"
    [tz] = invite.walk("VTIMEZONE")
    [event] = invite.walk("VEVENT")
    assert tz["TZID"] == event["DTSTART"].params["TZID"] == KL
    assert event["DTSTART"].dt.astimezone(UTC) == datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    assert event["DTEND"].dt.astimezone(UTC) == datetime(2026, 12, 3, 2, 30, tzinfo=UTC)
    assert event["DTSTAMP"].dt == NOW and event["UID"] == "tkt-000001-call-1@tiket.example.org"
    assert str(event["ORGANIZER"]) == "mailto:bob@desk.example"
    assert event["ATTENDEE"].params["RSVP"] == "TRUE" and "TKT-000001" in event["SUMMARY"]
    assert update.events[0].action == "call_booked"

    cancel, cancelled = plan_call(
        ticket(), CallCancel(), previous=call, number=2, organiser="bob@desk.example",
        zone=KL, domain="tiket.example.org", now=NOW,
    )  # fmt: skip
    [event2] = calendar_of(cancel.mails[0].calendar).walk("VEVENT")
    assert calendar_of(cancel.mails[0].calendar)["METHOD"] == "CANCEL"
    assert event2["UID"] == event["UID"] and int(event2["SEQUENCE"]) == 1
    assert event2["STATUS"] == "CANCELLED" and cancelled.status == "cancelled"


def test_cancel_without_a_booked_call_is_refused() -> None:
    """Nothing booked, nothing to cancel."""
    booked = BookedCall(
        uid="u@x", sequence=1, starts_at=NOW, minutes=30, location="x", organiser="b@x",
        status="cancelled",
    )  # fmt: skip
    for previous in (None, booked):
        with pytest.raises(InvalidAction, match="no booked call"):
            plan_call(
                ticket(), CallCancel(), previous=previous, number=1, organiser="b@x",
                zone=KL, domain="d", now=NOW,
            )  # fmt: skip
