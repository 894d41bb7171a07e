"""`tiket review` in a real terminal (a pseudo-terminal): keys in, screen out, decisions stored."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from pipeline.app import Tiket
from pipeline.edges import models as m
from tests.test_lifecycle_e2e import UnsureModel, mail
from tests.tiket_fixtures import test_settings

ROOT = Path(__file__).resolve().parent.parent


def read_until(fd: int, marker: str, seen: list[str], timeout: float = 30) -> str:
    """Read the terminal until `marker` appears (all output is kept in `seen`)."""
    deadline = time.monotonic() + timeout
    while marker not in "".join(seen):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{marker!r} not shown; screen so far:\n{''.join(seen)[-2000:]}")
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen.append(os.read(fd, 65536).decode("utf-8", "replace"))
            except OSError:
                break
    return "".join(seen)


def review_session(tmp_path: Path, mails: list[bytes]) -> tuple[subprocess.Popen[bytes], int]:
    """The mails taken in (every suggestion unsure), then `tiket review` on a pseudo-terminal:
    the process and the terminal's controlling side."""
    settings = test_settings(tmp_path)
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for n, raw in enumerate(mails, start=1):
        (maildir / "new" / str(n)).write_bytes(raw)
    Tiket.open(settings, triager=UnsureModel()).run_once()
    main_fd, child_fd = pty.openpty()
    command = [sys.executable, "-m", "pipeline.cli", "--config", str(tmp_path / "tiket.toml")]
    proc = subprocess.Popen(
        [*command, "review", "--agent", "anna"],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        cwd=ROOT,
        close_fds=True,
    )
    os.close(child_fd)
    return proc, main_fd


def test_review_in_a_terminal_accepts_then_corrects(tmp_path: Path) -> None:
    """Two tickets wait; 'a' accepts the first, 'k' + 'incident' corrects the second; queue empties."""
    proc, main_fd = review_session(
        tmp_path,
        [
            mail(1, "Need Visio licence", "Please install Visio."),
            mail(2, "Monitor flickers", "My monitor flickers badly.", sender="raj@example.com"),
        ],
    )
    seen: list[str] = []
    try:
        screen = read_until(main_fd, "[a]ccept", seen)
        assert "[1/2]" in screen and "Need Visio licence" in screen and "55%" in screen
        os.write(main_fd, b"a\n")
        screen = read_until(main_fd, "[2/2]", seen)
        read_until(main_fd, "[a]ccept", seen[-1:])
        os.write(main_fd, b"k\n")
        read_until(main_fd, "kind (1) incident  2) request)", seen)
        os.write(main_fd, b"incident\n")
        screen = read_until(main_fd, "still to decide: category, priority", seen)
        os.write(main_fd, b"a\n")  # the rest: accept the suggestions (each a decision of its own)
        read_until(main_fd, "Done: 2 decided.", seen)
    finally:
        proc.wait(timeout=30)
        os.close(main_fd)
    assert proc.returncode == 0
    first, second = m.Ticket.get_by_id(1), m.Ticket.get_by_id(2)
    assert (first.kind, first.needs_review, first.status) == ("request", False, "open")
    assert second.kind == "incident" and not second.needs_review
    assert (
        m.Decision.get((m.Decision.ticket == 2) & (m.Decision.head == "kind")).suggested
        == "request"
    )


def test_review_keys_out_of_place_get_a_message_and_ctrl_d_stops_cleanly(tmp_path: Path) -> None:
    """An unknown key is named; Ctrl-D at the prompt ends the session, exit 0, nothing saved."""
    proc, main_fd = review_session(
        tmp_path, [mail(1, "Need Visio licence", "Please install Visio.")]
    )
    seen: list[str] = []
    try:
        read_until(main_fd, "[a]ccept", seen)
        os.write(main_fd, b"x\n")
        read_until(main_fd, "unknown key 'x'", seen)
        os.write(main_fd, b"\x04")  # Ctrl-D at an empty prompt
        read_until(main_fd, "Stopped: 0 decided.", seen)
    finally:
        proc.wait(timeout=30)
        os.close(main_fd)
    assert proc.returncode == 0
    assert m.Decision.select().count() == 0 and m.Ticket.get_by_id(1).needs_review
