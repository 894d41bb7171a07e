"""SMTP sink: an aiosmtpd server that stores every message it accepts as files, for tests.

Run as a process (``python -m tests.smtp_sink`` or ``python tests/smtp_sink.py``); the
``SmtpSink`` class in ``tests/servers.py`` starts and stops it. Each accepted message becomes
``<dir>/<ns>-<n>.eml`` (the raw DATA bytes, unchanged) plus ``<dir>/<ns>-<n>.json`` holding
``{peer, mail_from, rcpt_tos, auth_user, tls, received_ns}``. Both are written in
``<dir>/.tmp`` and renamed into place, the .json first, so a poller that lists ``*.eml``
never sees half a message.

Behaviour switches are read from a control file (``--control``), so another process can
drive them: ``{"code": 451, "remaining": 2, "stage": "ANY", "text": "..."}`` answers the
next 2 RCPT or DATA commands (stage "RCPT", "DATA" or "ANY") with ``451 text``.

The process writes its pid to ``--pidfile`` and the bound port to ``--portfile`` once it
listens (``--port 0`` picks a free port), and exits 0 on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

log = logging.getLogger("tiket.smtp_sink")

HOSTNAME = "sink.test"  # fixed, so aiosmtpd never calls the possibly slow socket.getfqdn()


class _DropDeprecation(logging.Filter):
    """Drops aiosmtpd's own "login_data is deprecated" warning after each AUTH (pitfall S2)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


def write_atomically(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class SinkHandler:
    """aiosmtpd handler: applies the control file's failures, then stores each message."""

    def __init__(self, mail_dir: Path, control_file: Path) -> None:
        self.mail_dir = mail_dir
        self.tmp_dir = mail_dir / ".tmp"
        self.control_file = control_file
        self.counter = 0
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def take_failure(self, stage: str) -> str | None:
        """Returns the SMTP reply to force for ``stage`` ("RCPT"/"DATA") and counts it down.

        Returns None when the control file is absent, exhausted or aimed at the other stage.
        """
        try:
            control = json.loads(self.control_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        if control.get("remaining", 0) <= 0 or control.get("stage", "ANY") not in ("ANY", stage):
            return None
        control["remaining"] -= 1
        write_atomically(self.control_file, json.dumps(control).encode())
        return f"{int(control['code'])} {control.get('text') or 'Forced failure (test sink)'}"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        forced = self.take_failure("RCPT")
        if forced:
            return forced
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        forced = self.take_failure("DATA")
        if forced:
            return forced
        self.store(session, envelope)
        return "250 Message accepted for delivery"

    def store(self, session: Session, envelope: Envelope) -> None:
        """Writes the .json then the .eml via ``.tmp`` and renames, the .json first."""
        received_ns = time.time_ns()
        self.counter += 1
        stem = f"{received_ns}-{self.counter:06d}"
        auth = session.auth_data
        meta: dict[str, Any] = {
            "peer": list(session.peer) if isinstance(session.peer, tuple) else session.peer,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "auth_user": auth.login.decode() if isinstance(auth, LoginPassword) else None,
            "tls": session.ssl is not None,
            "received_ns": received_ns,
        }
        raw = envelope.original_content or b""
        (self.tmp_dir / f"{stem}.json").write_text(json.dumps(meta))
        (self.tmp_dir / f"{stem}.eml").write_bytes(raw)
        os.replace(self.tmp_dir / f"{stem}.json", self.mail_dir / f"{stem}.json")
        os.replace(self.tmp_dir / f"{stem}.eml", self.mail_dir / f"{stem}.eml")


def make_authenticator(user: str, password: str) -> Any:
    """Returns an aiosmtpd authenticator accepting exactly ``user``/``password``."""

    def authenticate(
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        # auth_data must be handed back, or session.auth_data stays None (pitfall S1).
        return AuthResult(success=ok, auth_data=auth_data if ok else None, handled=False)

    return authenticate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line; see the module docstring."""
    parser = argparse.ArgumentParser(description="Store every SMTP message as files (tests).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--dir", type=Path, required=True, help="where .eml/.json land")
    parser.add_argument("--control", type=Path, required=True, help="failure switch file")
    parser.add_argument("--pidfile", type=Path, required=True)
    parser.add_argument("--portfile", type=Path, required=True)
    parser.add_argument("--tls-cert", type=Path, help="offer STARTTLS with this cert")
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--auth", help="USER:PASSWORD; AUTH is then required (after STARTTLS)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Listens until SIGTERM/SIGINT, then closes the port and removes the pid/port files."""
    tls_context = None
    if args.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
    handler = SinkHandler(args.dir, args.control)
    smtp_kwargs: dict[str, Any] = {
        "hostname": HOSTNAME,
        "enable_SMTPUTF8": True,
        "tls_context": tls_context,
        "require_starttls": False,
    }
    if args.auth:
        user, _, password = args.auth.partition(":")
        smtp_kwargs.update(
            authenticator=make_authenticator(user, password),
            auth_required=True,
            auth_require_tls=True,
        )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, **smtp_kwargs),
        host=args.host,
        port=args.port,
        reuse_address=True,
    )
    port = server.sockets[0].getsockname()[1]
    write_atomically(args.pidfile, str(os.getpid()).encode())
    write_atomically(args.portfile, str(port).encode())
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()
    for path in (args.portfile, args.pidfile):
        path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 after a clean stop)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("mail.log").addFilter(_DropDeprecation())
    args.dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
