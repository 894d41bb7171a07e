"""Test servers: real Dovecot IMAP, an aiosmtpd SMTP sink and PostgreSQL on 127.0.0.1.

Each class owns one server in a directory the caller gives it, picks free ports at run time
(so parallel and CI runs don't clash), writes pid files, and stops only the pids it started,
never anything by name. ``start()`` raises ``RuntimeError`` with the tail of the server's
log when the server cannot come up; nothing here skips. Works as root (Dovecot mail as
``nobody``, PostgreSQL as ``postgres``) and rootless. The recipe and the pitfalls cited
(D1-D10, G1, S1-S3, Q1-Q3) are in /work/shared/notes/test-servers.md.

As root, the users the servers run as (dovecot, nobody, postgres) must be able to traverse
``base_dir``'s ancestors: pytest's own ``/tmp/pytest-of-root`` is mode 0700, so the fixtures
use ``tempfile.mkdtemp()`` directories instead (``make_server_dir``).
"""

from __future__ import annotations

import grp
import imaplib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple, Self

from imapclient import IMAPClient

HOST = "127.0.0.1"
IS_ROOT = os.geteuid() == 0
SINK_SCRIPT = Path(__file__).with_name("smtp_sink.py")


# --------------------------------------------------------------------------- helpers


def make_server_dir(name: str) -> Path:
    """Creates a fresh directory under the system temp dir that service users can traverse.

    The caller removes it (``shutil.rmtree``) after stopping the server.
    """
    path = Path(tempfile.mkdtemp(prefix=f"tiket-{name}-"))
    path.chmod(0o755)
    return path


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_accepts(port: int, host: str = HOST) -> bool:
    """True when a TCP connection to host:port succeeds right now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs; a zombie counts as dead (pitfall G1: PID 1 reaps slowly)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # Field 3 follows the parenthesised command name, which may itself contain spaces.
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Polls ``predicate`` until it is true or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return predicate()
        time.sleep(interval)
    return True


def read_pid(path: Path) -> int | None:
    """Returns the pid on the first line of ``path``, or None when absent or unreadable."""
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def stop_pid(pid: int, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> bool:
    """Sends ``sig`` to ``pid`` and waits until it is gone; SIGKILLs it after ``timeout``.

    Returns True when it ended within ``timeout``. A pid that is already gone is fine.
    """
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    if wait_until(lambda: not pid_alive(pid), timeout):
        return True
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_until(lambda: not pid_alive(pid), 5.0)
    return False


def group_members(pgid: int) -> list[int]:
    """Returns the live (non-zombie) pids whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def reap(proc: subprocess.Popen[bytes] | None) -> None:
    """Collects our child's exit status so it does not linger as a zombie."""
    if proc is not None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def log_tail(path: Path, lines: int = 30) -> str:
    """Returns the last ``lines`` lines of a log file, or a note that it is missing."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:]) or f"({path} is empty)"


def make_certificate(tls_dir: Path) -> tuple[Path, Path]:
    """Creates a self-signed cert (SAN DNS:localhost, IP:127.0.0.1) in ``tls_dir``.

    Returns (cert_path, key_path); an existing pair is reused. The cert doubles as the CA file
    clients pass to ``ssl.create_default_context(cafile=...)`` (pitfall D9).
    Raises RuntimeError when openssl fails.
    """
    cert, key = tls_dir / "cert.pem", tls_dir / "key.pem"
    if cert.exists() and key.exists():
        return cert, key
    tls_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl could not make a test certificate:\n{result.stderr}")
    key.chmod(0o600)
    return cert, key


def require_traversable(path: Path, user: str) -> None:
    """Raises RuntimeError unless OS user ``user`` may traverse every directory up to ``path``."""
    entry = pwd.getpwnam(user)
    groups = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    for directory in (path, *path.parents):
        st = directory.stat()
        if st.st_uid == entry.pw_uid:
            ok = bool(st.st_mode & 0o100)
        elif st.st_gid in groups:
            ok = bool(st.st_mode & 0o010)
        else:
            ok = bool(st.st_mode & 0o001)
        if not ok:
            raise RuntimeError(
                f"user {user!r} cannot traverse {directory} (mode {oct(st.st_mode & 0o777)}), "
                f"needed for {path}; use a directory from tests.servers.make_server_dir()"
            )


class ServerBase:
    """Context-manager protocol shared by the servers: ``with X(...) as x`` starts and stops."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- Dovecot


