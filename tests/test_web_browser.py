"""The console in a real Chromium (Debian's, driven by Playwright) against a real `tiket web`
process and the real SMTP sink: sign in by mailed link, triage ten tickets with the keyboard,
correct a category, reply with a canned reply, note, merge, escalate, and a stale save refused."""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest

from pipeline.app import Tiket
from tests.servers import SmtpSink, free_port, wait_until
from tests.tiket_fixtures import ROOT, test_settings  # noqa: F401  (runs on both backends)
from tests.web_fixtures import ANNA, BOB, SUBJECTS, desk_settings, link_in, seed_tickets

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect
expect.set_options(timeout=90_000)  # generous: two shared cores, other test runs at once
CHROMIUM = "/usr/bin/chromium"
SHOTS = os.environ.get("TIKET_SCREENSHOT_DIR", "")  # also copy screenshots there (for the README)


def mails(sink: SmtpSink) -> list[tuple[list[str], email.message.EmailMessage]]:
    return [
        (meta["rcpt_tos"], email.message_from_bytes(raw, policy=policy.default))  # type: ignore[misc]
        for meta, raw in sink.messages()
    ]


def wait_for_mail(
    sink: SmtpSink, match: Callable[[list[str], email.message.EmailMessage], bool]
) -> email.message.EmailMessage:
    found: list[email.message.EmailMessage] = []

    def seen() -> bool:
        found[:] = [msg for rcpt, msg in mails(sink) if match(rcpt, msg)]
        return bool(found)

    assert wait_until(seen, 60), [msg["Subject"] for _, msg in mails(sink)]
    return found[-1]


