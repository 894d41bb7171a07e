"""Similar-ticket search at scale: build the hashed sparse index for N resolved tickets, time queries.

    python benchmarks/similar.py [--tickets 1000000] [--queries 50]

Texts are generated from IT-desk phrase pools (subject + a short body, like stored tickets); the
index is the one pipeline/jobs/similar.py keeps (hashed word and bigram rows, L2-normalised, float32
CSR arrays grown the same way). Prints build time, the matrix's non-zeros and memory, the process's
peak RSS, and the median and p90 query latency.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.jobs.similar import extend, row_scores, vectorise  # noqa: E402

THINGS = [
    "printer",
    "laptop",
    "vpn",
    "outlook",
    "mailbox",
    "password",
    "account",
    "monitor",
    "wifi",
    "teams",
    "sharepoint",
    "excel",
    "payroll system",
    "hr portal",
    "badge reader",
    "docking station",
    "keyboard",
    "phone",
    "mfa app",
    "shared drive",
    "sap",
    "citrix",
]
PROBLEMS = [
    "does not start",
    "keeps crashing",
    "is very slow",
    "shows an error",
    "is locked",
    "cannot connect",
    "stopped working after the update",
    "needs to be replaced",
    "access denied",
    "jams every morning",
    "lost the settings",
    "will not sync",
]
PLACES = ["floor {n}", "room {n}", "the {n}th floor office", "building {n}", "home office"]
NOTES = [
    "restarted the service",
    "replaced the device",
    "reset the password and unlocked the account",
    "reinstalled the client",
    "cleared the cache",
    "updated the driver",
    "granted access",
]


def texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        thing, problem = rng.choice(THINGS), rng.choice(PROBLEMS)
        place = rng.choice(PLACES).format(n=rng.randint(1, 40))
        out.append(
            f"{thing} {problem}\nHello, my {thing} on {place} {problem}. "
            f"I tried again {rng.randint(2, 9)} times. It started {rng.choice(['today', 'yesterday', 'on monday'])}. "
            f"Ticket note: {rng.choice(NOTES)}."
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    start = time.perf_counter()
    indptr, indices, data = np.zeros(1, np.int64), np.empty(0, np.int32), np.empty(0, np.float32)
    rows = nnz = 0
    for chunk_start in range(0, args.tickets, 50_000):
        chunk = texts(min(50_000, args.tickets - chunk_start), seed=chunk_start)
        part_indptr, part_indices, part_data = vectorise(chunk)
        indptr = extend(indptr, rows + 1, part_indptr[1:] + nnz)
        indices = extend(indices, nnz, part_indices)
        data = extend(data, nnz, part_data)
        rows, nnz = rows + len(chunk), nnz + len(part_indices)
    indptr, indices, data = indptr[: rows + 1], indices[:nnz], data[:nnz]
    build = time.perf_counter() - start
    megabytes = (data.nbytes + indices.nbytes + indptr.nbytes) / 2**20
    built_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queries = texts(args.queries, seed=-1)
    timings = []
    for text in queries:
        t0 = time.perf_counter()
        scores = row_scores(indptr, indices, data, text)
        best = np.argpartition(-scores, 3)[:3]
        best[np.argsort(-scores[best])]
        timings.append(time.perf_counter() - t0)
    timings.sort()
    print(
        f"similar tickets: {args.tickets:,} resolved tickets indexed in {build:.1f} s "
        f"({nnz:,} non-zeros, {megabytes:.0f} MB as float32 CSR); "
        f"peak RSS {built_rss:.0f} MB built, "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB after the queries"
    )
    print(
        f"query (vectorise + one pass over the non-zeros + top 3): median {1000 * statistics.median(timings):.0f} ms, "
        f"p90 {1000 * timings[int(0.9 * (len(timings) - 1))]:.0f} ms over {len(timings)} queries"
    )


if __name__ == "__main__":
    main()
