"""Private files (EDGE): tiket's data is personal data, readable by its own user only.

The process umask is set to 0077 at start, and the folders tiket creates (data, outbox,
attachments, model) are made 0700 and its files 0600 explicitly, so a caller's umask (a test, a
library entry point) cannot widen them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_UMASK = 0o077


def restrict_umask() -> None:
    """Every file and folder created from now on is private (0600/0700)."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create a folder (and parents) as 0700; an existing one of ours is tightened to 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # not ours (a shared parent): leave it to its owner
        if path.stat().st_uid == os.getuid():
            os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write a file as 0600 (atomically: a temp file, then rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def touch_private(path: Path) -> None:
    """Create an empty 0600 file unless it exists (SQLite then keeps that mode for its journal)."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
