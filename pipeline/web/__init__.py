"""Web console: a thin Flask skin over the Tiket application object (imported only by `tiket web`).

`create_app(tiket)` builds the WSGI application; `pipeline.web.serve` runs it under waitress.
Every page reads through `tiket.console`, every action is one call into `tiket.desk`, the same
code the CLI and agents' mail use, audited with the signed-in agent's address.
"""

from __future__ import annotations

from pipeline.web.app import create_app

__all__ = ["create_app"]
