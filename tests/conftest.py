"""Shared pytest fixtures for tiket's tests."""

from __future__ import annotations

# ============================================================================================
# Test servers (tests/servers.py): real Dovecot, aiosmtpd sink and PostgreSQL on 127.0.0.1.
# A server that cannot start makes its fixture ERROR with the server's log tail; nothing here
# skips. Further fixtures go below this block.
# ============================================================================================
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import (
    Dovecot,
    ImapUser,
    Postgres,
    SmtpSink,
    make_server_dir,
    remove_server_dir,
)

IMAP_USERS = {"desk": "deskpw", "other": "otherpw"}
SMTP_AUTH = ("sender", "senderpw")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot for the session with users desk/deskpw and other/otherpw."""
    base = make_server_dir("dovecot")
    server = Dovecot(base, IMAP_USERS)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        remove_server_dir(base)


@pytest.fixture
def imap_user(dovecot: Dovecot) -> ImapUser:
    """The "desk" account with every folder emptied and extra folders deleted."""
    dovecot.reset_user("desk")
    return ImapUser(
        host=dovecot.host,
        port=dovecot.port,
        ssl_port=dovecot.ssl_port,
        ca_file=dovecot.ca_file,
        user="desk",
        password=IMAP_USERS["desk"],
        server=dovecot,
    )


@pytest.fixture
def smtp_sink_factory() -> Iterator[Callable[..., SmtpSink]]:
    """Makes started sinks: ``factory(tls=False, auth=None)``; all are stopped afterwards."""
    made: list[tuple[SmtpSink, Path]] = []

    def factory(*, tls: bool = False, auth: tuple[str, str] | None = None) -> SmtpSink:
        base = make_server_dir("smtp")
        sink = SmtpSink(base, tls=tls, auth=auth)
        made.append((sink, base))
        sink.start()
        return sink

    yield factory
    for sink, base in made:
        sink.stop()
        remove_server_dir(base)


@pytest.fixture
def smtp_sink(smtp_sink_factory: Callable[..., SmtpSink]) -> SmtpSink:
    """A fresh, empty plain SMTP sink (no TLS, no AUTH)."""
    return smtp_sink_factory()


@pytest.fixture
def smtp_sink_tls(smtp_sink_factory: Callable[..., SmtpSink]) -> SmtpSink:
    """A fresh, empty sink with STARTTLS that requires AUTH sender/senderpw after it."""
    return smtp_sink_factory(tls=True, auth=SMTP_AUTH)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL cluster for the session (started only when a test asks for it)."""
    base = make_server_dir("postgres")
    server = Postgres(base)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        remove_server_dir(base)


_database_numbers = itertools.count(1)


@pytest.fixture
def pg_url(postgres: Postgres) -> Iterator[str]:
    """URL of a fresh, empty database owned by role tiket; dropped after the test."""
    name = f"test_{next(_database_numbers)}"
    url = postgres.create_database(name)
    yield url
    postgres.drop_database(name)


# ============================================================================================
# End of the test-server block.
# ============================================================================================


# ============================================================================================
# Database backends: every database-touching test runs on SQLite AND on PostgreSQL.
#
# The rule (automatic, so future test modules are covered without a decorator): a test runs once
# per backend when its module imports `test_settings`, `build_runtime` or `open_database`, or when
# it asks for the `tiket_db` fixture itself. Tests of pure functions in such a module opt out
# with `@pytest.mark.one_backend`. For the postgresql run, `tiket_db` creates a FRESH database on
# the session cluster and points tests.tiket_fixtures.DATABASE_URL at it, so test_settings() and
# every config written with tiket_fixtures.database_section() (the real `tiket` processes) use it.
# ============================================================================================
from tests import tiket_fixtures

BACKENDS = ("sqlite", "postgresql")
_DB_HELPERS = ("test_settings", "Tiket", "open_database")


def _touches_database(metafunc: pytest.Metafunc) -> bool:
    if metafunc.definition.get_closest_marker("one_backend"):
        return False
    if "tiket_db" in metafunc.definition._fixtureinfo.argnames:  # asked for by name (not autouse)
        return True
    return any(hasattr(metafunc.module, name) for name in _DB_HELPERS)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if _touches_database(metafunc):
        metafunc.parametrize("tiket_db", BACKENDS, indirect=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "one_backend: a pure test in a database-touching module; "
        "runs once, not per database backend",
    )


_pg_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def tiket_db(request: pytest.FixtureRequest) -> Iterator[str]:
    """The backend of this test run: "sqlite" (default) or "postgresql" (a fresh database)."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield backend
        return
    server: Postgres = request.getfixturevalue("postgres")
    name = f"tiket_t{next(_pg_numbers)}"
    tiket_fixtures.DATABASE_URL = server.create_database(name)
    try:
        yield backend
    finally:
        tiket_fixtures.DATABASE_URL = None
        from pipeline.edges import models

        db = models.database_proxy.obj
        if db is not None and not db.is_closed():
            db.close()
        server.drop_database(name)