class StoredMail(NamedTuple):
    """One message as stored on the IMAP server."""

    uid: int
    raw: bytes
    flags: tuple[str, ...]


DEFAULT_FOLDERS = ("INBOX", "Processed", "Quarantine", "Archive", "Drafts", "Sent", "Junk", "Trash")
_SPECIAL_USE = {
    "Archive": r"\Archive",
    "Drafts": r"\Drafts",
    "Sent": r"\Sent",
    "Junk": r"\Junk",
    "Trash": r"\Trash",
}
_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")


class Dovecot(ServerBase):
    """A Dovecot IMAP server on 127.0.0.1 with passwd-file users, configured for tests.

    ``port`` serves plain IMAP with STARTTLS, ``ssl_port`` IMAPS; ``ca_file`` verifies both.
    Ports are chosen at the first ``start()`` and kept by ``restart()``. Each user has INBOX
    and the auto-subscribed folders of ``DEFAULT_FOLDERS`` (separator "/").
    Passwords must not contain ":" or whitespace (ValueError).
    """

    def __init__(self, base_dir: Path, users: dict[str, str]) -> None:
        for user, password in users.items():
            if re.search(r"[:\s]", user + password):
                raise ValueError(f"user {user!r}: ':' and whitespace are not allowed")
        self.base_dir = Path(base_dir).resolve()
        self.users = dict(users)
        self.host = HOST
        self.port = 0
        self.ssl_port = 0
        self.config_path = self.base_dir / "dovecot.conf"
        self.log_path = self.base_dir / "dovecot.log"
        self.pid_path = self.base_dir / "run" / "master.pid"
        self.ca_file = self.base_dir / "tls" / "cert.pem"
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle

    def start(self) -> None:
        """Starts Dovecot and waits until a user can log in.

        Picks new free ports when the chosen ones are taken (first start only).
        Raises RuntimeError with the log tail when Dovecot does not come up.
        """
        if self._proc is not None and self._proc.poll() is None:
            return
        fixed_ports = bool(self.port)
        for _attempt in range(1 if fixed_ports else 3):
            if not fixed_ports:
                self.port, self.ssl_port = free_port(), free_port()
            self._write_files()
            if self._launch():
                return
            if fixed_ports or "Address already in use" not in log_tail(self.log_path):
                break
        raise RuntimeError(
            f"Dovecot did not start on {self.host}:{self.port}/{self.ssl_port}.\n"
            f"--- {self.log_path} (tail) ---\n{log_tail(self.log_path)}\n"
            f"--- stderr ---\n{log_tail(self.base_dir / 'dovecot.stderr')}"
        )

    def stop(self) -> None:
        """SIGTERMs the master and waits (zombies count as gone, G1); then TERMs leftovers.

        Leftovers are live members of the master's process group (D8). Safe to call twice.
        """
        pid = self._proc.pid if self._proc is not None else read_pid(self.pid_path)
        if pid is not None:
            stop_pid(pid, signal.SIGTERM, timeout=15.0)
            reap(self._proc)
            for leftover in group_members(pid):
                stop_pid(leftover, signal.SIGTERM, timeout=5.0)
        self._proc = None
        self.pid_path.unlink(missing_ok=True)

    def restart(self) -> None:
        """Stops and starts again on the same ports, keeping all mail."""
        self.stop()
        self.start()

    def _launch(self) -> bool:
        """Runs ``dovecot -F`` as our child; True once a LOGIN works, False if it died."""
        self.pid_path.unlink(missing_ok=True)  # a stale master.pid blocks the start (G1)
        with open(self.base_dir / "dovecot.stderr", "wb") as stderr:
            self._proc = subprocess.Popen(
                ["dovecot", "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )
        if self._wait_ready(timeout=20.0):
            return True
        self.stop()
        return False

    def _wait_ready(self, timeout: float) -> bool:
        """Waits until the port answers and the first user can log in (auth + mail work)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            if port_accepts(self.port) and self._login_works():
                return True
            time.sleep(0.02)
        return False

    def _login_works(self) -> bool:
        if not self.users:
            return True
        user = next(iter(self.users))
        try:
            with self.connect(user):
                return True
        except (OSError, imaplib.IMAP4.error):  # not ready yet: try again
            return False

    # -- files

    def _write_files(self) -> None:
        """Writes the cert, users file, home dir and a complete dovecot.conf."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("run", "state", "home"):
            (self.base_dir / sub).mkdir(exist_ok=True)
        make_certificate(self.base_dir / "tls")
        users_file = self.base_dir / "users"
        users_file.write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in self.users.items()))
        if IS_ROOT:
            require_traversable(self.base_dir, "nobody")
            require_traversable(self.base_dir, "dovecot")
            nobody = pwd.getpwnam("nobody")
            os.chown(self.base_dir / "home", nobody.pw_uid, nobody.pw_gid)
            os.chown(users_file, 0, grp.getgrnam("dovecot").gr_gid)
            users_file.chmod(0o640)  # the auth process reads it as "dovecot" (D7)
        else:
            users_file.chmod(0o600)
        self.config_path.write_text(self._config_text())

    def _config_text(self) -> str:
        """Returns dovecot.conf: one setting per line, each "{" ends its line (D1)."""
        b = self.base_dir
        if IS_ROOT:
            mail = pwd.getpwnam("nobody")
            identity = [
                "default_internal_user = dovecot",
                "default_login_user = dovenull",
                "first_valid_uid = 1",
            ]
            rootless: list[str] = []
        else:
            mail = pwd.getpwuid(os.geteuid())
            me, my_group = mail.pw_name, grp.getgrgid(mail.pw_gid).gr_name
            identity = [
                f"default_internal_user = {me}",
                f"default_login_user = {me}",
                f"default_internal_group = {my_group}",
                f"first_valid_uid = {mail.pw_uid}",
                f"first_valid_gid = {mail.pw_gid}",
            ]
            rootless = [
                "service anvil {",
                "  chroot =",
                "}",
                "service auth {",
                "  user = $default_internal_user",
                "}",
                "service auth-worker {",
                "  user = $default_internal_user",
                "}",
            ]
        dh = Path("/usr/share/dovecot/dh.pem")
        mailboxes: list[str] = []
        for name in DEFAULT_FOLDERS[1:]:
            mailboxes += [f"  mailbox {name} {{", "    auto = subscribe"]
            if name in _SPECIAL_USE:
                mailboxes.append(f"    special_use = {_SPECIAL_USE[name]}")
            mailboxes.append("  }")
        lines = [
            f"instance_name = tiket-test-{self.ssl_port}",
            f"base_dir = {b}/run",
            f"state_dir = {b}/state",
            "protocols = imap",
            f"listen = {self.host}",
            f"log_path = {self.log_path}",
            f"info_log_path = {self.log_path}",
            f"debug_log_path = {self.log_path}",
            *identity,
            "ssl = yes",
            f"ssl_cert = <{b}/tls/cert.pem",
            f"ssl_key = <{b}/tls/key.pem",
            *([f"ssl_dh = <{dh}"] if dh.exists() else []),
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            "login_trusted_networks = 127.0.0.0/8",
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {b}/users",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={mail.pw_uid} gid={mail.pw_gid} home={b}/home/%u",
            "}",
            "mail_location = maildir:~/Maildir",
            "mail_fsync = never",
            "namespace inbox {",
            "  inbox = yes",
            "  separator = /",
            *mailboxes,
            "}",
            "protocol imap {",
            "  mail_max_userip_connections = 200",
            "}",
            "mailbox_idle_check_interval = 1 secs",
            "auth_failure_delay = 0 secs",
            "service anvil {",
            "  unix_listener anvil-auth-penalty {",
            "    mode = 0",
            "  }",
            "}",
            "service imap-login {",
            *(["  chroot ="] if not IS_ROOT else []),
            "  service_count = 0",
            "  process_min_avail = 1",
            "  inet_listener imap {",
            f"    port = {self.port}",
            "  }",
            "  inet_listener imaps {",
            f"    port = {self.ssl_port}",
            "    ssl = yes",
            "  }",
            "}",
            *rootless,
        ]
        return "\n".join(lines) + "\n"

    # -- clients and mailbox helpers

    def ssl_context(self) -> ssl.SSLContext:
        """Returns a client context that trusts this server's certificate."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    @contextmanager
    def connect(
        self,
        user: str,
        *,
        tls: Literal["plain", "starttls", "ssl"] = "plain",
        timeout: float = 10.0,
    ) -> Iterator[IMAPClient]:
        """Yields an IMAPClient logged in as ``user``; logs out on exit.

        Raises KeyError for an unknown user, imapclient's LoginError on a refused login.
        """
        password = self.users[user]
        if tls == "ssl":
            client = IMAPClient(
                self.host,
                port=self.ssl_port,
                ssl=True,
                ssl_context=self.ssl_context(),
                timeout=timeout,
            )
        else:
            client = IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
            if tls == "starttls":
                client.starttls(self.ssl_context())
        try:
            client.login(user, password)
            yield client
        finally:
            try:
                client.logout()
            except (OSError, imaplib.IMAP4.error):  # connection already gone: just close
                client.shutdown()

    def append(self, user: str, folder: str, raw: bytes, flags: tuple[str, ...] = ()) -> int:
        """APPENDs ``raw`` to ``folder`` and returns its UID (from APPENDUID, UIDPLUS).

        Raises RuntimeError when the server answers without APPENDUID.
        """
        with self.connect(user) as client:
            response = client.append(folder, raw, flags=flags)
        match = _APPENDUID.search(response if isinstance(response, bytes) else response.encode())
        if not match:
            raise RuntimeError(f"APPEND to {folder!r} gave no APPENDUID: {response!r}")
        return int(match.group(1))

    def fetch_all(self, user: str, folder: str) -> list[StoredMail]:
        """Returns every message of ``folder`` by ascending UID, read-only (no \\Seen added)."""
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")  # not "1:*": imapclient 4 rejects it (I1)
            if not uids:
                return []
            data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"])
        return [
            StoredMail(
                uid,
                data[uid][b"BODY[]"],
                tuple(f.decode() if isinstance(f, bytes) else f for f in data[uid][b"FLAGS"]),
            )
            for uid in sorted(data)
        ]

    def folder_uids(self, user: str, folder: str) -> list[int]:
        """Returns the UIDs in ``folder``, ascending."""
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            return sorted(client.search("ALL"))

    def reset_user(self, user: str) -> None:
        """Empties every folder of ``user`` and deletes folders outside ``DEFAULT_FOLDERS``.

        Done over IMAP, so it is safe while other sessions of that user are open; UIDs keep
        counting up (UIDVALIDITY is unchanged for the default folders).
        """
        with self.connect(user) as client:
            # Virtual parents (\Noselect, e.g. "a" of "a/b") vanish with their children.
            names = [
                name
                for flags, _sep, name in client.list_folders()
                if not {b"\\Noselect", b"\\NonExistent"} & set(flags)
            ]
            extras = sorted(
                (n for n in names if n not in DEFAULT_FOLDERS),
                key=lambda n: n.count("/"),
                reverse=True,
            )
            for name in extras:
                client.delete_folder(name)
            for name in DEFAULT_FOLDERS:
                client.subscribe_folder(name)
                info = client.select_folder(name)
                if info.get(b"EXISTS", 0):
                    client.delete_messages(client.search("ALL"))
                    client.expunge()
                client.unselect_folder()

    def doveadm(self, *args: str) -> str:
        """Runs ``doveadm -c <our config> *args`` and returns stdout.

        Raises subprocess.CalledProcessError (with stderr) when doveadm fails.
        """
        result = subprocess.run(
            ["doveadm", "-c", str(self.config_path), *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout


@dataclass(frozen=True, slots=True, kw_only=True)
class ImapUser:
    """One IMAP account on a running ``Dovecot``: connection facts plus mailbox helpers."""

    host: str
    port: int
    ssl_port: int
    ca_file: Path
    user: str
    password: str
    server: Dovecot

    def connect(
        self, *, tls: Literal["plain", "starttls", "ssl"] = "plain"
    ) -> AbstractContextManager[IMAPClient]:
        """A logged-in IMAPClient for this user (see ``Dovecot.connect``)."""
        return self.server.connect(self.user, tls=tls)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts the server's certificate."""
        return self.server.ssl_context()

    def append(self, folder: str, raw: bytes, flags: tuple[str, ...] = ()) -> int:
        """APPENDs ``raw`` to ``folder``; returns its UID."""
        return self.server.append(self.user, folder, raw, flags)

    def fetch(self, folder: str = "INBOX") -> list[StoredMail]:
        """Every message of ``folder`` as (uid, raw, flags), by UID, without setting \\Seen."""
        return self.server.fetch_all(self.user, folder)

    def uids(self, folder: str = "INBOX") -> list[int]:
        """The UIDs in ``folder``, ascending."""
        return self.server.folder_uids(self.user, folder)


