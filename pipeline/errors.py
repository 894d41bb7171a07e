"""Error types: narrow exceptions whose docstrings say when they are raised (pure)"""

from __future__ import annotations

from pathlib import Path


class TiketError(Exception):
    """Base class of every error tiket raises on purpose."""


class ConfigError(TiketError):
    """A configuration file, key or value is invalid; names the file and the key."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.path}: {key}: {problem}")


class TransientError(TiketError):
    """Something outside tiket failed in a way that may pass (server down, timeout): retry later."""


class PermanentError(TiketError):
    """Retrying cannot help: the input itself is bad."""


class UnparseableMail(PermanentError):
    """The raw bytes cannot be turned into a ParsedMail (or exceed the size limit)."""


class MailboxError(TransientError):
    """A mailbox could not be reached, logged into or read."""


class TransientSendError(TransientError):
    """SMTP answered 4xx or the connection failed: the outbox row is retried with backoff."""


class PermanentSendError(PermanentError):
    """SMTP answered 5xx: the outbox row fails at once."""


class ClaimLost(TiketError):
    """Another daemon claimed or finished a mail while this one worked on it (its lease expired
    mid-batch): this daemon's work on the mail is rolled back and the other daemon's stands."""


class NotFound(TiketError):
    """A ticket, quarantined mail or other row asked for by the user does not exist."""


class InvalidAction(TiketError):
    """An agent action the ticket's state does not allow (e.g. reopening a closed ticket)."""
