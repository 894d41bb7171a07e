"""Default training data: how classifiers/data/*.csv.gz were made from the development datasets.

Run from the repository root: ``python classifiers/data/make_data.py /work/shared/data/tickets``.
Deterministic: same input files, same output bytes (gzip mtime fixed at 0).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

OUT = Path(__file__).resolve().parent
FIELDS = ("subject", "body", "type", "category", "priority", "group")


def _rows(path: Path) -> Iterable[dict[str, str]]:
    csv.field_size_limit(2**31 - 1)
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def _write(name: str, rows: Sequence[dict[str, str]]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = gzip.compress(buffer.getvalue().encode("utf-8"), compresslevel=9, mtime=0)
    (OUT / name).write_bytes(data)
    print(name, len(rows), "rows", len(data), "bytes", hashlib.sha256(data).hexdigest())


def support_tickets(root: Path) -> list[dict[str, str]]:
    """type and priority from the synthetic support tickets; dup_group as group. queue/answer/tags dropped."""
    out: list[dict[str, str]] = []
    for name, tag in (("v5_en_dev.csv", "v5"), ("v3_4k_dev.csv", "v3")):
        for row in _rows(root / "support_tickets" / name):
            out.append({"subject": row["subject"], "body": row["body"], "type": row["type"],
                        "category": "", "priority": row["priority"],
                        "group": f"{tag}-{row['dup_group']}"})
    return out


def endava_topics(root: Path) -> list[dict[str, str]]:
    """Topic_group as category; Document as body; exact duplicate texts share a group."""
    out: list[dict[str, str]] = []
    for row in _rows(root / "endava_topic_groups" / "dev.csv"):
        key = " ".join(row["Document"].lower().split())
        out.append({"subject": "", "body": row["Document"], "type": "",
                    "category": row["Topic_group"], "priority": "",
                    "group": "e-" + hashlib.sha256(key.encode()).hexdigest()[:12]})
    return out


def endava_titles(root: Path) -> list[dict[str, str]]:
    """Endava ticket titles only (bodies leak ticket_type, see the dataset README) as kind examples."""
    out: list[dict[str, str]] = []
    for row in _rows(root / "endava_subset" / "dev.csv"):
        if not row["title"].strip():
            continue
        key = " ".join(row["title"].lower().split())
        out.append({"subject": row["title"], "body": "",
                    "type": "incident" if row["ticket_type"] == "0" else "request",
                    "category": "", "priority": "",
                    "group": "t-" + hashlib.sha256(key.encode()).hexdigest()[:12]})
    return out


def main(argv: Sequence[str]) -> int:
    root = Path(argv[1])
    _write("support_tickets.csv.gz", support_tickets(root))
    _write("endava_topics.csv.gz", endava_topics(root))
    _write("endava_titles.csv.gz", endava_titles(root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
