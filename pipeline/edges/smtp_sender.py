"""SMTP and file senders (EDGE): the only importer of smtplib.

A sender delivers raw messages over one connection per batch. 4xx replies and socket errors raise
TransientSendError (retry later); 5xx replies raise PermanentSendError (fail now).
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from pipeline.edges.files import private_dir, write_atomically
from pipeline.errors import PermanentSendError, TransientSendError
from pipeline.settings import OutboxSettings, parse_outbox_url, read_secret

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class FileSender:
    """Writes each mail as <dir>/<message-id>.eml; writing the same mail twice is harmless."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __enter__(self) -> FileSender:
        private_dir(self.directory)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, sender: str, recipients: Sequence[str], raw: bytes, message_id: str) -> None:
        """Write the mail atomically (temp file, then rename)."""
        name = _UNSAFE.sub("_", message_id.strip("<>"))[:200] + ".eml"
        try:
            write_atomically(os.path.join(self.directory, name), raw, f".{name}.tmp")
        except OSError as exc:
            raise TransientSendError(f"cannot write {name}: {exc.strerror}") from exc


class SmtpSender:
    """One SMTP connection (STARTTLS, implicit TLS or plain on loopback), with AUTH when configured."""

    def __init__(self, config: OutboxSettings, origin: str) -> None:
        self.config = config
        self.origin = origin
        self.scheme, self.host, self.port, _ = parse_outbox_url(config.url, origin)
        self.connection: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSender:
        context = ssl.create_default_context(cafile=self.config.ca_file or None)
        try:
            if self.scheme == "smtps":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, context=context, timeout=self.config.timeout
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.config.timeout)
                if self.config.tls == "starttls":
                    conn.starttls(context=context)
            if self.config.username:
                password = read_secret(
                    self.config.password_env,
                    self.config.password_file,
                    self.origin,
                    "outbox.password_*",
                )
                conn.login(self.config.username, password)
        except smtplib.SMTPResponseException as exc:  # e.g. 535 bad login: a config problem, retry
            raise TransientSendError(
                f"{self.host}:{self.port}: {exc.smtp_code} {_decode(exc.smtp_error)}"
            ) from exc
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise TransientSendError(
                f"{self.host}:{self.port}: {type(exc).__name__}: {exc}"
            ) from exc
        self.connection = conn
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self.connection = self.connection, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    def send(self, sender: str, recipients: Sequence[str], raw: bytes, message_id: str) -> None:
        """Send one mail; raises TransientSendError or PermanentSendError."""
        if self.connection is None:
            raise TransientSendError("not connected")
        try:
            refused = self.connection.sendmail(sender, list(recipients), raw)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            code, text = next(iter(exc.recipients.values()))
            if all(400 <= c < 500 for c in codes):
                raise TransientSendError(f"recipients refused: {code} {_decode(text)}") from exc
            raise PermanentSendError(f"recipients refused: {code} {_decode(text)}") from exc
        except smtplib.SMTPResponseException as exc:
            if isinstance(exc, smtplib.SMTPServerDisconnected):
                self.connection = None
            raise _classify(exc.smtp_code, exc.smtp_error) from exc
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            self.connection = None
            raise TransientSendError(f"connection lost: {type(exc).__name__}: {exc}") from exc
        except smtplib.SMTPException as exc:
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
        if refused:
            code, text = next(iter(refused.values()))
            raise PermanentSendError(f"some recipients refused: {code} {_decode(text)}")


def _decode(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _classify(code: int, text: bytes | str) -> Exception:
    message = f"{code} {_decode(text)}"
    if 500 <= code < 600:
        return PermanentSendError(message)
    return TransientSendError(message)


def open_sender(config: OutboxSettings, origin: str) -> FileSender | SmtpSender:
    """The sender for the configured outbox URL (not yet connected: use it as a context manager)."""
    scheme, _, _, path = parse_outbox_url(config.url, origin)
    if scheme == "file":
        assert path is not None
        return FileSender(path)
    return SmtpSender(config, origin)
