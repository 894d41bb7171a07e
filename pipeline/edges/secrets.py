"""Desk secret (EDGE): the 0600 file of keys that sign the tokens in our Message-IDs.

One key per line, newest first: `<64 hex digits>` for the current key, `<64 hex> retired=<ISO
time>` for a key a rotation replaced (it keeps verifying for [security] token_grace_days). The
file is created with mode 0600 in a 0700 folder and never printed or logged.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.stages.agent_auth import Keyring, TokenKey

log = logging.getLogger(__name__)
KEY_BYTES = 32


def _write(path: Path, keys: list[TokenKey]) -> None:
    """Replace the file atomically, never readable by anyone but the owner."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lines = [
        key.key.hex() + (f" retired={key.retired_at.isoformat()}" if key.retired_at else "")
        for key in keys
    ]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def create_secret(path: Path) -> bool:
    """Create the secret file with one fresh key; False when it already exists."""
    if path.exists():
        return False
    _write(path, [TokenKey(key=secrets.token_bytes(KEY_BYTES))])
    log.info("secret action=created path=%s", path)
    return True


def read_keys(path: Path, origin: str = "[security] secret_file") -> list[TokenKey]:
    """The keys in the file, newest first; raises ConfigError for a missing or broken file."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(origin, "security.secret_file", f"cannot read {path}: {exc}")
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        value, _, rest = line.strip().partition(" ")
        try:
            key = bytes.fromhex(value)
            retired = (
                datetime.fromisoformat(rest.removeprefix("retired=")) if rest.strip() else None
            )
        except ValueError:
            raise ConfigError(origin, "security.secret_file", f"{path}: line {number} is broken")
        if len(key) < 16:
            raise ConfigError(origin, "security.secret_file", f"{path}: line {number} too short")
        keys.append(TokenKey(key=key, retired_at=retired))
    if not keys or keys[0].retired_at is not None:
        raise ConfigError(origin, "security.secret_file", f"{path}: no current key")
    return keys


def rotate_secret(path: Path, now: datetime) -> None:
    """Put a fresh key first; the old current key is retired now (it verifies for the grace)."""
    old = read_keys(path) if path.exists() else []
    retired = [TokenKey(key=k.key, retired_at=k.retired_at or now) for k in old]
    _write(path, [TokenKey(key=secrets.token_bytes(KEY_BYTES)), *retired])


def load_keyring(settings: Settings) -> Keyring:
    """The desk's keyring; the secret file is created when missing (first run without init)."""
    security = settings.security
    path = Path(security.secret_file).expanduser()
    if create_secret(path):
        log.warning("secret action=created path=%s reason=missing (run tiket init)", path)
    return Keyring(
        keys=tuple(read_keys(path, settings.sources[-1])),
        grace=timedelta(days=security.token_grace_days),
    )
