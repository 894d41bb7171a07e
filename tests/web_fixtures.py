"""Helpers for the console's tests: a desk with agents, tickets waiting for review, a signed-in client."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.app import Tiket
from pipeline.records import Suggestion, TriageOutcome
from pipeline.settings import Settings
from tests.tiket_fixtures import test_settings

ANNA = "anna@desk.example"  # L1
BOB = "bob@desk.example"  # L2
BOSS = "boss@desk.example"  # [web] admins

SUBJECTS = (
    ("Printer on floor 3 jams", "printing", "The printer near the lift jams on every page."),
    ("Cannot sign in to VPN", "network", "VPN says authentication failed since this morning."),
    ("Outlook keeps asking for password", "email", "Outlook prompts for my password all day."),
    ("Need access to finance share", "access", "Please give me access to \\\\fs01\\finance."),
    ("Laptop battery swollen", "hardware", "My laptop battery is bulging, the lid won't close."),
    ("Excel crashes on open", "software", "Excel crashes when I open the budget workbook."),
    ("Wifi drops in meeting room B", "network", "The wifi in room B drops every few minutes."),
    ("New starter account for Siti", "access", "Siti starts on Monday, please create her account."),
    ("Monitor flickers", "hardware", "My second monitor flickers when the sun is on it."),
    ("SAP report is empty", "business_apps", "The monthly SAP sales report comes back empty."),
    ("Printer on floor 3 jams again", "printing", "Same printer, same jam, second time today."),
)


class GuessingModel:
    """Suggests the category the subject table says, never sure enough to apply it."""

    def suggest_many(self, items: Sequence[tuple[str, str]]) -> list[TriageOutcome]:
        found = []
        for subject, _ in items:
            category = next((c for s, c, _ in SUBJECTS if s == subject), "software")
            found.append(
                TriageOutcome(
                    model_version="test",
                    suggestions=(
                        Suggestion(head="kind", label="incident", confidence=0.81, applied=False),
                        Suggestion(head="category", label=category, confidence=0.62, applied=False),
                        Suggestion(head="priority", label="P3", confidence=0.58, applied=False),
                    ),
                )
            )
        return found


def mail_bytes(
    n: int, subject: str, body: str, sender: str, html: str = "", attach: bool = False
) -> bytes:
    head = (
        f"From: Requester {n} <{sender}>\r\nTo: support@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <web-{n}@example.com>\r\nDate: Wed, 02 Dec 2026 08:{n:02d}:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
    )
    if not html and not attach:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n").encode()
    parts = [f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"]
    if html:
        parts.append(f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n")
    if attach:
        parts.append(
            'Content-Type: text/html; name="../../evil<script>.html"\r\n'
            'Content-Disposition: attachment; filename="../../evil<script>.html"\r\n\r\n'
            "<script>alert(1)</script>\r\n"
        )
    kind = "alternative" if html and not attach else "mixed"
    body_parts = "".join(f"--b1\r\n{p}" for p in parts)
    return (
        head + f"Content-Type: multipart/{kind}; boundary=b1\r\n\r\n{body_parts}--b1--\r\n"
    ).encode()


def desk_settings(tmp_path: Path, outbox_url: str | None = None, **web: Any) -> Settings:
    """Agents anna (L1) and bob (L2), a manager, the [web] keys given."""
    return test_settings(
        tmp_path,
        outbox_url=outbox_url,
        extra={
            "tiers.L1": {"members": [ANNA], "group": "l1@desk.example"},
            "tiers.L2": {"members": [BOB], "group": "l2@desk.example"},
            "web": dict({"admins": [BOSS]}, **web),
        },
    )


def seed_tickets(settings: Settings, tmp_path: Path, count: int = len(SUBJECTS)) -> Tiket:
    """Mail `count` requests into the Maildir and take them in: each waits for review."""
    maildir = tmp_path / "Maildir"
    for folder in ("new", "cur", "tmp"):
        (maildir / folder).mkdir(parents=True, exist_ok=True)
    for n, (subject, _, body) in enumerate(SUBJECTS[:count], start=1):
        html = (
            "<p>Hello <b>desk</b><script>alert('x')</script><img src=http://tracker.example/p.gif></p>"
            if n == 2
            else ""
        )
        raw = mail_bytes(n, subject, body, f"user{n}@example.com", html=html, attach=n == 3)
        (maildir / "new" / f"{n}.eml").write_bytes(raw)
    app = Tiket.open(settings, triager=GuessingModel())
    app.run_once()
    return app


def link_in(text: str) -> str:
    """The sign-in link in a mail's text."""
    found = re.search(r"https?://\S+/signin/[A-Za-z0-9_-]+", text)
    assert found, text
    return found.group(0)
