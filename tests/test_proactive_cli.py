"""The CLI's proactive actions on a Maildir desk: `tickets call`, `tickets resolve --publish`,
`tickets show` with calls."""

from __future__ import annotations

import email
import mailbox
import os
import time
from collections.abc import Sequence
from email import policy
from pathlib import Path

import pytest
from icalendar import Calendar

from pipeline.app import Tiket
from pipeline.cli import main
from pipeline.edges import proactive_models as p
from tests.test_proactive_e2e import SureModel, user_mail
from tests.tiket_fixtures import test_settings


def write_maildir(mails: Sequence[bytes], path: Path) -> None:
    box = mailbox.Maildir(str(path), create=True)
    for raw in mails:
        box.add(raw)


def outbox(tmp_path: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(f.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for f in sorted((tmp_path / "outbox").glob("*.eml"), key=lambda f: f.stat().st_mtime_ns)
    ]


def test_cli_call_then_cancel_and_show(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """`tiket tickets call` mails an invitation, `--cancel` its cancellation; `show` lists it."""
    settings = test_settings(tmp_path, extra={"desk": {"timezone": "Asia/Kuala_Lumpur"}})
    config = str(tmp_path / "tiket.toml")
    write_maildir(
        [user_mail(1, "dan@example.com", "Excel fails", "Macro error.")], tmp_path / "Maildir"
    )
    Tiket.open(settings, triager=SureModel("software")).run_once()
    assert main(["--config", config, "tickets", "call", "TKT-000001", "--at", "2026-12-03 15:30",
                 "--where", "+60 3 1234 5678", "--agent", "bob@desk.example"]) == 0  # fmt: skip
    assert main(["--config", config, "tickets", "call", "TKT-000001", "--cancel"]) == 0
    assert main(["--config", config, "tickets", "call", "TKT-000001"]) == 2
    calendars = [
        Calendar.from_ical(part.get_payload(decode=True))
        for msg in outbox(tmp_path)
        for part in msg.walk()
        if part.get_content_type() == "text/calendar"
    ]
    assert [str(c["METHOD"]) for c in calendars] == ["REQUEST", "CANCEL"]
    [first] = calendars[0].walk("VEVENT")
    assert first["DTSTART"].dt.isoformat() == "2026-12-03T15:30:00+08:00"
    assert int(first["DTEND"].dt.timestamp() - first["DTSTART"].dt.timestamp()) == 30 * 60
    capsys.readouterr()
    assert main(["--config", config, "tickets", "show", "TKT-000001", "--no-similar"]) == 0
    shown = capsys.readouterr().out
    assert "call 2026-12-03T07:30Z 30 min +60 3 1234 5678 by bob@desk.example: cancelled" in shown


def test_published_resolution_is_offered_to_the_next_similar_ticket(tmp_path: Path) -> None:
    """`resolve --publish` makes the note a known fix; the next similar mail's ack offers it."""
    settings = test_settings(tmp_path, extra={"kb": {"path": str(tmp_path / "no-kb")}})
    config = str(tmp_path / "tiket.toml")
    write_maildir(
        [
            user_mail(
                1, "a@example.com", "SAP GUI logon pad empty", "SAP logon pad shows no systems."
            )
        ],
        tmp_path / "Maildir",
    )
    Tiket.open(settings, triager=SureModel("business_apps")).run_once()
    note = "Re-import the SAP landscape file from the portal (Settings > Import)."
    assert (
        main(["--config", config, "tickets", "resolve", "TKT-000001", "--note", note, "--publish"])
        == 0
    )
    write_maildir(
        [
            user_mail(
                2, "b@example.com", "SAP logon pad empty", "My SAP logon pad lists no systems."
            )
        ],
        tmp_path / "Maildir",
    )
    Tiket.open(settings, triager=SureModel("business_apps")).run_once()
    [ack] = [m for m in outbox(tmp_path) if m["To"] == "b@example.com"]
    text = ack.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Re-import the SAP landscape file" in text
    assert "SAP GUI logon pad empty" not in text  # never the other requester's words


@pytest.mark.parametrize("restart", [False, True])
@pytest.mark.parametrize(("minutes_apart", "candidates"), [(3, 1), (60, 0)])
def test_a_backlog_is_dated_by_arrival_not_by_when_intake_reads_it(
    tmp_path: Path, minutes_apart: int, candidates: int, restart: bool
) -> None:
    """Six alike mails from six requesters, read at once (tiket was down): they make a major
    incident candidate if they reached the server 3 minutes apart, none if an hour apart; also
    when tiket restarts after four (the detector then reads those back from the database)."""
    settings = test_settings(tmp_path, extra={"major_incident": {"enabled": True}})
    for sub in ("new", "cur", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    first = time.time() - 8 * 3600
    for i in range(6):
        mail = user_mail(
            i + 1, f"user{i}@example.com", "VPN drops", "The VPN drops every few minutes."
        )
        arrived = first + i * minutes_apart * 60
        path = tmp_path / "Maildir" / ("tmp" if restart and i >= 4 else "new") / f"{i}.mx"
        path.write_bytes(mail)
        os.utime(path, (arrived, arrived))
    Tiket.open(settings, triager=SureModel("network")).run_once()
    if restart:
        for path in (tmp_path / "Maildir" / "tmp").iterdir():
            os.rename(path, tmp_path / "Maildir" / "new" / path.name)  # rename keeps the mtime
        Tiket.open(settings, triager=SureModel("network")).run_once()
    assert p.MajorIncident.select().count() == candidates
