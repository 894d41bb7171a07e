"""Classifier benchmark: train time, bundle size, latency, and grouped-validation metrics per head.

Usage: python benchmarks/classifier.py [--holdout 0.2] [--skip-build]

1. Builds the default bundle from classifiers/data into a temp dir (train time, bundle size).
2. Latency of the built model: per mail batched (1,000 mails) and one mail at a time, median of runs.
3. Holds out 20 % of the shipped rows by group (GroupShuffleSplit on dup_group / exact-text groups),
   trains the default heads on the rest, and reports per head accuracy, macro-F1 and precision and
   coverage at the threshold picked on the training part's out-of-fold predictions.
4. Kind on a few hand-written IT mails (English and Malay), on the 30 raw-style mails of
   tests/test_classifiers_kind.py, and the share of ATA (real incidents) called incidents if that file is
   available (those rows are training data since ATA was added; the hold-out's ata_incidents line is honest).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupShuffleSplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datetime import UTC, datetime

from classifiers.cli import evaluate_model
from classifiers.datasets import TicketData, read_many
from classifiers.default_model import DATA_DIR, DEFAULT_DATA_FILES, build_default_model
from classifiers.model_card import make_bundle
from classifiers.persistence import write_model_dir
from classifiers.training import TrainingOptions, train_heads
from classifiers.triage_model import TriageModel, load_model

HAND_WRITTEN: tuple[tuple[str, str, str], ...] = (
    (
        "incident",
        "Outlook keeps crashing",
        "Hi,\nOutlook crashes every time I open a calendar invite.\n"
        "I restarted twice. Please help.\n\nThanks,\nMei Ling",
    ),
    (
        "incident",
        "VPN not connecting",
        "Since this morning the VPN client says 'authentication failed' "
        "and I cannot reach the file server from home.\n\nRegards,\nJohn",
    ),
    (
        "incident",
        "printer jam level 3",
        "The printer near the pantry on level 3 is jammed and shows error "
        "E-203. Nobody on the floor can print.",
    ),
    (
        "incident",
        "Laptop won't boot",
        "My laptop shows a black screen after the Windows update last night.",
    ),
    (
        "incident",
        "Tak boleh log masuk",
        "Salam, saya tidak boleh log masuk ke emel sejak pagi tadi. "
        "Ralat kata laluan walaupun betul.\n\nTerima kasih,\nAiman",
    ),
    (
        "incident",
        "Internet sangat lambat",
        "Rangkaian di tingkat 5 sangat lambat dan kerap terputus.",
    ),
    (
        "request",
        "New starter next Monday",
        "Hello IT,\nPlease set up a laptop, email account and "
        "building access for our new hire Sarah who starts next Monday.\n\nBest regards,\nHR",
    ),
    (
        "request",
        "Software install request",
        "Could you please install Visio on my PC? My manager approved it.",
    ),
    (
        "request",
        "Access to shared folder",
        "Hi, I need read access to the Finance shared drive for the audit.",
    ),
    ("request", "Order a second monitor", "I would like to request a second monitor for my desk."),
    (
        "request",
        "Permohonan akaun baru",
        "Mohon buka akaun emel untuk pekerja baru, Encik Farid, "
        "mula bekerja 1 Julai.\n\nSekian, terima kasih.",
    ),
    ("request", "Pasang perisian", "Sila pasang perisian Adobe Reader pada komputer saya."),
)


def _median_ms(fn: object, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _subset(data: TicketData, index: np.ndarray) -> TicketData:
    pick = index.tolist()
    return replace(
        data,
        subjects=tuple(data.subjects[i] for i in pick),
        bodies=tuple(data.bodies[i] for i in pick),
        labels={h: tuple(v[i] for i in pick) for h, v in data.labels.items()},
        groups=tuple(data.groups[i] for i in pick),
        weights=tuple(data.weights[i] for i in pick),
    )


def bench_build(workdir: Path) -> TriageModel:
    started = time.perf_counter()
    model_dir = build_default_model(workdir / "model", TrainingOptions(), progress=False)
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in model_dir.iterdir())
    print(
        f"default model build: {seconds:.1f} s (rows {sum(1 for _ in DEFAULT_DATA_FILES)} files), "
        f"bundle {size / 1e6:.1f} MB"
    )
    return load_model(model_dir)


def bench_latency(model: TriageModel, data: TicketData) -> None:
    items = data.pairs()[:1000]
    batched = _median_ms(lambda: model.suggest_many(items), 3) / len(items)
    single = _median_ms(lambda: model.suggest(*items[17]), 50)
    print(
        f"latency: {batched:.3f} ms per mail batched (1000 mails), {single:.2f} ms single mail (median)"
    )


def bench_holdout(data: TicketData, fraction: float, workdir: Path) -> None:
    split = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=7)
    train_index, test_index = next(split.split(np.zeros(len(data)), groups=np.asarray(data.groups)))
    train, test = _subset(data, train_index), _subset(data, test_index)
    result = train_heads(train, TrainingOptions(), progress=None)
    bundle, card = make_bundle(
        result, train, TrainingOptions(), created_at=datetime.now(UTC), prefix="bench"
    )
    model = load_model(write_model_dir(workdir / "holdout", bundle, card))
    report = evaluate_model(model, test)
    print(
        f"grouped hold-out ({fraction:.0%} of groups, {len(test)} rows; trained on {len(train)} rows "
        f"in {result.seconds:.0f} s):"
    )
    for head, metrics in report["heads"].items():
        at = metrics["at_threshold"]
        precision = "n/a" if at["precision"] is None else f"{at['precision']:.3f}"
        print(
            f"  {head:<9} rows={metrics['rows']:<6} accuracy={metrics['accuracy']:.3f} "
            f"macro_f1={metrics['macro_f1']:.3f} threshold={at['threshold']:.3f} "
            f"precision@thr={precision} coverage={at['coverage']:.3f}"
        )
    sources = np.asarray([g.split(":")[0] for g in test.groups])
    for name in sorted(set(sources.tolist())):
        part = _subset(test, np.flatnonzero(sources == name))
        for head, metrics in evaluate_model(model, part)["heads"].items():
            print(
                f"    {name:<24} {head:<9} accuracy={metrics['accuracy']:.3f} macro_f1={metrics['macro_f1']:.3f}"
            )


def bench_kind_mails(model: TriageModel) -> None:
    """Kind on the 30 raw-style mails of tests/test_classifiers_kind.py (15 incidents, 15 requests)."""
    from tests.test_classifiers_kind import KIND_MAILS

    results = model.suggest_many([(s, b) for _, _, s, b in KIND_MAILS])
    for kind in ("incident", "request"):
        picked = [
            r.head("kind") for (k, *_), r in zip(KIND_MAILS, results, strict=True) if k == kind
        ]
        right = sum(h.label == kind for h in picked)
        applied_wrong = sum(h.label != kind and h.applied for h in picked)
        print(
            f"  fixture {kind:<8}: {right}/{len(picked)} right, {applied_wrong} wrong and auto-applied"
        )


def bench_hand_written(model: TriageModel) -> None:
    results = model.suggest_many([(s, b) for _, s, b in HAND_WRITTEN])
    hits = 0
    print("hand-written IT mails (kind):")
    for (truth, subject, _), result in zip(HAND_WRITTEN, results, strict=True):
        kind, category = result.head("kind"), result.head("category")
        hits += kind.label == truth
        print(
            f"  {'ok ' if kind.label == truth else 'BAD'} {truth:<8} → {kind.label:<8} {kind.confidence:.2f}"
            f"{' applied' if kind.applied else '        '}  category={category.label} "
            f"({category.confidence:.2f})  {subject}"
        )
    print(f"  kind accuracy on hand-written mails: {hits}/{len(HAND_WRITTEN)}")
    bench_kind_mails(model)


def bench_ata(model: TriageModel, path: Path) -> None:
    if not path.exists():
        return
    csv.field_size_limit(2**31 - 1)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [(r["short_description"], r["description"]) for r in csv.DictReader(handle)][:2000]
    labels = [r.head("kind").label for r in model.suggest_many(rows)]
    print(
        f"ATA (real ServiceNow incidents, raw text; some are really requests; these rows are also in the "
        f"training data, so see ata_incidents in the grouped hold-out for an honest figure): "
        f"{labels.count('incident') / len(labels):.1%} of {len(labels)} called incident"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--ata", type=Path, default=Path("/work/shared/data/tickets/ata/dev.csv"))
    args = parser.parse_args()
    data = read_many([DATA_DIR / name for name in DEFAULT_DATA_FILES])
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model = bench_build(workdir)
        bench_latency(model, data)
        bench_hand_written(model)
        bench_ata(model, args.ata)
        bench_holdout(data, args.holdout, workdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
