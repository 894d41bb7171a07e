"""Serving form vs scikit-learn: the same bundle served both ways must give the same answers.

    PYTHONPATH=. python benchmarks/serving_equivalence.py --model-dir DIR --old-tree /path/to/main

DIR holds a format-2 bundle (pickled scikit-learn objects). The old tree's code serves it with
scikit-learn (in a child process with PYTHONPATH=old tree); this tree converts it to the serving form
on load. Texts: the 2,000 benchmark mails (mailgen, seed 42, parsed by intake's parser), every CSV
under /work/shared/data/tickets and the shipped training data (classifiers/data), and the .eml files
under /work/shared/data/emails. Printed per source: the max abs difference of the TF-IDF rows, of
each head's probabilities, of suggest_many's confidences, and the count of label or applied flips.
"""

from __future__ import annotations

import argparse
import csv
import os
import pickle
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path("/work/shared/data")


def _parsed(raw: bytes) -> tuple[str, str] | None:
    from pipeline.stages.parsing import parse_mail

    try:
        mail = parse_mail(
            raw,
            received_at=datetime(2026, 1, 1, tzinfo=UTC),
            max_mail_bytes=50_000_000,
            max_attachment_bytes=50_000_000,
        )
    except Exception:  # unparseable mails have no text to compare
        return None
    return mail.subject, mail.text


def collect() -> dict[str, list[tuple[str, str]]]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from mailgen import generate_mails

    from classifiers.datasets import read_tickets

    out: dict[str, list[tuple[str, str]]] = {}
    out["mailgen-2000"] = [p for p in map(_parsed, generate_mails(2000, seed=42)) if p]
    emails = sorted((SHARED / "emails").rglob("*.eml"))
    out[f"emails-{len(emails)}"] = [p for p in (_parsed(e.read_bytes()) for e in emails) if p]
    for path in sorted((SHARED / "tickets").rglob("*.csv")):  # raw exports: their own column names
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        subject = next(
            c for c in ("subject", "title", "short_description", "Document") if c in rows[0]
        )
        body = next((c for c in ("body", "description") if c in rows[0]), None)
        out[str(path.relative_to(SHARED))] = [
            (row[subject] or "", (row[body] or "") if body else "") for row in rows
        ]
    for path in sorted((ROOT / "classifiers" / "data").glob("*.csv.gz")):  # the shipped data
        out[f"shipped/{path.name}"] = read_tickets(path).pairs()
    out["tricky"] = [
        ("", ""),
        ("Ünïcödé ÇAFÉ naïve", "straße STRASSE ﬁle İstanbul ǅ"),
        ("don't can't", "it's the user's o'clock rock'n'roll"),
        ("12 345 6789", "v2 x86_64 a1b2 __init__ 3.14"),
        ("long", " ".join(["printer vpn outlook password"] * 5000)),
    ]
    return out


def answers(model_dir: Path, items: dict[str, list[tuple[str, str]]]) -> dict[str, Any]:
    """What the model in ``model_dir`` says, with whichever ``classifiers`` package is on the path."""
    from classifiers import load_model
    from classifiers.features import prepare_mails

    model = load_model(model_dir)
    out: dict[str, Any] = {"sklearn": "sklearn" in sys.modules}
    for source, pairs in items.items():
        mails = prepare_mails(pairs)
        x = model._vectorizer.transform([m.model_text for m in mails])
        results = model.suggest_many(pairs)
        out[source] = {
            "x": (np.asarray(x.indptr), np.asarray(x.indices), np.asarray(x.data)),
            "probs": {name: head.probabilities(x) for name, head in model._heads.items()},
            "suggest": [
                [(h.label, h.confidence, h.applied) for h in r.heads]
                + [(r.breach_suspected, r.breach_reasons)]
                for r in results
            ],
        }
    return out


def compare(old: dict[str, Any], new: dict[str, Any], items: dict[str, Any]) -> int:
    bad = 0
    print(f"old imported sklearn: {old['sklearn']}; new imported sklearn: {new['sklearn']}")
    for source in items:
        o, n = old[source], new[source]
        same_structure = all(np.array_equal(a, b) for a, b in zip(o["x"][:2], n["x"][:2]))
        dx = (
            float(np.abs(o["x"][2] - n["x"][2]).max()) if same_structure and o["x"][2].size else 0.0
        )
        dp = {h: float(np.abs(o["probs"][h] - n["probs"][h]).max(initial=0.0)) for h in o["probs"]}
        flips = confidence = 0.0
        for ro, rn in zip(o["suggest"], n["suggest"], strict=True):
            for ho, hn in zip(ro[:-1], rn[:-1], strict=True):
                flips += (ho[0], ho[2]) != (hn[0], hn[2])
                confidence = max(confidence, abs(ho[1] - hn[1]))
            flips += ro[-1] != rn[-1]
        bad += int(flips) + (not same_structure)
        probs = ", ".join(f"{h} {d:.1e}" for h, d in dp.items())
        print(
            f"{source}: {len(items[source])} mails; tfidf same cells {same_structure}, max |dx| {dx:.1e}; "
            f"max |dp| {probs}; suggest_many flips {int(flips)}, max |d confidence| {confidence:.1e}"
        )
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--old-tree", type=Path, default=Path("/work/main"))
    parser.add_argument("--answer", nargs=2, metavar=("ITEMS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.answer:  # the child: answer with the tree on PYTHONPATH
        items = pickle.loads(Path(args.answer[0]).read_bytes())
        Path(args.answer[1]).write_bytes(pickle.dumps(answers(args.model_dir, items)))
        return 0
    items = collect()
    with tempfile.TemporaryDirectory() as tmp:
        item_file, old_file = Path(tmp, "items.pkl"), Path(tmp, "old.pkl")
        item_file.write_bytes(pickle.dumps(items))
        env = {**os.environ, "PYTHONPATH": str(args.old_tree)}
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--model-dir",
                str(args.model_dir),
                "--answer",
                str(item_file),
                str(old_file),
            ],
            env=env,
            check=True,
            cwd=args.old_tree,
        )
        old = pickle.loads(old_file.read_bytes())
    new = answers(args.model_dir, items)
    bad = compare(old, new, items)
    print(f"rows: {sum(map(len, items.values()))}; disagreements: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
