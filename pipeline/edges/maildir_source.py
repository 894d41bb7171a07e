"""Maildir source (EDGE): a local Maildir as a mailbox, the embedded default.

A Maildir has no UIDs, so a mail's uid is a stable 60-bit number derived from its unique file name
and uidvalidity is always 1. Processed and quarantined mail moves to Maildir++ sub-folders
(.Processed, .Quarantine) next to cur/ and new/.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import MailboxError
from pipeline.records import RawMail
from pipeline.settings import SAMPLE_MAILS, Mailbox
from pipeline.stages.parsing import head_of

UIDVALIDITY = 1


_DELIVERY = re.compile(r"(\d+)\.(?:[^.]*?M(\d+))?(?:[^.]*?Q(\d+))?")


def delivery_order(filename: str) -> tuple[int, int, int, str]:
    """A sort key putting Maildir files in delivery order: the name's seconds, microseconds
    (M) and delivery counter (Q) as numbers ('M99' before 'M100'), then the name; a name of
    another shape sorts after them by name. A reply delivered after its original is then
    processed after it, even when both arrive in one backlog."""
    found = _DELIVERY.match(filename)
    if found is None:
        return (2**63, 0, 0, filename)
    seconds, micros, counter = found.groups()
    return (int(seconds), int(micros or 0), int(counter or 0), filename)


def maildir_uid(filename: str) -> int:
    """A stable uid for a Maildir file: its unique part (before ':2,flags') hashed to 60 bits."""
    unique = filename.split(":", 1)[0]
    return int(hashlib.sha256(unique.encode("utf-8", "surrogateescape")).hexdigest()[:15], 16)


def seed_sample_maildir(path: Path, sample_dir: Path = SAMPLE_MAILS) -> int:
    """Create a Maildir holding the shipped sample mails in order; returns how many were written."""
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    count = 0
    for number, source in enumerate(sorted(sample_dir.glob("*.eml")), start=1):
        target = path / "new" / f"{number:04d}.sample.{source.stem}"
        shutil.copyfile(source, target)
        count += 1
    return count


class MaildirSource:
    """Reads a Maildir: new/ and cur/ of the top folder are the inbox."""

    idle_supported = False

    def __init__(self, mailbox: Mailbox) -> None:
        assert mailbox.path is not None
        self.mailbox = mailbox
        self.name = mailbox.name
        self.path = mailbox.path
        self._files: dict[int, Path] = {}

    def open(self) -> int:
        """Check (or seed) the Maildir; returns the uidvalidity (always 1)."""
        if not (self.path / "cur").is_dir() and self.mailbox.seed_sample:
            seed_sample_maildir(self.path)
        for sub in ("cur", "new", "tmp"):
            if not (self.path / sub).is_dir():
                raise MailboxError(f"{self.name}: {self.path} is not a Maildir (no {sub}/)")
        return UIDVALIDITY

    def pending_uids(self) -> list[int]:
        """UIDs of every mail in the inbox, oldest file name first."""
        self._files = {}
        for sub in ("new", "cur"):
            for entry in sorted(os.scandir(self.path / sub), key=lambda e: delivery_order(e.name)):
                if entry.is_file() and not entry.name.startswith("."):
                    self._files[maildir_uid(entry.name)] = Path(entry.path)
        return list(self._files)

    def fetch(self, uids: Sequence[int], max_bytes: int = 0) -> Iterator[RawMail]:
        """Read the raw bytes of these mails (a file gone meanwhile is skipped); of a file over
        `max_bytes` (0: no limit) only the head is read, and `full_size` says so."""
        for uid in uids:
            path = self._files.get(uid)
            if path is None:
                continue
            try:
                info = path.stat()
                oversized = 0 < max_bytes < info.st_size
                with open(path, "rb") as handle:
                    raw = head_of(handle.read(2 * 1024 * 1024)) if oversized else handle.read()
                stamp = datetime.fromtimestamp(info.st_mtime, UTC)
            except FileNotFoundError:
                continue
            yield RawMail(
                mailbox=self.name,
                uidvalidity=UIDVALIDITY,
                uid=uid,
                raw=raw,
                internal_date=stamp,
                full_size=info.st_size if oversized else None,
            )

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move mails into the Maildir++ sub-folder .<folder>/cur (created when missing)."""
        target = self.path / f".{folder}" / "cur"
        for sub in ("cur", "new", "tmp"):
            (target.parent / sub).mkdir(parents=True, exist_ok=True)
        if not self._files:
            self.pending_uids()
        for uid in uids:
            path = self._files.pop(uid, None)
            if path is None or not path.exists():
                continue
            name = path.name if ":2," in path.name else f"{path.name}:2,S"
            os.replace(path, target / name)

    def wait(self, timeout: float, stop: Callable[[], bool] = lambda: False) -> bool:
        """Maildirs are polled: nothing to wait on."""
        return False

    def close(self) -> None:
        """Nothing to release."""
