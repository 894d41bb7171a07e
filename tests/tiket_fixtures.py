"""Helpers for tests: write a tiket config file for a temporary data folder and load it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pipeline.settings import Settings, load_settings

DATABASE_URL: str | None = None
"""The database every settings built here points at; None: SQLite in the test's data folder.

Set by the autouse `tiket_db` fixture in tests/conftest.py, which runs each database-touching test
once on SQLite and once on a fresh PostgreSQL database.
"""


def database_section(url: str | None = None) -> dict[str, Any]:
    """The [database] section for a config file (empty: the SQLite default under data_dir).

    tiket refuses a password inside the URL, so it moves to a 0600 password_file.
    """
    url = url or DATABASE_URL
    if not url:
        return {}
    parts = urlsplit(url)
    if parts.password is None:
        return {"url": url}
    secret = Path(tempfile.gettempdir()) / f"tiket-test-pg-{os.getpid()}.pw"
    if not secret.exists():
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(unquote(parts.password))
    netloc = f"{parts.username}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return {"url": urlunsplit(parts._replace(netloc=netloc)), "password_file": str(secret)}


def toml_value(value: Any) -> str:
    """A Python value as TOML (strings, numbers, booleans, flat tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def write_config(
    path: Path, sections: dict[str, dict[str, Any]], mailboxes: list[dict[str, Any]] | None = None
) -> Path:
    """Write a TOML file with the given sections and [[mailboxes]]."""
    lines = []
    for name, values in sections.items():
        if not values:
            continue
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in values.items())
        lines.append("")
    for box in mailboxes or []:
        lines.append("[[mailboxes]]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in box.items())
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_settings(
    tmp_path: Path,
    *,
    mailboxes: list[dict[str, Any]] | None = None,
    outbox_url: str | None = None,
    extra: dict[str, dict[str, Any]] | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """Settings for a test: data in tmp_path, no model build, the given mailboxes and outbox."""
    sections: dict[str, dict[str, Any]] = {
        "desk": {"data_dir": str(tmp_path / "data"), "log_level": "WARNING"},
        "triage": {"build_default": False, "model_dir": str(tmp_path / "no-model")},
        # tests send many alike mails from many senders: a burst; tests of it switch it on
        "major_incident": {"enabled": False},
        "outbox": {
            "url": outbox_url or f"file:{tmp_path / 'outbox'}",
            "tls": "none",
            "retry_initial_seconds": 1,
            "retry_max_seconds": 2,
        },
    }
    if DATABASE_URL:
        sections["database"] = database_section()
    for name, values in (extra or {}).items():
        sections.setdefault(name, {}).update(values)
    boxes = (
        mailboxes
        if mailboxes is not None
        else [{"name": "test", "url": f"maildir:{tmp_path / 'Maildir'}"}]
    )
    path = write_config(tmp_path / "tiket.toml", sections, boxes)
    return load_settings(path, env=env or {})


test_settings.__test__ = False  # type: ignore[attr-defined]


# -- real `tiket` processes (the daemon tests, the fault benchmark) ---------------------------
ROOT = Path(__file__).resolve().parent.parent


def daemon_config(
    path: Path,
    data_dir: Path,
    *,
    imap_user: str,
    imap_port: int,
    ca_file: Path,
    imap_password: str,
    smtp_port: int,
    database_url: str | None = None,
    **sections: dict[str, Any],
) -> Path:
    """A config file for real `tiket run` processes against Dovecot, the SMTP sink and a database."""
    secret = path.with_suffix(".pw")
    secret.write_text(imap_password)
    values: dict[str, dict[str, Any]] = {
        "desk": {"data_dir": str(data_dir), "log_level": "INFO"},
        "triage": {"build_default": False, "model_dir": str(data_dir / "no-model")},
        "outbox": {
            "url": f"smtp://127.0.0.1:{smtp_port}",
            "tls": "none",
            "retry_initial_seconds": 1,
            "retry_max_seconds": 2,
        },
        "intake": {"poll_interval_seconds": 1},
        "major_incident": {"enabled": False},  # alike mails from many senders: not a burst here
        "database": database_section(database_url),
    }
    for name, extra in sections.items():
        values.setdefault(name, {}).update(extra)
    return write_config(
        path,
        values,
        [
            {
                "name": "support",
                "url": f"imap://{imap_user}@127.0.0.1:{imap_port}/INBOX",
                "ca_file": str(ca_file),
                "password_file": str(secret),
            }
        ],
    )


class TiketDaemon:
    """One `tiket run` process (the daemon, not --once) logging to its own file."""

    def __init__(self, config: Path, log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start the process (again, after a kill); its log is appended to."""
        env = dict(os.environ, TIKET_DEBUG__CRASH_AT="")
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts + 1} ---\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "--config", str(self.config), "run"],
                env=env,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
            )
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, leases and half-done work stay behind."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return -9

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30) -> bool:
        """Wait until `text` appears in the log of the latest start."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text().rsplit("--- start ", 1)[-1]:
                return True
            time.sleep(0.05)
        return False


def assert_runs_without_scikit_learn(code: str) -> None:
    """Run `code` in a fresh interpreter (the project on its path); it must pass and leave
    neither scikit-learn nor SciPy imported."""
    probe = (
        code
        + "\nimport sys\n"
        + "assert 'sklearn' not in sys.modules, 'sklearn imported'\n"
        + "assert 'scipy' not in sys.modules, 'scipy imported'\n"
        + "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
