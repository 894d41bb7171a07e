"""Desk-export benchmark: train on one public source as a desk would (`tiket train --data`), check on held-out rows.

For each source (Endava tickets with type and category code; synthetic support tickets with type and
priority; ATA incidents routed to 72 assignment groups) the development rows are split by group
(exact-text hash) 80/20; tiket trains on the 80 % and is evaluated on the 20 %, and so is a plain
class-balanced TF-IDF + LinearSVC (scikit-learn defaults) on the same rows, per head.

Usage: python benchmarks/desk_exports.py [--root /work/shared/data/tickets] [--rows 3000]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifiers.cli import evaluate_model
from classifiers.datasets import normalise_kind, read_tickets
from classifiers.features import prepare_texts
from classifiers.model_card import make_bundle
from classifiers.persistence import write_model_dir
from classifiers.training import TrainingOptions, train_heads
from classifiers.triage_model import load_model

FIELDS = ("subject", "body", "type", "category", "priority")


def _rows(path: Path) -> Iterator[dict[str, str]]:
    csv.field_size_limit(2**31 - 1)
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def endava(root: Path) -> list[dict[str, str]]:
    return [
        {
            "subject": r["title"],
            "body": r["body"],
            "type": "request" if r["ticket_type"] == "1" else "incident",
            "category": "cat" + r["category"],
        }
        for r in _rows(root / "endava_subset" / "dev.csv")
    ]


def support(root: Path) -> list[dict[str, str]]:
    return [
        {"subject": r["subject"], "body": r["body"], "type": r["type"], "priority": r["priority"]}
        for r in _rows(root / "support_tickets" / "v5_en_dev.csv")
    ]


def ata(root: Path) -> list[dict[str, str]]:
    return [
        {
            "subject": r["short_description"],
            "body": r["description"],
            "category": r["assignment_group"],
        }
        for r in _rows(root / "ata" / "dev.csv")
    ]


def _bucket(row: dict[str, str]) -> int:
    key = " ".join((row["subject"] + " " + row["body"]).lower().split())
    return int(hashlib.sha256(("bench|" + key).encode()).hexdigest()[:8], 16) % 100


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def baseline_macro_f1(
    train: list[dict[str, str]], test: list[dict[str, str]], column: str
) -> float:
    """Plain class-balanced TF-IDF + LinearSVC on the same prepared texts and rows."""
    label = normalise_kind if column == "type" else (lambda v: v)
    tr = [r | {column: label(r[column])} for r in train if r.get(column)]
    te = [r | {column: label(r[column])} for r in test if r.get(column)]
    vec = TfidfVectorizer()
    x = vec.fit_transform(prepare_texts([(r["subject"], r["body"]) for r in tr]))
    model = LinearSVC(class_weight="balanced", random_state=0).fit(x, [r[column] for r in tr])
    pred = model.predict(vec.transform(prepare_texts([(r["subject"], r["body"]) for r in te])))
    truth = [r[column] for r in te]
    return float(
        f1_score(truth, pred, labels=sorted(set(truth)), average="macro", zero_division=0.0)
    )


def run_source(
    name: str, rows: list[dict[str, str]], limit: int, workdir: Path, *, seed: int = 0
) -> dict[str, Any]:
    """Train on ``limit`` development rows of one source (sample ``seed``), evaluate on the held-out 20 %."""
    rng = np.random.default_rng(7 + seed)
    order = rng.permutation(len(rows))
    shuffled = [rows[i] for i in order]
    train = [r for r in shuffled if _bucket(r) >= 20][:limit]
    test = [r for r in shuffled if _bucket(r) < 20]
    data = read_tickets(_write(workdir / f"{name}_train.csv", train))
    # The held-out 20 % is fixed (by text hash); the seed changes which training rows are sampled.
    result = train_heads(data, TrainingOptions())
    bundle, card = make_bundle(result, data, TrainingOptions(), created_at=datetime.now(UTC))
    model = load_model(write_model_dir(workdir / f"{name}_model", bundle, card))
    report = evaluate_model(model, read_tickets(_write(workdir / f"{name}_test.csv", test)))
    out: dict[str, Any] = {"train_rows": len(train), "test_rows": len(test), "heads": {}}
    for head, metrics in report["heads"].items():
        column = {"kind": "type"}.get(head, head)
        cv = card["heads"][head]["cv"]
        out["heads"][head] = {
            "oof_accuracy": cv["accuracy"],
            "checked": card["heads"][head]["threshold"],
            "accuracy": metrics["accuracy"],
            "macro_f1": metrics["macro_f1"],
            "baseline_macro_f1": round(baseline_macro_f1(train, test, column), 4),
            "applied_precision": metrics["at_threshold"]["precision"],
            "coverage": metrics["at_threshold"]["coverage"],
        }
    return out


SOURCES = {"endava": endava, "support": support, "ata": ata}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=Path("/work/shared/data/tickets"))
    parser.add_argument("--rows", type=int, default=3000, help="training rows per export")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, reader in SOURCES.items():
            figures = run_source(name, reader(args.root), args.rows, Path(tmp))
            print(
                f"desk export {name}: trained on {figures['train_rows']} rows, checked on {figures['test_rows']} held-out rows"
            )
            for head, m in figures["heads"].items():
                ap = "n/a" if m["applied_precision"] is None else f"{m['applied_precision']:.3f}"
                print(
                    f"  {head:<9} oof_acc={m['oof_accuracy']:.3f} held-out: acc={m['accuracy']:.3f} "
                    f"applied_precision={ap} coverage={m['coverage']:.3f} macro_f1={m['macro_f1']:.3f} "
                    f"(baseline {m['baseline_macro_f1']:.3f}); threshold check fold: "
                    f"{m['checked']['checked_precision']} / {m['checked']['checked_coverage']}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
