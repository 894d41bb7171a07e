"""Intake throughput: generated realistic mails through the whole pipeline into SQLite + the file outbox.

    python benchmarks/intake.py [--mails 2000] [--runs 3] [--source maildir|imap|both] [--triage]

For each source it prints mails/s (median of --runs runs, each in a fresh child process on a fresh
data folder), CPU seconds per 1,000 mails of the main process (parse workers excluded; the
"1 proc" line parses in the main process, so its CPU figure is the whole cost), peak RSS, and as the ceiling mail-parser's bare parse
rate on the same mails. A run covers receive (commit raw), parse, screen, match, triage, plan,
render, apply_plan, moving every mail on the server and writing every acknowledgement to the
file outbox. With --triage the default triage model is used (built first if missing).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from mailgen import generate_mails, write_maildir  # noqa: E402


def child(args: argparse.Namespace) -> None:
    """One measured run in this process; prints a JSON line."""
    from pipeline.app import Tiket
    from pipeline.cli import setup_logging
    from pipeline.jobs.intake import NoTriage
    from tests.tiket_fixtures import test_settings

    setup_logging("ERROR")
    work = Path(args.work)
    boxes = None
    if args.source == "imap":
        (work / "pw").write_text(args.imap_password)
        boxes = [
            {
                "name": "bench",
                "url": f"imap://{args.imap_user}@127.0.0.1:{args.imap_port}/INBOX",
                "ca_file": args.ca_file,
                "password_file": str(work / "pw"),
            }
        ]
    extra = {
        "triage": {
            "build_default": bool(args.triage),
            "model_dir": args.model_dir if args.triage else str(work / "none"),
        },
        "intake": {"parse_workers": int(args.parse_workers)},
    }
    settings = test_settings(work, mailboxes=boxes, extra=extra)
    triager = None if args.triage else NoTriage()
    runtime = Tiket.open(settings, triager=triager)
    if args.triage:
        runtime.triager.load()  # type: ignore[attr-defined]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    summary = runtime.run_once()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "peak_kb": peak_kb,
                "fetched": summary.fetched,
                "dispositions": dict(summary.dispositions),
                "sent": summary.delivery.sent,
            }
        )
    )


def bare_parse_rate(mails: list[bytes]) -> float:
    """mail-parser alone on the same mails: the ceiling for any pipeline built on it."""
    import logging

    import mailparser

    logging.getLogger("mailparser").setLevel(logging.CRITICAL)
    start = time.perf_counter()
    for raw in mails:
        mailparser.parse_from_bytes(raw)
    return len(mails) / (time.perf_counter() - start)


def run_child(argv: list[str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_maildir(
    mails: list[bytes], args: argparse.Namespace, workers: str = "0"
) -> list[dict[str, object]]:
    results = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as work:
            write_maildir(mails, Path(work) / "Maildir")
            results.append(
                run_child(
                    [
                        "--work",
                        work,
                        "--source",
                        "maildir",
                        "--parse-workers",
                        workers,
                        *triage_args(args),
                    ]
                )
            )
    return results


def bench_imap(mails: list[bytes], args: argparse.Namespace) -> list[dict[str, object]]:
    from tests.servers import Dovecot, make_server_dir, remove_server_dir

    base = make_server_dir("bench-dovecot")
    server = Dovecot(base, {"bench": "benchpw"})
    server.start()
    results = []
    try:
        for _ in range(args.runs):
            server.reset_user("bench")
            with server.connect("bench") as client:
                for start in range(0, len(mails), 100):
                    client.multiappend("INBOX", mails[start : start + 100])
            with tempfile.TemporaryDirectory() as work:
                results.append(
                    run_child(
                        [
                            "--work",
                            work,
                            "--source",
                            "imap",
                            "--imap-user",
                            "bench",
                            "--imap-password",
                            "benchpw",
                            "--imap-port",
                            str(server.port),
                            "--ca-file",
                            str(server.ca_file),
                            *triage_args(args),
                        ]
                    )
                )
    finally:
        server.stop()
        remove_server_dir(base)
    return results


def triage_args(args: argparse.Namespace) -> list[str]:
    return ["--triage", "--model-dir", args.model_dir] if args.triage else []


def report(name: str, results: list[dict[str, object]], n: int) -> None:
    rates = [n / float(r["wall"]) for r in results]  # type: ignore[arg-type]
    cpu = [1000 * float(r["cpu"]) / n for r in results]  # type: ignore[arg-type]
    peak = max(int(r["peak_kb"]) for r in results) / 1024  # type: ignore[call-overload]
    print(
        f"{name:8s} mails/s median {statistics.median(rates):7.0f}  "
        f"(runs: {', '.join(f'{r:.0f}' for r in rates)})  "
        f"CPU s per 1,000 mails {statistics.median(cpu):5.2f}  "
        f"= {1000 / statistics.median(cpu):5.0f} mails per CPU-second  peak RSS {peak:5.0f} MB"
    )
    print(
        f"         outcome of one run: {results[0]['dispositions']}, acks written "
        f"{results[0]['sent']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--source", choices=("maildir", "imap", "both"), default="both")
    parser.add_argument("--triage", action="store_true", help="use the default triage model")
    parser.add_argument("--model-dir", default=str(ROOT / "tiket-data" / "model"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--imap-user", help=argparse.SUPPRESS)
    parser.add_argument("--imap-password", help=argparse.SUPPRESS)
    parser.add_argument("--imap-port", help=argparse.SUPPRESS)
    parser.add_argument("--ca-file", help=argparse.SUPPRESS)
    parser.add_argument("--parse-workers", default="0", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    mails = generate_mails(args.mails, seed=42)
    size = sum(map(len, mails)) / len(mails)
    print(
        f"tiket intake benchmark: {len(mails)} generated mails (mean {size / 1024:.1f} KB), "
        f"{args.runs} runs each, {os.cpu_count()} CPUs, triage {'on' if args.triage else 'off'}"
    )
    ceiling = statistics.median(bare_parse_rate(mails) for _ in range(args.runs))
    print(f"ceiling  mail-parser bare parse {ceiling:7.0f} mails/s (median of {args.runs})")
    if args.source in ("maildir", "both"):
        report("maildir", bench_maildir(mails, args), len(mails))
        # CPU time of the pool's workers is not in the figure above; one process counts it all
        report("1 proc", bench_maildir(mails, args, workers="1"), len(mails))
    if args.source in ("imap", "both"):
        report("dovecot", bench_imap(mails, args), len(mails))


if __name__ == "__main__":
    main()
