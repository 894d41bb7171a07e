"""IMAP source (EDGE): the only importer of imapclient (connect, UID fetch, IDLE, move or flag).

Mail is fetched with BODY.PEEK[] so nothing is marked read by accident, by UID under the folder's
UIDVALIDITY. Finished mail is moved with MOVE where the server has it, else copied, flagged
\\Deleted and expunged by UID (UIDPLUS) or just flagged.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from pipeline.errors import MailboxError
from pipeline.records import RawMail
from pipeline.settings import Mailbox
from pipeline.stages.parsing import HEAD_KEPT

log = logging.getLogger(__name__)
FETCH_CHUNK = 100
CONNECT_TIMEOUT = 30.0


def _ssl_context(mailbox: Mailbox) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=mailbox.ca_file or None)


class ImapSource:
    """One IMAP folder; raises MailboxError for anything the server or network does wrong."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        self.name = mailbox.name
        self.client: Any = None
        self.uidvalidity = 0
        self.capabilities: frozenset[bytes] = frozenset()

    @property
    def idle_supported(self) -> bool:
        """True when the server advertised IDLE."""
        return b"IDLE" in self.capabilities

    def open(self) -> int:
        """Connect, secure, log in, select the folder; returns its UIDVALIDITY."""
        box = self.mailbox
        try:
            if box.scheme == "imaps":
                client = IMAPClient(
                    box.host,
                    port=box.port,
                    ssl=True,
                    ssl_context=_ssl_context(box),
                    timeout=CONNECT_TIMEOUT,
                )
            else:
                client = IMAPClient(box.host, port=box.port, ssl=False, timeout=CONNECT_TIMEOUT)
                if box.tls == "starttls":
                    client.starttls(_ssl_context(box))
            secret = box.secret()
            if box.auth == "xoauth2":
                client.oauth2_login(box.user, secret)
            else:
                client.login(box.user, secret)
            self.client = client
            self.capabilities = frozenset(client.capabilities())
            for folder in (box.processed_folder, box.quarantine_folder):
                if not client.folder_exists(folder):
                    client.create_folder(folder)
            selected = client.select_folder(box.folder)
        except LoginError as exc:
            self.close()
            raise MailboxError(f"{self.name}: login refused for {box.user}: {_text(exc)}") from exc
        except (TimeoutError, IMAPClientError, OSError, ssl.SSLError) as exc:
            self.close()
            raise MailboxError(
                f"{self.name}: {box.host}:{box.port}: {type(exc).__name__}: {_text(exc)}"
            ) from exc
        self.uidvalidity = int(selected[b"UIDVALIDITY"])
        return self.uidvalidity

    def pending_uids(self) -> list[int]:
        """UIDs of every mail in the folder not flagged \\Deleted."""
        return sorted(self._call(self.client.search, ["NOT", "DELETED"]))

    def fetch(
        self, uids: Sequence[int], max_bytes: int = 0, chunk_bytes: int = 64 * 1024 * 1024
    ) -> Iterator[RawMail]:
        """The raw bytes of these mails with BODY.PEEK[], in chunks of at most FETCH_CHUNK mails
        and `chunk_bytes` bytes. RFC822.SIZE is asked first: of a mail over `max_bytes` (0: no
        limit) only the header and the start of the first part are fetched (`full_size` set)."""
        sizes = self._sizes(uids)
        whole = [uid for uid in uids if not 0 < max_bytes < sizes.get(uid, 0)]
        for uid in uids:
            if uid not in whole and uid in sizes:
                yield self._fetch_head(uid, sizes[uid])
        chunk: list[int] = []
        total = 0
        for uid in whole:
            if chunk and (len(chunk) >= FETCH_CHUNK or total + sizes.get(uid, 0) > chunk_bytes):
                yield from self._fetch_whole(chunk)
                chunk, total = [], 0
            chunk.append(uid)
            total += sizes.get(uid, 0)
        if chunk:
            yield from self._fetch_whole(chunk)

    def _sizes(self, uids: Sequence[int]) -> dict[int, int]:
        sizes: dict[int, int] = {}
        for start in range(0, len(uids), 1000):
            answer = self._call(
                self.client.fetch, list(uids[start : start + 1000]), ["RFC822.SIZE"]
            )
            sizes.update({uid: int(data.get(b"RFC822.SIZE", 0)) for uid, data in answer.items()})
        return sizes

    def _fetch_whole(self, chunk: list[int]) -> Iterator[RawMail]:
        answer = self._call(self.client.fetch, chunk, ["BODY.PEEK[]", "INTERNALDATE"])
        for uid in chunk:
            data = answer.get(uid)
            if not data or b"BODY[]" not in data:
                continue
            yield self._raw_mail(uid, bytes(data[b"BODY[]"]), data.get(b"INTERNALDATE"))

    def _fetch_head(self, uid: int, size: int) -> RawMail:
        parts = ["BODY.PEEK[HEADER]", f"BODY.PEEK[1]<0.{HEAD_KEPT}>", "INTERNALDATE"]
        data = self._call(self.client.fetch, [uid], parts).get(uid, {})
        head = bytes(data.get(b"BODY[HEADER]") or b"")
        first = next((bytes(v) for k, v in data.items() if k.startswith(b"BODY[1]")), b"")
        raw = head + first[:HEAD_KEPT]
        return self._raw_mail(uid, raw, data.get(b"INTERNALDATE"), full_size=size)

    def _raw_mail(self, uid: int, raw: bytes, stamp: Any, full_size: int | None = None) -> RawMail:
        if stamp is not None and stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return RawMail(
            mailbox=self.name,
            uidvalidity=self.uidvalidity,
            uid=uid,
            raw=raw,
            internal_date=stamp,
            full_size=full_size,
        )

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move mails to a folder (MOVE), or copy + flag \\Deleted (+ UID EXPUNGE) without it."""
        if not uids:
            return
        uids = list(uids)
        if b"MOVE" in self.capabilities:
            self._call(self.client.move, uids, folder)
            return
        self._call(self.client.copy, uids, folder)
        self._call(self.client.add_flags, uids, [b"\\Deleted"])
        if b"UIDPLUS" in self.capabilities:
            self._call(self.client.uid_expunge, uids)

    def wait(self, timeout: float, stop: Callable[[], bool] = lambda: False) -> bool:
        """IDLE for up to `timeout` seconds (checking stop() every second); True on new mail."""
        if not self.idle_supported:
            return False
        deadline = time.monotonic() + timeout
        self._call(self.client.idle)
        try:
            while not stop() and time.monotonic() < deadline:
                responses = self._call(self.client.idle_check, 1.0)
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    return True
        finally:
            self._call(self.client.idle_done)
        return False

    def close(self) -> None:
        """Log out (best effort) and drop the connection."""
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # the connection may already be gone; nothing to save
            try:
                client.shutdown()
            except Exception:
                pass

    def _call(self, function: Any, *args: Any) -> Any:
        if self.client is None:
            raise MailboxError(f"{self.name}: not connected")
        try:
            return function(*args)
        except (TimeoutError, IMAPClientError, OSError, ssl.SSLError) as exc:
            raise MailboxError(f"{self.name}: {type(exc).__name__}: {_text(exc)}") from exc


def _text(exc: BaseException) -> str:
    text = str(exc)
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text[:300]
