"""Web console: queue and ticket page server time on a 1 M-ticket database, and 20 agents at once.

Builds (once) the digest benchmark's 1 M-ticket SQLite database with bulk SQL inserts, signs an
agent in, then measures:
  1. server time of the queue page (default sort, first page) and of a ticket page, through the
     WSGI app in-process (no network): median and p95 of 60 requests each;
  2. 20 concurrent agents against a real waitress server for 60 s, each opening the queue (a
     random one of its first pages) and then one ticket of it, 0.5-1.5 s apart (an agent reads):
     errors and p95 latency.

    .venv/bin/python benchmarks/web.py [--tickets 1000000] [--seconds 60] [--agents 20]
"""

from __future__ import annotations

import argparse
import http.client
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.digest import NOW, build, write_config
from pipeline.app import Tiket
from pipeline.settings import load_settings
from pipeline.web import create_app

AGENT = "anna@desk.example"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed(get: object, path: str, cookie: str) -> float:
    began = time.perf_counter()
    response = get(path)  # type: ignore[operator]
    assert response.status_code == 200, (path, response.status_code)
    return (time.perf_counter() - began) * 1000


def server_times(app: Tiket, cookie: str, refs: list[str]) -> None:
    flask = create_app(app)
    client = flask.test_client()
    client.set_cookie("tiket_session", cookie)
    for label, paths, fresh in (
        ("queue page (default sort, first page), read afresh", ["/"] * 60, True),
        ("queue page, shared by a tier's agents within 3 s", ["/"] * 60, False),
        ("ticket page", [f"/t/{random.choice(refs)}" for _ in range(60)], True),
    ):
        timed(client.get, paths[0], cookie)  # warm
        times = []
        for path in paths:
            if fresh:
                app.console.forget()  # no cached page or counts: the full cost every time
            times.append(timed(client.get, path, cookie))
        print(
            f"{label}: median {statistics.median(times):.1f} ms, p95 {percentile(times, 0.95):.1f} ms"
            f" (server time, {len(times)} requests)"
        )


def agents_at_once(app: Tiket, cookie: str, agents: int, seconds: float) -> None:
    from pipeline.web.serve import make_server

    server, _courier = make_server(app, "127.0.0.1:0")
    port = server.effective_port
    threading.Thread(target=server.run, daemon=True).start()
    latencies: list[float] = []
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def agent(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Cookie": f"tiket_session={cookie}"}
        last = ""
        while time.monotonic() < stop:
            for path in (f"/?page={rng.randint(1, 3)}", None):
                if path is None:
                    found = re.findall(r'data-ref="(TKT-\d+)"', last)
                    path = f"/t/{rng.choice(found)}" if found else "/"
                began = time.perf_counter()
                try:
                    conn.request("GET", path, headers=headers)
                    response = conn.getresponse()
                    last = response.read().decode()
                    if response.status != 200:
                        errors.append(f"{path}: {response.status}")
                except OSError as exc:
                    errors.append(f"{path}: {exc}")
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    last = ""
                latencies.append((time.perf_counter() - began) * 1000)
                time.sleep(rng.uniform(0.5, 1.5))

    threads = [threading.Thread(target=agent, args=(n,)) for n in range(agents)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.close()
    print(
        f"{agents} agents for {seconds:.0f} s: {len(latencies)} requests, {len(errors)} errors, "
        f"median {statistics.median(latencies):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms"
    )
    for error in errors[:5]:
        print(f"  error {error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.gettempdir()) / f"tiket-web-bench-{args.tickets}"
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "BUILT").exists():
        began = time.perf_counter()
        build(folder, args.tickets)
        print(f"built {args.tickets:,} tickets in {time.perf_counter() - began:.1f} s")
    config = write_config(folder)
    config.write_text(config.read_text() + f'\n[tiers.L1]\nmembers = ["{AGENT}"]\n')
    settings = load_settings(config, env={})
    app = Tiket(settings, clock=lambda: NOW)
    app.connect()
    cookie = app.console.open_session(AGENT, "link", "127.0.0.1", "benchmark")
    page = app.console.queue(
        __import__("pipeline.edges.console_store", fromlist=["QueueQuery"]).QueueQuery(
            agent=AGENT, tiers=("L1",)
        )
    )
    print(f"database: {args.tickets:,} tickets, {page.counts['open']:,} open in the agent's queue")
    refs = [r["ref"] for r in page.rows]
    server_times(app, cookie, refs)
    agents_at_once(app, cookie, args.agents, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
