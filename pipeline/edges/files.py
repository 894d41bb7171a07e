"""Files (EDGE): atomic writes of whole files, for the file outbox and the attachment blobs.

os-level calls (open, write, close, rename) cost about a third of pathlib's write_bytes + replace,
which matters for the thousands of small files of a backlog.
"""

from __future__ import annotations

import os


def write_atomically(path: str, data: bytes, tmp_name: str) -> None:
    """Write `data` to `path` through `tmp_name` (in the same folder) and a rename, so a reader
    sees the old file or the whole new one. Raises OSError."""
    tmp = os.path.join(os.path.dirname(path), tmp_name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(tmp, path)