# --------------------------------------------------------------------------- SMTP sink


class SmtpSink(ServerBase):
    """The aiosmtpd sink of ``tests/smtp_sink.py``, run as a child process on 127.0.0.1.

    With ``tls=True`` it offers STARTTLS (``ca_file`` verifies it); with ``auth=(user, pw)``
    it requires AUTH, which is offered only after STARTTLS (S3), so ``auth`` needs ``tls``.
    ``stop()`` really closes the port and ``start()`` reopens the same port number, also from
    another process: ``SmtpSink(same_base_dir, tls=..., auth=...)`` finds the pid and the port
    in ``base_dir``. Messages land in ``mail_dir``; see ``messages()``.
    """

    def __init__(
        self, base_dir: Path, *, tls: bool = False, auth: tuple[str, str] | None = None
    ) -> None:
        if auth and not tls:
            raise ValueError("auth needs tls: AUTH is only offered after STARTTLS")
        self.base_dir = Path(base_dir).resolve()
        self.tls = tls
        self.auth = auth
        self.host = HOST
        self.port = 0
        self.mail_dir = self.base_dir / "mail"
        self.control_path = self.base_dir / "control.json"
        self.pid_path = self.base_dir / "sink.pid"
        self.port_path = self.base_dir / "sink.port"  # written by the sink while it listens
        self.last_port_path = self.base_dir / "last.port"  # kept, so a restart reuses it
        self.log_path = self.base_dir / "sink.log"
        self.ca_file: Path | None = self.base_dir / "tls" / "cert.pem" if tls else None
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = read_pid(self.last_port_path) or 0

    def start(self) -> None:
        """Starts the sink (on the same port as before, if it ran) and waits until it accepts.

        Raises RuntimeError with the sink's log tail when it does not come up.
        """
        if self._running_pids():
            return
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.mail_dir.mkdir(exist_ok=True)
        command = [
            sys.executable,
            str(SINK_SCRIPT),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--dir",
            str(self.mail_dir),
            "--control",
            str(self.control_path),
            "--pidfile",
            str(self.pid_path),
            "--portfile",
            str(self.port_path),
        ]
        if self.tls:
            cert, key = make_certificate(self.base_dir / "tls")
            command += ["--tls-cert", str(cert), "--tls-key", str(key)]
        if self.auth:
            command += ["--auth", ":".join(self.auth)]
        self.port_path.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        proc = self._proc
        if wait_until(lambda: self.port_path.exists() or proc.poll() is not None, 15.0):
            port = read_pid(self.port_path)
            if port and port_accepts(port):
                self.port = port
                self.last_port_path.write_text(f"{port}\n")
                return
        self.stop()
        raise RuntimeError(
            f"SMTP sink did not start on {self.host}:{self.port}.\n"
            f"--- {self.log_path} (tail) ---\n{log_tail(self.log_path)}"
        )

    def stop(self) -> None:
        """SIGTERMs the sink by pid and waits until it exited; the port is closed after.

        Stops our child and the pid in ``sink.pid`` (which another process may have started).
        """
        for pid in self._running_pids():
            stop_pid(pid, signal.SIGTERM, timeout=10.0)
        reap(self._proc)
        self._proc = None
        self.pid_path.unlink(missing_ok=True)

    def _running_pids(self) -> set[int]:
        """Live pids of this sink: our child and/or the one named in ``sink.pid``."""
        pids = {read_pid(self.pid_path)}
        if self._proc is not None:
            pids.add(self._proc.pid)
        return {pid for pid in pids if pid is not None and pid_alive(pid)}

    def fail_next(
        self,
        code: int,
        n: int = 1,
        *,
        stage: Literal["ANY", "RCPT", "DATA"] = "ANY",
        text: str = "",
    ) -> None:
        """Answers the next ``n`` RCPT or DATA commands (or only ``stage``) with ``code``.

        E.g. ``fail_next(451, 1)``: one transient failure; ``fail_next(550, 1)``: permanent.
        Works across processes (a control file the sink reads on each command).
        """
        control = {"code": code, "remaining": n, "stage": stage, "text": text}
        tmp = self.control_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(control))
        os.replace(tmp, self.control_path)

    def messages(self) -> list[tuple[dict[str, Any], bytes]]:
        """Returns (meta, raw) for each stored message, in arrival order."""
        stems = sorted(
            (p.stem for p in self.mail_dir.glob("*.eml")),
            key=lambda s: tuple(int(part) for part in s.split("-")),
        )
        return [
            (
                json.loads((self.mail_dir / f"{s}.json").read_text()),
                (self.mail_dir / f"{s}.eml").read_bytes(),
            )
            for s in stems
        ]

    def wait_for(self, n: int, timeout: float = 5.0) -> list[tuple[dict[str, Any], bytes]]:
        """Polls until at least ``n`` messages arrived; returns them all.

        Raises TimeoutError naming the count when fewer arrived within ``timeout`` seconds.
        """
        if not wait_until(lambda: len(list(self.mail_dir.glob("*.eml"))) >= n, timeout):
            count = len(list(self.mail_dir.glob("*.eml")))
            raise TimeoutError(f"SMTP sink got {count} of {n} messages within {timeout} s")
        return self.messages()

    def clear(self) -> None:
        """Deletes every stored message and cancels pending ``fail_next`` failures."""
        for path in self.mail_dir.glob("*"):
            if path.is_file():
                path.unlink()
        self.control_path.unlink(missing_ok=True)

    def ssl_context(self) -> ssl.SSLContext:
        """Returns a client context that trusts this sink's certificate (tls=True only)."""
        if self.ca_file is None:
            raise ValueError("this sink runs without TLS")
        return ssl.create_default_context(cafile=str(self.ca_file))


