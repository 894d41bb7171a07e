"""Parse pool (EDGE): parses big batches in worker processes, so a backlog uses every core.

Parsing is pure and is most of intake's CPU time, so it is the part worth spreading; everything
that touches the database stays in the main process. Workers start lazily (forkserver, so the
daemon's threads and open connections are never forked) and only for batches large enough to
repay the pickling.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import resource
import threading
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime

from pipeline.errors import UnparseableMail
from pipeline.records import ParsedMail
from pipeline.stages.parsing import MAX_PARTS, MAX_TEXT_CHARS, parse_mail

log = logging.getLogger(__name__)
MIN_BATCH = 64
MAX_CHUNK = 32
"""Most mails in one budgeted task: a mail over budget costs its chunk a second, per-mail pass."""


@dataclass(frozen=True, slots=True)
class ParseFailure:
    """A mail that could not be parsed: the exception and its traceback text."""

    error: Exception
    trace: str


def parse_one(
    raw: bytes,
    received_at: datetime,
    max_mail_bytes: int,
    max_attachment_bytes: int,
    max_parts: int = MAX_PARTS,
    max_text_chars: int = MAX_TEXT_CHARS,
) -> ParsedMail | ParseFailure:
    """Parse one mail, turning any exception into a ParseFailure (runs in a worker)."""
    try:
        return parse_mail(
            raw,
            received_at=received_at,
            max_mail_bytes=max_mail_bytes,
            max_attachment_bytes=max_attachment_bytes,
            max_parts=max_parts,
            max_text_chars=max_text_chars,
        )
    except Exception as exc:  # isolation point: per mail, reported back to the main process
        return ParseFailure(exc, traceback.format_exc())


def parse_within(
    seconds: float, raw: bytes, received_at: datetime, limits: tuple[int, int, int, int]
) -> ParsedMail | ParseFailure:
    """parse_one under a CPU budget: the kernel ends this worker (SIGXCPU) once it has used
    `seconds` more CPU time than before this mail, whatever the parser is stuck in (a regex in
    C code never checks for signals or timeouts)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    return parse_one(raw, received_at, *limits)


def parse_chunk_within(
    seconds: float, chunk: Sequence[tuple[bytes, datetime]], limits: tuple[int, int, int, int]
) -> list[ParsedMail | ParseFailure]:
    """parse_within for each mail of a chunk in turn: every mail gets its own CPU budget."""
    return [parse_within(seconds, raw, received_at, limits) for raw, received_at in chunk]


def _ready() -> bool:
    """A no-op task: running it means a worker has started and imported the parser."""
    return True


def _exit_with(owner: int) -> None:
    """Worker initializer: end this worker once the daemon that owns the pool is gone.

    A SIGKILLed daemon cannot shut its pool down, and forkserver workers hold each other's pipes
    open, so without this they (and the forkserver) would live on as orphans after every kill.
    """

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:  # a reused pid of another user: ours is gone
                os._exit(0)
            if _is_zombie(owner):  # dead, not yet reaped: its parent may be waiting on our pipes
                os._exit(0)

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def worker_count(configured: int) -> int:
    """0 means one worker per CPU when there is more than one CPU, else none."""
    if configured > 0:
        return configured
    cpus = os.cpu_count() or 1
    return cpus if cpus > 1 else 0


