"""Parse pool (EDGE): parses big batches in worker processes, so a backlog uses every core.

Parsing is pure and is most of intake's CPU time, so it is the part worth spreading; everything
that touches the database stays in the main process. Workers start lazily (forkserver, so the
daemon's threads and open connections are never forked) and only for batches large enough to
repay the pickling.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime

from pipeline.records import ParsedMail
from pipeline.stages.parsing import parse_mail

log = logging.getLogger(__name__)
MIN_BATCH = 64


@dataclass(frozen=True, slots=True)
class ParseFailure:
    """A mail that could not be parsed: the exception and its traceback text."""

    error: Exception
    trace: str


def parse_one(
    raw: bytes, received_at: datetime, max_mail_bytes: int, max_attachment_bytes: int
) -> ParsedMail | ParseFailure:
    """Parse one mail, turning any exception into a ParseFailure (runs in a worker)."""
    try:
        return parse_mail(
            raw,
            received_at=received_at,
            max_mail_bytes=max_mail_bytes,
            max_attachment_bytes=max_attachment_bytes,
        )
    except Exception as exc:  # isolation point: per mail, reported back to the main process
        return ParseFailure(exc, traceback.format_exc())


def _exit_with(owner: int) -> None:
    """Worker initializer: end this worker once the daemon that owns the pool is gone.

    A SIGKILLed daemon cannot shut its pool down, and forkserver workers hold each other's pipes
    open, so without this they (and the forkserver) would live on as orphans after every kill.
    """

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:  # a reused pid of another user: ours is gone
                os._exit(0)

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def worker_count(configured: int) -> int:
    """0 means one worker per CPU when there is more than one CPU, else none."""
    if configured > 0:
        return configured
    cpus = os.cpu_count() or 1
    return cpus if cpus > 1 else 0


class ParsePool:
    """Parses in-process for small batches, in worker processes for big ones."""

    def __init__(self, workers: int, max_mail_bytes: int, max_attachment_bytes: int) -> None:
        self.workers = workers
        self.limits = (max_mail_bytes, max_attachment_bytes)
        self._executor: ProcessPoolExecutor | None = None

    def parse_many(
        self, items: Sequence[tuple[bytes, datetime]]
    ) -> list[ParsedMail | ParseFailure]:
        """One result per (raw, received_at), in order."""
        if self.workers < 2 or len(items) < MIN_BATCH:
            return [parse_one(raw, at, *self.limits) for raw, at in items]
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_exit_with, initargs=(os.getpid(),)
            )
        n = len(items)
        try:
            return list(
                self._executor.map(
                    parse_one,
                    [r for r, _ in items],
                    [a for _, a in items],
                    [self.limits[0]] * n,
                    [self.limits[1]] * n,
                    chunksize=max(1, n // (self.workers * 4)),
                )
            )
        except (BrokenProcessPool, OSError, RuntimeError) as exc:
            # workers could not start or died (e.g. killed by the OOM killer): parse here
            # from now on; intake must not stop because the pool did
            log.warning("parse pool unavailable, parsing in-process: %s", exc)
            self.close()
            self.workers = 0
            return [parse_one(raw, at, *self.limits) for raw, at in items]

    def close(self) -> None:
        """Stop the workers, if any were started."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
