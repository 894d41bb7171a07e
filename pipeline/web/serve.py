"""Serving the console (EDGE): waitress, a production WSGI server, plus a mail-delivery thread.

waitress is pure Python, multi-threaded and battle-tested behind reverse proxies; each of its
threads gets its own database connection (Peewee keeps connections per thread). Several
`tiket web` processes may serve one database: sessions, sign-in links and rate limits live in
the database, not in a process.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from pipeline.app import HOLDER

if TYPE_CHECKING:
    from pipeline.app import Tiket

log = logging.getLogger(__name__)


class Courier:
    """Delivers the outbox soon after an action queued mail, off the request thread.

    Takes the outbox lease only for one run and hands it back, so a daemon's outbox job is never
    kept waiting by a web process.
    """

    def __init__(self, app: Tiket) -> None:
        self.app = app
        self.wanted = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tiket-courier", daemon=True)

    def start(self) -> None:
        """Start the delivery thread."""
        self.thread.start()

    def poke(self) -> None:
        """Mail is waiting: deliver it soon."""
        self.wanted.set()

    def stop(self) -> None:
        """Stop after the current run."""
        self.stopped.set()
        self.wanted.set()

    def _run(self) -> None:
        while not self.stopped.is_set():
            self.wanted.wait(timeout=30)
            self.wanted.clear()
            if self.stopped.is_set():
                return
            try:  # isolation point: one failed run is logged, the next poke tries again
                self.app.deliver_outbox()
            except Exception:
                log.exception("web outbox delivery failed")
            finally:
                self.app.store.release_lease("outbox", HOLDER)


def make_server(app: Tiket, listen: str | None = None) -> tuple[Any, Courier]:
    """A waitress server for the console on `listen` ([web] listen) and its courier."""
    from waitress.server import create_server

    from pipeline.web import create_app

    web = app.console.web
    courier = Courier(app)
    wsgi = create_app(app, courier.poke)
    server = create_server(
        wsgi,
        listen=listen or web.listen,
        threads=web.threads,
        ident="tiket",
        clear_untrusted_proxy_headers=False,  # the console decides itself ([web] trusted_proxies)
    )
    return server, courier


def serve(app: Tiket, listen: str | None = None) -> None:
    """Serve until the process is stopped (SIGTERM/SIGINT end it cleanly)."""
    server, courier = make_server(app, listen)
    courier.start()
    log.info("web console listening on %s", listen or app.console.web.listen)
    try:
        server.run()
    finally:
        courier.stop()
        server.close()


def serve_in_thread(app: Tiket) -> Any:
    """Serve from a daemon thread (`tiket run` with [web] enabled); returns the server."""
    server, courier = make_server(app)
    courier.start()
    thread = threading.Thread(target=server.run, name="tiket-web", daemon=True)
    thread.start()
    log.info("web console listening on %s", app.console.web.listen)
    return server