def body(msg: email.message.EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.fixture
def console(tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[tuple[str, Tiket, SmtpSink]]:
    """Eleven tickets waiting for review and a real `tiket web` on a free port."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = desk_settings(
        tmp_path,
        outbox_url=f"smtp://127.0.0.1:{smtp_sink.port}",
        listen=f"127.0.0.1:{port}",
        base_url=base,
        refresh_seconds=2,
    )
    app = seed_tickets(settings, tmp_path)
    smtp_sink.wait_for(len(SUBJECTS))  # the acknowledgements
    smtp_sink.clear()
    app.release_leases()  # the web process delivers the outbox from now on
    log = open(tmp_path / "web.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "--config", str(tmp_path / "tiket.toml"), "web"],
        cwd=ROOT,
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: _up(base + "/health"), 60), (tmp_path / "web.log").read_text()
        yield base, app, smtp_sink
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def confirm_with_enter(page: Any) -> None:
    """Press Enter on the sign-in confirmation, once its button has the focus (autofocus is
    applied after load; a loaded machine can be slower than the keyboard)."""
    page.wait_for_function("document.activeElement && document.activeElement.tagName === 'BUTTON'")
    page.keyboard.press("Enter")


def sign_in(page: Any, base: str, sink: SmtpSink, address: str) -> str:
    """Ask for a link in the browser, read it from the sink, open it, confirm; returns the link."""
    before = len([1 for rcpt, _ in mails(sink) if address in rcpt])
    page.goto(base + "/signin")
    page.fill("#address", address)
    page.keyboard.press("Enter")
    page.wait_for_selector("text=a sign-in link is on its way")
    assert wait_until(lambda: len([1 for rcpt, _ in mails(sink) if address in rcpt]) > before, 60)
    msg = [m for rcpt, m in mails(sink) if address in rcpt][-1]
    link = link_in(body(msg))
    page.goto(link)
    confirm_with_enter(page)
    page.wait_for_selector("#queue-body")
    return link


def shoot(page: Any, tmp_path: Path, name: str) -> None:
    """Screenshots at 1280 and 390 px wide (kept with the test run; copied for the README)."""
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        path = tmp_path / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=width == 390)
        assert path.stat().st_size > 10_000
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(SHOTS) / path.name)
    page.set_viewport_size({"width": 1280, "height": 900})


def review_rows(page: Any) -> int:
    return int(page.eval_on_selector_all("#queue-body tr.review", "rows => rows.length"))


def ref_for(app: Tiket, subject: str) -> str:
    return next(t["ref"] for t in app.list_tickets() if t["subject"] == subject)


def test_an_agent_works_the_queue_in_a_real_browser(
    console: tuple[str, Tiket, SmtpSink], tmp_path: Path
) -> None:
    """Sign in by link; merge the duplicate; triage ten tickets by keyboard (one category
    corrected); canned reply threaded to the requester; a note mails nobody; escalate with a
    reason; a second agent's stale save is refused; screenshots of the queue and a ticket."""
    base, app, sink = console
    refs = {s: ref_for(app, s) for s, _, _ in SUBJECTS}
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        anna = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        anna.set_default_timeout(120_000)  # an escalation builds the similar-ticket index
        anna.on("dialog", lambda dialog: dialog.accept())
        link = sign_in(anna, base, sink, ANNA)
        assert review_rows(anna) == 11
        first = anna.get_attribute("#queue-body tr.current", "data-ref")
        anna.keyboard.press("j")
        assert anna.get_attribute("#queue-body tr.current", "data-ref") != first
        anna.keyboard.press("k")
        assert anna.get_attribute("#queue-body tr.current", "data-ref") == first
        anna.keyboard.press("?")
        expect(anna.locator("#help")).to_be_visible()
        anna.keyboard.press("?")
        anna.keyboard.press("/")
        assert anna.evaluate("document.activeElement.id") == "search"
        anna.keyboard.press("Escape")
        shoot(anna, tmp_path, "queue")

        # the used link is refused in a fresh browser
        other = browser.new_context().new_page()
        other.goto(link)
        confirm_with_enter(other)
        other.wait_for_selector("text=used up or expired")

        # merge the duplicate into the first printer ticket: its requester is told
        duplicate, original = refs[SUBJECTS[10][0]], refs[SUBJECTS[0][0]]
        anna.goto(f"{base}/t/{duplicate}")
        anna.fill("input[name=into]", original)
        anna.click("form[action$='/merge'] button")
        anna.wait_for_selector("#queue-body")
        merged = wait_for_mail(sink, lambda rcpt, m: "user11@example.com" in rcpt)
        assert original in str(merged["Subject"]) and original in body(merged)
        assert review_rows(anna) == 10

        # triage ten tickets with the keyboard alone; one category corrected from the pick-list
        keys = 0
        anna.keyboard.press("Enter")  # the first ticket waiting for review
        keys += 1
        anna.wait_for_selector("#triage-form")
        corrected = anna.inner_text("h1 .ref")
        anna.focus("#f-category")
        anna.select_option("#f-category", "hardware")
        anna.keyboard.press("Escape")
        anna.keyboard.press("a")
        keys += 2
        anna.wait_for_selector("#queue-body")
        for left in range(9, 0 - 1, -1):
            expect(anna.locator("#queue-body tr.review")).to_have_count(left, timeout=60_000)
            if left:  # the selection moved on to the next ticket waiting for review
                expect(anna.locator("#queue-body tr.current.review")).to_have_count(1)
                anna.keyboard.press("a")
                keys += 1
        assert keys <= 15, keys
        assert app.store.ticket_state(corrected).category == "hardware"
        assert all(not app.store.ticket_state(r).needs_review for r in refs.values())

        # a canned reply reaches the requester, threaded on their mail
        target = refs[SUBJECTS[1][0]]
        anna.goto(f"{base}/t/{target}")
        anna.keyboard.press("r")
        assert anna.evaluate("document.activeElement.id") == "reply"
        anna.select_option("#canned", label="Need more details")
        assert target in anna.input_value("#reply")
        anna.click("#reply-form button[type=submit]")
        anna.wait_for_selector("text=reply sent to the requester")
        answer = wait_for_mail(sink, lambda rcpt, m: "user2@example.com" in rcpt)
        assert answer["In-Reply-To"] == "<web-2@example.com>"
        assert "<web-2@example.com>" in str(answer["References"])
        assert target in str(answer["Subject"]) and "a screenshot of any error" in body(answer)

        # an internal note, then an escalation with a reason: the tier is mailed, the note never
        anna.keyboard.press("n")
        anna.keyboard.type("Checked the RADIUS log: account locked at 07:58.")
        anna.click("#note-form button[type=submit]")
        anna.wait_for_selector("text=note added")
        anna.keyboard.press("e")
        anna.keyboard.type("needs the network team's RADIUS access")
        anna.keyboard.press("Enter")  # confirmed in the dialog
        anna.wait_for_selector("text=escalated")
        escalation = wait_for_mail(sink, lambda rcpt, m: "l2@desk.example" in rcpt)
        assert "RADIUS access" in body(escalation)
        assert app.store.ticket_state(target).tier == "L2"
        assert not any("account locked" in body(m) for _, m in mails(sink))
        shoot(anna, tmp_path, "ticket")

        # two agents on one ticket: the second, stale save is refused and keeps its text
        bob = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        bob.set_default_timeout(120_000)
        sign_in(bob, base, sink, BOB)
        bob.goto(f"{base}/t/{target}")
        anna.goto(f"{base}/t/{target}")
        anna.fill("#note", "Anna's note first")
        anna.click("#note-form button[type=submit]")
        anna.wait_for_selector("text=note added")
        bob.fill("#note", "Bob's careful note")
        bob.click("#note-form button[type=submit]")
        bob.wait_for_selector("text=changed by someone else")
        assert bob.input_value("#note") == "Bob's careful note"
        browser.close()
    notes = [
        m for _, d, _, m in app.store.conversation(app.store.ticket_state(target).id) if d == "note"
    ]
    assert notes == ["Checked the RADIUS log: account locked at 07:58.", "Anna's note first"]


def test_the_real_server_refuses_strangers_and_forged_posts(
    console: tuple[str, Tiket, SmtpSink],
) -> None:
    """Over HTTP to the real process: no session, no CSRF token, a stranger's address."""
    base, app, sink = console
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(base + "/")
    assert refused.value.code == 302 and refused.value.headers["Location"] == "/signin"
    with pytest.raises(urllib.error.HTTPError) as forged:
        urllib.request.urlopen(
            urllib.request.Request(base + "/bulk", data=b"action=close", method="POST")
        )
    assert forged.value.code == 401
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(base + "/signin")
        page.fill("#address", "eve@evil.example")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=a sign-in link is on its way")
        sign_in(page, base, sink, ANNA)
        status = page.evaluate(
            "fetch('/bulk', {method: 'POST', body: new URLSearchParams({action: 'close', ticket: 'TKT-000001:0'})}).then(r => r.status)"
        )
        assert status == 403
        browser.close()
    time.sleep(0)  # nothing to wait for: the agent's link arrived after the stranger's request
    assert not any("eve@evil.example" in rcpt for rcpt, _ in mails(sink))
    assert app.store.ticket_state("TKT-000001").status == "new"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_the_daemon_serves_the_console_when_enabled(tmp_path: Path) -> None:
    """`tiket run` with [web] enabled = true answers on [web] listen next to its mailboxes."""
    port = free_port()
    desk_settings(tmp_path, enabled=True, listen=f"127.0.0.1:{port}")
    (tmp_path / "Maildir" / "new").mkdir(parents=True)
    log = open(tmp_path / "run.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "--config", str(tmp_path / "tiket.toml"), "run"],
        cwd=ROOT,
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: _up(base + "/health"), 90), (tmp_path / "run.log").read_text()
        with urllib.request.urlopen(base + "/signin", timeout=10) as page:
            assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0
        log.close()
