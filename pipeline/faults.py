"""Faults: named crash points for the crash tests ([debug] crash_at); a no-op unless configured."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)
CRASH_POINTS = ("after_receive", "after_apply", "after_move", "after_send")


def crash_point(name: str, configured: str) -> None:
    """Exit the process at once, without cleanup, when `name` is the configured crash point."""
    if configured and configured == name:
        log.warning("crash_at=%s: exiting as if killed", name)
        logging.shutdown()
        os._exit(137)
