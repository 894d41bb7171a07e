"""Default training data: how classifiers/data/*.csv.gz were made from the development datasets.

Run from the repository root: ``python classifiers/data/make_data.py /work/shared/data/tickets``.
Deterministic: same input files, same output bytes (gzip mtime fixed at 0).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

OUT = Path(__file__).resolve().parent
sys.path.insert(
    0, str(OUT.parents[1])
)  # the repository root: classifiers.labelling, classifiers.features
FIELDS = ("subject", "body", "type", "category", "priority", "group")


def _rows(path: Path) -> Iterable[dict[str, str]]:
    csv.field_size_limit(2**31 - 1)
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def _write(name: str, rows: Sequence[dict[str, str]], fields: Sequence[str] = FIELDS) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
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
            out.append(
                {
                    "subject": row["subject"],
                    "body": row["body"],
                    "type": row["type"],
                    "category": "",
                    "priority": row["priority"],
                    "group": f"{tag}-{row['dup_group']}",
                }
            )
    return out


def endava_titles(root: Path) -> list[dict[str, str]]:
    """Endava ticket titles only (bodies leak ticket_type, see the dataset README) as kind examples."""
    out: list[dict[str, str]] = []
    for row in _rows(root / "endava_subset" / "dev.csv"):
        if not row["title"].strip():
            continue
        key = " ".join(row["title"].lower().split())
        out.append(
            {
                "subject": row["title"],
                "body": "",
                "type": "incident" if row["ticket_type"] == "0" else "request",
                "category": "",
                "priority": "",
                "group": "t-" + hashlib.sha256(key.encode()).hexdigest()[:12],
            }
        )
    return out


# ATA rows are all filed as incidents (a ServiceNow incident table), but some are plainly service requests
# ("need access to …", "please install …"). A row with a request cue and no fault cue is left out, so the
# kind head does not learn that asking for software or access is an incident.
_REQUEST_CUE = re.compile(
    r"""\b(?:install(?:ed|ation)?|request(?:ing|ed)?|need(?:s|ed)?\s+(?:\w+\s+){0,2}access|access\s+(?:to|for|request)
       |new\s+(?:user|laptop|account|starter|hire|employee|joiner)|create\s+(?:\w+\s+){0,2}(?:account|user|id|mailbox|folder)
       |set\s*up|add\s+(?:me|user|him|her)|provide\s+(?:\w+\s+){0,2}access|please\s+(?:add|create|provide|grant|give)
       |grant|permission)\b""",
    re.IGNORECASE | re.VERBOSE,
)
_FAULT_CUE = re.compile(
    r"""\b(?:error|errors|not|unable|cannot|can't|cant|issue|issues|problem|problems|fail\w*|down|locked|crash\w*
       |broken|stopped|wrong|lost)\b""",
    re.IGNORECASE | re.VERBOSE,
)
ATA_WEIGHT = "0.5"  # see PROVENANCE.md: full weight made raw-style requests flip to incident
ATA_FIELDS = ("subject", "body", "type", "group", "weight")


def ata_incidents(root: Path) -> tuple[list[dict[str, str]], int]:
    """ATA short_description + description as incident examples for kind, minus request-looking rows.

    group = hash of the (pseudonymised) caller, so one person's tickets stay in one fold; weight 0.5.
    Returns the rows and how many request-looking rows were left out.
    """
    out: list[dict[str, str]] = []
    skipped = 0
    for row in _rows(root / "ata" / "dev.csv"):
        text = row["short_description"] + "\n" + row["description"]
        if _REQUEST_CUE.search(text) and not _FAULT_CUE.search(text):
            skipped += 1
            continue
        caller = " ".join(row["caller"].lower().split())
        out.append(
            {
                "subject": row["short_description"],
                "body": row["description"],
                "type": "incident",
                "group": "a-" + hashlib.sha256(caller.encode()).hexdigest()[:12],
                "weight": ATA_WEIGHT,
            }
        )
    return out, skipped


CATEGORY_FIELDS = ("subject", "body", "category", "group")
# Synthetic support tickets: only the queues of an IT desk (the others are product, billing, sales and
# returns questions of a company's customers, not its staff).
_IT_QUEUES = {"Technical Support", "IT Support", "Service Outages and Maintenance"}


def _weak(subject: str, body: str, tag: str | None = None) -> str | None:
    from classifiers.features import normalise_text, strip_mail_noise
    from classifiers.labelling import label_category

    return label_category(
        normalise_text(subject), normalise_text(strip_mail_noise(body)), tag=tag
    ).label


def it_categories(root: Path) -> tuple[list[dict[str, str]], dict[str, int]]:
    """Default IT-desk category labels by the weak-supervision rules (classifiers/labelling.py) on the
    texts of Endava (with its Topic_group as a veto), ATA and the IT queues of the support tickets.
    Rows the rules abstain on are left out. Returns rows and per-source counts (labelled, seen)."""
    out: list[dict[str, str]] = []
    seen: dict[str, int] = {}

    def add(source: str, subject: str, body: str, group: str, tag: str | None = None) -> None:
        seen[source + " seen"] = seen.get(source + " seen", 0) + 1
        label = _weak(subject, body, tag)
        if label is not None:
            seen[source + " labelled"] = seen.get(source + " labelled", 0) + 1
            out.append({"subject": subject, "body": body, "category": label, "group": group})

    for row in _rows(root / "endava_topic_groups" / "dev.csv"):
        key = " ".join(row["Document"].lower().split())
        group = "e-" + hashlib.sha256(key.encode()).hexdigest()[:12]
        add("endava", "", row["Document"], group, row["Topic_group"])
    for row in _rows(root / "ata" / "dev.csv"):
        caller = " ".join(row["caller"].lower().split())
        group = "a-" + hashlib.sha256(caller.encode()).hexdigest()[:12]
        add("ata", row["short_description"], row["description"], group)
    for name, tag in (("v5_en_dev.csv", "v5"), ("v3_4k_dev.csv", "v3")):
        for row in _rows(root / "support_tickets" / name):
            if row["queue"] in _IT_QUEUES and row.get("language", "en") == "en":
                add("support", row["subject"], row["body"], f"{tag}-{row['dup_group']}")
    return out, seen


def main(argv: Sequence[str]) -> int:
    root = Path(argv[1])
    _write("support_tickets.csv.gz", support_tickets(root))
    categories, counts = it_categories(root)
    print("it_categories:", counts)
    _write("it_categories.csv.gz", categories, CATEGORY_FIELDS)
    _write("endava_titles.csv.gz", endava_titles(root))
    ata, skipped = ata_incidents(root)
    print("ata: left out", skipped, "request-looking rows")
    _write("ata_incidents.csv.gz", ata, ATA_FIELDS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