# --------------------------------------------------------------------------- PostgreSQL


def postgres_bindir() -> Path:
    """Returns the newest /usr/lib/postgresql/<v>/bin holding initdb (or $TIKET_PG_BIN).

    Raises RuntimeError when none exists (run tests/servers/install.sh).
    """
    if os.environ.get("TIKET_PG_BIN"):
        return Path(os.environ["TIKET_PG_BIN"])
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if not found:
        raise RuntimeError("no /usr/lib/postgresql/*/bin/initdb; run tests/servers/install.sh")
    return found[-1].parent


_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class Postgres(ServerBase):
    """A throw-away PostgreSQL cluster on 127.0.0.1 with role and database ``tiket``.

    ``url`` is ``postgresql://tiket:tiketpw@127.0.0.1:<port>/tiket``. initdb runs at the first
    ``start()`` only; the socket lives in ``base_dir`` (Q2); durability is off (Q3).
    As root, every server command runs as OS user ``postgres`` (Q1).
    """

    role = "tiket"
    password = "tiketpw"

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.data_dir = self.base_dir / "data"
        self.log_path = self.base_dir / "postgres.log"
        self.pid_path = self.data_dir / "postmaster.pid"
        self.host = HOST
        self.port = 0
        self.bindir = postgres_bindir()

    @property
    def url(self) -> str:
        """URL of the ``tiket`` database, as role ``tiket``."""
        return self.database_url(self.role)

    def database_url(self, name: str) -> str:
        """URL of database ``name`` on this server, as role ``tiket``."""
        return f"postgresql://{self.role}:{self.password}@{self.host}:{self.port}/{name}"

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        """Runs a server binary, as ``postgres`` when we are root (Q1)."""
        prefix = ["runuser", "-u", "postgres", "--"] if IS_ROOT else []
        return subprocess.run(
            [*prefix, str(self.bindir / command[0]), *command[1:]],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def _init_cluster(self) -> None:
        """Runs initdb into ``data_dir`` (once). Raises RuntimeError with its output."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if IS_ROOT:
            require_traversable(self.base_dir.parent, "postgres")
            pg = pwd.getpwnam("postgres")
            os.chown(self.base_dir, pg.pw_uid, pg.pw_gid)
        self.base_dir.chmod(0o700)
        result = self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> None:
        """Starts the cluster (initdb first if needed) and creates role and database tiket.

        Raises RuntimeError with the server log tail when it does not come up.
        """
        running = read_pid(self.pid_path)
        if running is not None and pid_alive(running):
            return
        first_start = not (self.data_dir / "PG_VERSION").exists()
        if first_start:
            self._init_cluster()
        fixed_port = bool(self.port)
        for _attempt in range(1 if fixed_port else 3):
            if not fixed_port:
                self.port = free_port()
            result = self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_path),
                "-w",
                "-t",
                "30",
                "-o",
                f"-c listen_addresses={self.host} -c port={self.port} "
                f"-c unix_socket_directories={self.base_dir} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off",
                "start",
            )
            if result.returncode == 0:
                break
        else:
            raise RuntimeError(
                f"PostgreSQL did not start on {self.host}:{self.port}:\n{result.stderr}\n"
                f"--- {self.log_path} (tail) ---\n{log_tail(self.log_path)}"
            )
        if first_start:
            self._superuser_sql(
                f"CREATE ROLE {self.role} LOGIN CREATEDB PASSWORD '{self.password}'",
                f"CREATE DATABASE {self.role} OWNER {self.role}",
            )

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster by pid); waits until it exited."""
        pid = read_pid(self.pid_path)
        if pid is not None:
            stop_pid(pid, signal.SIGINT, timeout=15.0)
            wait_until(lambda: not self.pid_path.exists(), 2.0)

    def _superuser_sql(self, *statements: str) -> None:
        """Runs each statement in autocommit as superuser over the unix socket."""
        import psycopg2  # test dependency; imported here so IMAP-only runs don't need it

        conn = psycopg2.connect(
            host=str(self.base_dir), port=self.port, user="postgres", dbname="postgres"
        )
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            conn.close()

    def create_database(self, name: str) -> str:
        """Creates an empty database ``name`` owned by ``tiket``; returns its URL.

        Raises ValueError for a name that is not a plain lower-case identifier.
        """
        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"not a plain identifier: {name!r}")
        self._superuser_sql(f"CREATE DATABASE {name} OWNER {self.role}")
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drops database ``name`` if it exists, closing its open connections first."""
        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"not a plain identifier: {name!r}")
        self._superuser_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def remove_server_dir(path: Path) -> None:
    """Deletes a directory made by ``make_server_dir`` (best effort)."""
    shutil.rmtree(path, ignore_errors=True)
