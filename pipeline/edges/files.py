"""Files (EDGE): tiket's data is personal data, readable by its own user only, written atomically.

The process umask is set to 0077 at start, and the folders tiket creates (data, outbox,
attachments, model) are made 0700 and its files 0600 explicitly, so a caller's umask (a test, a
library entry point) cannot widen them. Writes go through a temporary file and a rename with
os-level calls (about a third of pathlib's write_bytes + replace, which matters for the thousands
of small files of a backlog).
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


def write_atomically(path: str, data: bytes, tmp_name: str) -> None:
    """Write `data` as a 0600 file at `path` through `tmp_name` (in the same folder) and a
    rename, so a reader sees the old file or the whole new one. Raises OSError."""
    tmp = os.path.join(os.path.dirname(path), tmp_name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_private(path: Path, data: bytes) -> None:
    """Write a file as 0600 (atomically: a temp file, then rename)."""
    write_atomically(str(path), data, f".{path.name}.{os.getpid()}.tmp")


def touch_private(path: Path) -> None:
    """Create an empty 0600 file unless it exists (SQLite then keeps that mode for its journal)."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