class ParsePool:
    """Parses in worker processes under a per-mail CPU budget (max_seconds > 0); without a
    budget, in-process for small batches and in workers for big ones."""

    def __init__(
        self,
        workers: int,
        max_mail_bytes: int,
        max_attachment_bytes: int,
        *,
        max_seconds: float = 0.0,
        max_parts: int = MAX_PARTS,
        max_text_chars: int = MAX_TEXT_CHARS,
    ) -> None:
        self.workers = workers
        self.limits = (max_mail_bytes, max_attachment_bytes, max_parts, max_text_chars)
        self.max_seconds = max_seconds
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["pipeline.edges.parse_pool"])  # workers start warm
            self._executor = ProcessPoolExecutor(
                workers, mp_context=context, initializer=_exit_with, initargs=(os.getpid(),)
            )
        return self._executor

    def start(self) -> None:
        """Start the workers now, each with the parser imported (the daemon does before its first
        IDLE: starting them costs ~0.5 s, which the first mail would otherwise wait for)."""
        if self.max_seconds <= 0 and self.workers < 2:
            return  # parsing in-process: nothing to start
        width = max(1, self.workers)
        try:
            pool = self._pool(width)
            wait([pool.submit(_ready) for _ in range(width)], timeout=self._backstop)
        except (BrokenProcessPool, OSError, RuntimeError) as exc:  # parse_many copes later
            log.warning("parse pool could not start now: %s", exc)
            self._kill()

    def parse_many(
        self, items: Sequence[tuple[bytes, datetime]]
    ) -> list[ParsedMail | ParseFailure]:
        """One result per (raw, received_at), in order."""
        if self.max_seconds > 0:
            return self._parse_budgeted(items)
        if self.workers < 2 or len(items) < MIN_BATCH:
            return [parse_one(raw, at, *self.limits) for raw, at in items]
        self._pool(self.workers)
        assert self._executor is not None
        n = len(items)
        try:
            return list(
                self._executor.map(
                    parse_one,
                    [r for r, _ in items],
                    [a for _, a in items],
                    [self.limits[0]] * n,
                    [self.limits[1]] * n,
                    [self.limits[2]] * n,
                    [self.limits[3]] * n,
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

    def _parse_budgeted(
        self, items: Sequence[tuple[bytes, datetime]]
    ) -> list[ParsedMail | ParseFailure]:
        """Chunks of mails go to the workers at once (one round trip per chunk, not per mail),
        each mail under its own CPU budget. A chunk whose worker died (a mail over budget ends
        it, and a broken pool fails the chunks still queued) is parsed again one mail per worker
        per wave; a mail still running when its wave's time is up, or whose worker died, is
        tried again alone, and quarantined if it fails alone too."""
        results: dict[int, ParsedMail | ParseFailure] = {}
        width = max(1, self.workers)
        size = max(1, min(MAX_CHUNK, math.ceil(len(items) / (width * 4))))
        chunks = [list(range(i, min(i + size, len(items)))) for i in range(0, len(items), size)]
        order = [i for chunk in self._chunked(chunks, items, results) for i in chunk]
        suspects: list[int] = []
        for start in range(0, len(order), width):
            suspects += self._wave(order[start : start + width], items, results)
        for index in suspects:
            if self._wave([index], items, results):
                results[index] = ParseFailure(UnparseableMail(self._over_budget), "")
        return [results[i] for i in range(len(items))]

    def _chunked(
        self,
        chunks: list[list[int]],
        items: Sequence[tuple[bytes, datetime]],
        results: dict[int, ParsedMail | ParseFailure],
    ) -> list[list[int]]:
        """Parse the chunks in the workers; returns the chunks that did not come back."""
        if len(chunks) <= 1 and all(len(chunk) <= self.workers for chunk in chunks):
            return chunks  # none, or a mail or two: the one-mail waves are the same work
        width = max(1, self.workers)
        pool = self._pool(width)
        futures = [
            (
                chunk,
                pool.submit(
                    parse_chunk_within, self.max_seconds, [items[i] for i in chunk], self.limits
                ),
            )
            for chunk in chunks
        ]
        # every mail may use its whole budget, and a worker takes its chunks one after another
        longest = max(len(chunk) for chunk in chunks) * math.ceil(len(chunks) / width)
        wait([f for _, f in futures], timeout=self._backstop + longest * self.max_seconds)
        failed = []
        for chunk, future in futures:
            try:
                if not future.done():
                    raise TimeoutError("chunk not done in time")
                results.update(zip(chunk, future.result()))
            except (BrokenProcessPool, TimeoutError, OSError, RuntimeError):
                failed.append(chunk)
        if failed:
            log.warning("parse action=chunks_retried chunks=%d (one mail per worker)", len(failed))
            self._kill()
        return failed

    @property
    def _backstop(self) -> float:
        """Wall-clock seconds a wave may take: the kernel enforces the CPU budget; this only
        covers a worker stuck without using CPU, so it is generous (a busy machine, pickling)."""
        return max(120.0, self.max_seconds * 10)

    @property
    def _over_budget(self) -> str:
        return (
            f"parsing took more than {self.max_seconds:g} s of CPU ([intake] max_mail_seconds), "
            f"or more than {self._backstop:g} s in all: the parse worker was stopped"
        )

    def _wave(
        self,
        indexes: list[int],
        items: Sequence[tuple[bytes, datetime]],
        results: dict[int, ParsedMail | ParseFailure],
    ) -> list[int]:
        """Parse these mails at once, one per worker; returns those that did not finish."""
        pool = self._pool(max(1, self.workers))
        futures: dict[int, Future[ParsedMail | ParseFailure]] = {
            i: pool.submit(parse_within, self.max_seconds, *items[i], self.limits) for i in indexes
        }
        wait(futures.values(), timeout=self._backstop)
        unfinished = []
        causes = set()
        for index, future in futures.items():
            try:
                if not future.done():
                    raise TimeoutError(f"not done after {self._backstop:g} s")
                results[index] = future.result()
            except (BrokenProcessPool, TimeoutError, OSError, RuntimeError) as exc:
                unfinished.append(index)
                causes.add(f"{type(exc).__name__}: {exc}"[:200])
        if unfinished:
            log.warning(
                "parse action=worker_stopped mails=%d cause=%s", len(unfinished), "; ".join(causes)
            )
            self._kill()
        return unfinished

    def _kill(self) -> None:
        """End every worker now (a stuck one cannot be stopped politely) and start afresh."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # ProcessPoolExecutor has no public way to stop a busy worker: kill them by their pids
        for process in list(getattr(executor, "_processes", {}).values()):
            try:
                process.kill()
            except (OSError, ValueError):
                pass
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers, if any were started."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
