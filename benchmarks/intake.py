"""Intake cost: the real `tiket run --once` with the default triage model, whole process tree counted.

    python benchmarks/intake.py [--mails 2000] [--runs 3] [--source maildir|imap] [--no-stages]

Every measured run is a real `tiket run --once` (the CLI, in a child process, with the default
configuration: the default model with its freshness check, parse workers, the file outbox) on a
fresh data folder, against SQLite. The default model is built once beforehand into a cache folder
(--model-dir, not timed). Each mail is delivered with the arrival time its Date header says (the
Maildir file's mtime, or the IMAP INTERNALDATE): the generated mails span about a day, as a day of
a desk's traffic does, so the burst detector sees them spread as the daemon would. CPU is user+sys of the whole process tree: this script makes itself a
child subreaper, so the parse workers and the forkserver are reaped here and counted even when
they outlive the CLI process. Figures, medians of --runs runs:

* start-up: CPU-seconds of a run that finds one new mail (imports, migrations, model check and
  load, one mail, outbox);
* per mail: (CPU of the --mails run - CPU of the one-mail run) / (mails - 1), and its inverse,
  mails per CPU-second beyond start-up;
* peak RSS of the tree (the sum over its processes, sampled every 20 ms) and of its largest process;
* a breakdown by stage from one extra run in one process (parse in-process, exclusive CPU timers
  around the stages);
* the ceiling: mail-parser's bare parse of the same mails.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from mailgen import arrival_times, generate_mails, write_maildir  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36


@dataclass(slots=True)
class Run:
    """One measured `tiket run --once`."""

    cpu: float
    wall: float
    tree_peak_mb: float
    proc_peak_mb: float
    summary: str


# -- the process tree ---------------------------------------------------------------------------
def become_subreaper() -> None:
    """Orphaned descendants (forkserver, parse workers) are re-parented to us, so we reap them
    and their CPU lands in RUSAGE_CHILDREN."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _tree_rss_mb(root: int, members: set[int]) -> tuple[float, float]:
    """(RSS summed over the run's processes, RSS of the largest of them), in MB. The run's
    processes: root and its descendants, and every process seen among them before (an orphan
    re-parented to this script still counts; a mail server this script started does not)."""
    tree, pages, largest = _children(), 0, 0
    todo, found = [root, *members], set()
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(tree.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                resident = int(handle.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        pages += resident
        largest = max(largest, resident)
    members.update(found)
    scale = os.sysconf("SC_PAGE_SIZE") / 2**20
    return pages * scale, largest * scale


@contextmanager
def tree_sampler(root: int, peak: list[float], members: set[int]) -> Iterator[None]:
    """Sample the run's RSS every 20 ms: the peak of the sum lands in peak[0], the peak of the
    largest process in peak[1] (sampled too: ru_maxrss of RUSAGE_CHILDREN would also count
    the model build this script ran before); every process of the run lands in members."""
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            tree, largest = _tree_rss_mb(root, members)
            peak[0], peak[1] = max(peak[0], tree), max(peak[1], largest)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def reap_run(members: set[int], timeout: float = 15.0) -> None:
    """Wait until every process of the run is gone, reaping those re-parented to us (so their
    CPU lands in RUSAGE_CHILDREN; workers end within a second of their owner)."""
    deadline = time.monotonic() + timeout
    left = set(members)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    left.discard(pid)
            except ChildProcessError:  # not (or no longer) our child: gone, or its parent's
                if not os.path.exists(f"/proc/{pid}"):
                    left.discard(pid)
        if left:
            time.sleep(0.05)
    if left:
        raise SystemExit(f"benchmark: processes of the run still running: {sorted(left)}")


def run_cli(config: Path) -> Run:
    """One `tiket run --once` with the whole tree's CPU and memory."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = [0.0, 0.0]
    wall0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "--config", str(config), "run", "--once"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
    )
    members: set[int] = set()
    with tree_sampler(proc.pid, peak, members):
        out, err = proc.communicate()
        reap_run(members)
    wall = time.perf_counter() - wall0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"tiket run --once failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(
        cpu=cpu,
        wall=wall,
        tree_peak_mb=peak[0],
        proc_peak_mb=peak[1],
        summary=" ".join(out.decode().split()),
    )


# -- one run's folder ---------------------------------------------------------------------------
def write_desk(work: Path, mails: list[bytes], args: argparse.Namespace) -> Path:
    """A desk like a fresh install: default settings, the cached default model, a file outbox."""
    from tests.tiket_fixtures import write_config

    box: dict[str, Any] = {"name": "bench", "url": f"maildir:{work / 'Maildir'}"}
    if args.source == "imap":
        (work / "pw").write_text(args.imap_password)
        box = {
            "name": "bench",
            "url": f"imap://{args.imap_user}@127.0.0.1:{args.imap_port}/INBOX",
            "ca_file": args.ca_file,
            "password_file": str(work / "pw"),
        }
    else:
        write_maildir(mails, work / "Maildir", arrival_times(mails))
    return write_config(
        work / "tiket.toml",
        {
            "desk": {"data_dir": str(work / "data"), "log_level": "WARNING"},
            "triage": {"model_dir": args.model_dir},
            "outbox": {"url": f"file:{work / 'outbox'}", "tls": "none"},
        },
        [box],
    )


def measure(
    mails: list[bytes], args: argparse.Namespace, fill: Callable[[list[bytes]], None]
) -> Run:
    with tempfile.TemporaryDirectory(prefix="tiket-bench-") as folder:
        fill(mails)
        return run_cli(write_desk(Path(folder), mails, args))


# -- the stage breakdown (one process, exclusive CPU per stage) -----------------------------------
STAGES: tuple[tuple[str, str, str], ...] = (
    # (stage, module, attribute: "Class.method" or a module-level function the orchestrator calls)
    ("receive (commit raw)", "pipeline.edges.store", "Store.receive_many"),
    ("claim (read raw back)", "pipeline.edges.store", "Store.claim_pending"),
    ("parse", "pipeline.edges.parse_pool", "ParsePool.parse_many"),
    ("screen", "pipeline.jobs.intake", "screen_mail"),
    ("screen: sender history", "pipeline.edges.store", "Store.sender_history"),
    ("screen: sender history", "pipeline.edges.store", "Store.sender_histories"),
    ("match reply (threading)", "pipeline.jobs.intake", "MailIntake._match"),
    ("match reply (threading)", "pipeline.jobs.intake", "MailIntake._match_many"),
    ("triage (model + breach rules)", "pipeline.jobs.intake", "MailIntake._triage"),
    ("plan", "pipeline.jobs.intake", "plan_intake"),
    ("plan", "pipeline.jobs.intake", "detect_language"),
    ("render", "pipeline.jobs.intake", "MailIntake._render"),
    ("apply_plan (SQL)", "pipeline.edges.store", "Store.apply_plan"),
    ("apply_plan (SQL)", "pipeline.edges.store", "Store.finish_intake"),
    ("match reply (threading)", "pipeline.jobs.intake", "MailIntake._batch_state"),
    ("screen + match before triage", "pipeline.jobs.intake", "MailIntake._predict_new_ticket"),
    ("batch commit", "pipeline.edges.store", "Store.flush_batch"),
    ("move on server", "pipeline.jobs.intake", "MailIntake.finish_moves"),
    ("sla job", "pipeline.app", "Tiket.run_sla_job"),
    ("outbox: read due rows", "pipeline.edges.store", "Store.due_outbox"),
    ("outbox: write .eml", "pipeline.edges.smtp_sender", "FileSender.send"),
    ("outbox: mark sent", "pipeline.edges.store", "Store.outbox_sent"),
    ("outbox: mark sent", "pipeline.edges.store", "Store.outbox_sent_many"),
    ("outbox: other", "pipeline.app", "Tiket.deliver_outbox"),
    ("batch loop + commit", "pipeline.jobs.intake", "MailIntake.process_batch"),
    ("poll loop (fetch, known uids)", "pipeline.jobs.intake", "MailIntake.poll"),
)


class StageClock:
    """Exclusive process CPU per stage: a nested stage's time is not counted in its caller's."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.stack: list[list[float]] = []

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            frame = [time.process_time(), 0.0]
            self.stack.append(frame)
            try:
                return function(*args, **kwargs)
            finally:
                self.stack.pop()
                elapsed = time.process_time() - frame[0]
                self.totals[stage] = self.totals.get(stage, 0.0) + elapsed - frame[1]
                if self.stack:
                    self.stack[-1][1] += elapsed

        timed.__wrapped__ = function  # type: ignore[attr-defined]
        return timed

    def install(self) -> None:
        import importlib

        for stage, module_name, attribute in STAGES:
            module = importlib.import_module(module_name)
            owner: Any = module
            *path, name = attribute.split(".")
            for part in path:
                owner = getattr(owner, part, None)
            if owner is None or not hasattr(owner, name):
                continue  # this version of the code has no such step
            setattr(owner, name, self.wrap(stage, getattr(owner, name)))
        # the model functions are imported late, from the package: time their imports apart
        import classifiers

        for stage, name in (
            ("model: freshness check", "ensure_default_model"),
            ("model: load", "load_model"),
        ):
            setattr(classifiers, name, self.wrap(stage, self._late(name)))

    def _late(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            import importlib

            import classifiers

            home = classifiers._HOMES[name]  # type: ignore[attr-defined]
            module = self.wrap("model: imports", importlib.import_module)(home)
            return getattr(module, name)(*args, **kwargs)

        return call


def stage_child(config: str) -> None:
    """The breakdown run: the CLI's work in this process, parsing in-process; prints JSON."""
    start = time.process_time()
    clock = StageClock()
    import pipeline.cli  # noqa: F401  (the CLI's imports, as `tiket run --once` pays them)
    from pipeline.app import Tiket
    from pipeline.settings import load_settings

    imported = time.process_time()
    clock.install()
    settings = load_settings(Path(config), env={"TIKET_INTAKE__PARSE_WORKERS": "1"})
    app = Tiket.open(settings)
    opened = time.process_time()
    app.run_once()
    end = time.process_time()
    print(
        json.dumps(
            {
                "interpreter": start,
                "imports": imported - start,
                "open store (connect, migrate)": opened - imported,
                "total": end,
                "stages": clock.totals,
            }
        )
    )


def stage_breakdown(mails: list[bytes], args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tiket-bench-") as folder:
        config = write_desk(Path(folder), mails, args)
        done = subprocess.run(
            [sys.executable, __file__, "--stage-child", str(config)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"stage run failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


START_UP = ("interpreter", "imports", "open store (connect, migrate)")


def _per_mail_total(run: dict[str, Any]) -> float:
    """CPU of the run without its start-up (imports, store, model): what a mail adds."""
    fixed = sum(run[name] for name in START_UP)
    model = sum(v for k, v in run["stages"].items() if k.startswith("model: "))
    return float(run["total"] - fixed - model)


def print_breakdown(one: dict[str, Any], many: dict[str, Any], n: int) -> None:
    print(
        "\nstage breakdown (one process, parse in-process): CPU ms per mail beyond the one-mail run"
    )
    stages = sorted((set(one["stages"]) | set(many["stages"])) - {"model: "})
    rows = [
        (name, many["stages"].get(name, 0.0) - one["stages"].get(name, 0.0))
        for name in stages
        if not name.startswith("model: ")
    ]
    total = _per_mail_total(many) - _per_mail_total(one)
    rows.append(("(outside the stages above)", total - sum(r[1] for r in rows)))
    print(f"  {'stage':34s} {'ms/mail':>8s} {'share':>6s}")
    for name, extra in sorted(rows, key=lambda r: -r[1]):
        print(f"  {name:34s} {1000 * extra / (n - 1):8.3f} {100 * extra / total:5.1f}%")
    print(f"  {'total':34s} {1000 * total / (n - 1):8.3f}")
    print("start-up (the one-mail run in one process), CPU-s:")
    for name in START_UP:
        print(f"  {name:34s} {one[name]:6.2f}")
    for name in sorted(k for k in one["stages"] if k.startswith("model: ")):
        print(f"  {name:34s} {one['stages'][name]:6.2f}")
    print(f"  {'one mail, SLA job, outbox':34s} {_per_mail_total(one):6.2f}")
    print(f"  {'total':34s} {one['total']:6.2f}")


# -- the ceiling --------------------------------------------------------------------------------
def bare_parse_rate(mails: list[bytes]) -> float:
    """mail-parser alone on the same mails, CPU: the ceiling for any pipeline built on it."""
    import logging

    import mailparser

    logging.getLogger("mailparser").setLevel(logging.CRITICAL)
    start = time.process_time()
    for raw in mails:
        mailparser.parse_from_bytes(raw)
    return len(mails) / (time.process_time() - start)


def build_model(model_dir: str) -> None:
    """The default model, built once into the cache folder (not timed)."""
    code = (
        "import sys; from pathlib import Path; from classifiers import ensure_default_model; "
        "ensure_default_model(Path(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, model_dir], cwd=ROOT, check=True)


# -- IMAP ---------------------------------------------------------------------------------------
@contextmanager
def imap_server(args: argparse.Namespace) -> Iterator[Callable[[list[bytes]], None]]:
    from tests.servers import Dovecot, make_server_dir, remove_server_dir

    base = make_server_dir("bench-dovecot")
    server = Dovecot(base, {"bench": "benchpw"})
    server.start()
    args.imap_user, args.imap_password = "bench", "benchpw"
    args.imap_port, args.ca_file = server.port, str(server.ca_file)

    def fill(mails: list[bytes]) -> None:
        server.reset_user("bench")
        with server.connect("bench") as client:
            dated = [{"msg": raw, "date": at} for raw, at in zip(mails, arrival_times(mails))]
            for start in range(0, len(dated), 100):
                client.multiappend("INBOX", dated[start : start + 100])

    try:
        yield fill
    finally:
        server.stop()
        remove_server_dir(base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--source", choices=("maildir", "imap"), default="maildir")
    parser.add_argument("--model-dir", default=str(ROOT / "tiket-data" / "model"))
    parser.add_argument("--no-stages", action="store_true", help="skip the breakdown run")
    parser.add_argument("--stages-only", action="store_true", help="only the breakdown run")
    parser.add_argument("--stage-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage_child:
        stage_child(args.stage_child)
        return
    build_model(args.model_dir)
    become_subreaper()
    mails = generate_mails(args.mails, seed=42)
    size = sum(map(len, mails)) / len(mails)
    print(
        f"tiket intake benchmark: `tiket run --once`, default model, {args.source} -> SQLite + "
        f"file outbox; {len(mails)} generated mails (mean {size / 1024:.1f} KB); {args.runs} runs; "
        f"{os.cpu_count()} CPUs; CPU = user+sys of the whole process tree"
    )
    if args.stages_only:
        print_breakdown(stage_breakdown(mails[:1], args), stage_breakdown(mails, args), len(mails))
        return
    ceiling = statistics.median(bare_parse_rate(mails) for _ in range(args.runs))
    print(f"ceiling: mail-parser bare parse {ceiling:6.0f} mails per CPU-second (median)")
    with imap_server(args) if args.source == "imap" else nullfill() as fill:
        ones, manys = [], []
        for _ in range(args.runs):  # interleaved, so load changes hit both alike
            ones.append(measure(mails[:1], args, fill))
            manys.append(measure(mails, args, fill))
        one_cpu = statistics.median(r.cpu for r in ones)
        many_cpu = statistics.median(r.cpu for r in manys)
        per_mail = [(m.cpu - o.cpu) / (len(mails) - 1) for o, m in zip(ones, manys)]
        print(f"one-mail run:   CPU {fmt([r.cpu for r in ones])} s")
        print(
            f"{len(mails)}-mail run: CPU {fmt([r.cpu for r in manys])} s, wall {fmt([r.wall for r in manys])} s"
        )
        print(
            f"per mail beyond the one-mail run: {1000 * statistics.median(per_mail):.2f} ms = "
            f"{1 / statistics.median(per_mail):.0f} mails per CPU-second "
            f"(runs: {', '.join(f'{1 / p:.0f}' for p in per_mail)}); whole run "
            f"{len(mails) / many_cpu:.0f} mails per CPU-second"
        )
        print(
            f"peak RSS: tree {max(r.tree_peak_mb for r in manys):.0f} MB "
            f"(one-mail run {max(r.tree_peak_mb for r in ones):.0f} MB), largest process "
            f"{max(r.proc_peak_mb for r in manys):.0f} MB"
        )
        print(f"outcome: {manys[0].summary}")
        print(f"(one-mail {one_cpu:.2f} s, {len(mails)} mails {many_cpu:.2f} s)")
        if not args.no_stages and args.source == "maildir":
            print_breakdown(
                stage_breakdown(mails[:1], args), stage_breakdown(mails, args), len(mails)
            )


def fmt(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} (runs: {', '.join(f'{v:.2f}' for v in values)})"


@contextmanager
def nullfill() -> Iterator[Callable[[list[bytes]], None]]:
    yield lambda mails: None


if __name__ == "__main__":
    main()
