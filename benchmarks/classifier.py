"""Classifier benchmark: every figure issue 12 asks for, from one run.

Usage: python benchmarks/classifier.py [--root /work/shared/data/tickets] [--repeats 3] [--skip-exports]

1. Default model: build time (2 cores), bundle size, latency per mail (batched, and one at a time; medians).
2. Default model on the hand-written IT mails (classifiers/data/eval_it_mails.csv, 234 mails, EN/MS/mixed,
   never used to build the model): kind accuracy; category accuracy, applied precision and coverage;
   priority accuracy, applied precision and coverage; clear P1s applied; breach recall and false alarms
   (also on classifiers/data/breach_check_mails.csv); the weak-labelling rules' own precision there.
3. Desk exports (benchmarks/desk_exports.py): tiket trained on one public source's rows as a desk would,
   checked on held-out rows: per head out-of-fold accuracy, applied precision and coverage (held out, and on
   the CV fold left out of threshold picking), macro-F1 vs a plain class-balanced TF-IDF + LinearSVC.
   Median over ``--repeats`` different row samples.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from desk_exports import SOURCES, run_source  # noqa: E402

from classifiers.breach import detect_breach  # noqa: E402
from classifiers.datasets import read_many  # noqa: E402
from classifiers.default_model import DATA_DIR, DEFAULT_DATA_FILES, build_default_model  # noqa: E402
from classifiers.features import prepare_mail  # noqa: E402
from classifiers.labelling import label_category  # noqa: E402
from classifiers.training import TrainingOptions  # noqa: E402
from classifiers.triage_model import TriageModel, TriageResult, load_model  # noqa: E402

EVAL = DATA_DIR / "eval_it_mails.csv"
BREACH_CHECK = DATA_DIR / "breach_check_mails.csv"


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def bench_build(workdir: Path) -> TriageModel:
    started, cpu = time.perf_counter(), time.process_time()
    model_dir = build_default_model(workdir / "model", TrainingOptions(), progress=False)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    size = sum(p.stat().st_size for p in model_dir.iterdir())
    print(
        f"default model build: {seconds:.1f} s wall, {cpu_seconds:.1f} s CPU (shared machine: wall time "
        f"depends on the neighbours), bundle {size / 1e6:.1f} MB on disk"
    )
    return load_model(model_dir)


def _median_cpu_ms(fn: Callable[[], object], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.process_time()
        fn()
        timings.append((time.process_time() - started) * 1000)
    return statistics.median(timings)


def bench_latency(model: TriageModel) -> None:
    data = read_many([DATA_DIR / name for name in DEFAULT_DATA_FILES])
    shipped = data.pairs()[:1000]
    mails = [(r["subject"], r["body"]) for r in _rows(EVAL)]
    for name, items in (
        ("shipped tickets (long, synthetic)", shipped),
        ("hand-written IT mails", mails),
    ):

        def batch(items: list[tuple[str, str]] = items) -> object:
            return model.suggest_many(items)

        def one(items: list[tuple[str, str]] = items) -> object:
            return model.suggest(*items[17])

        wall = _median_ms(batch, 5) / len(items)
        cpu = _median_cpu_ms(batch, 5) / len(items)
        single = _median_ms(one, 50)
        print(
            f"latency on {len(items)} {name}: {wall:.3f} ms wall / {cpu:.3f} ms CPU per mail batched, "
            f"{single:.2f} ms one mail (medians)"
        )


def _share(hits: int, total: int) -> str:
    return f"{hits}/{total} = {hits / total:.3f}" if total else "0/0"


def _head_figures(rows: list[dict[str, str]], results: list[TriageResult], head: str) -> str:
    pairs = [(row[head], result.head(head)) for row, result in zip(rows, results, strict=True)]
    right = sum(s.label == truth for truth, s in pairs)
    applied = [(truth, s) for truth, s in pairs if s.applied]
    applied_right = sum(s.label == truth for truth, s in applied)
    return (
        f"accuracy {right / len(pairs):.3f}, applied precision "
        f"{applied_right / max(1, len(applied)):.3f} at coverage {len(applied) / len(pairs):.3f}"
    )


def bench_it_mails(model: TriageModel) -> None:
    rows = _rows(EVAL)
    results = model.suggest_many([(r["subject"], r["body"]) for r in rows])
    print(f"default model on {len(rows)} hand-written IT mails ({EVAL.name}):")
    for head in ("kind", "category", "priority"):
        print(f"  {head:<9} {_head_figures(rows, results, head)}")
    for language in ("en", "ms", "mixed"):
        part = [(r, x) for r, x in zip(rows, results, strict=True) if r["language"] == language]
        figures = "; ".join(
            f"{head} {_head_figures([r for r, _ in part], [x for _, x in part], head)}"
            for head in ("kind", "category")
        )
        print(f"    {language:<5} ({len(part)} mails): {figures}")
    p1 = [x.head("priority") for r, x in zip(rows, results, strict=True) if r["priority"] == "P1"]
    false_p1 = sum(
        1
        for r, x in zip(rows, results, strict=True)
        if r["priority"] != "P1" and x.head("priority").label == "P1" and x.head("priority").applied
    )
    print(
        f"  P1 mails applied as P1: {_share(sum(s.label == 'P1' and s.applied for s in p1), len(p1))}"
        f"; non-P1 mails applied as P1: {false_p1}"
    )
    weak = [
        label_category(m.subject_text, m.model_text[len(m.subject_text) :]).label
        for m in (prepare_mail(r["subject"], r["body"]) for r in rows)
    ]
    labelled = [(w, r["category"]) for w, r in zip(weak, rows, strict=True) if w is not None]
    print(
        f"  weak-labelling rules alone: precision {_share(sum(w == t for w, t in labelled), len(labelled))}"
        f", coverage {len(labelled) / len(rows):.3f}"
    )


def bench_breach() -> None:
    for path in (EVAL, BREACH_CHECK):
        rows = _rows(path)
        flags = [detect_breach(r["subject"], r["body"]).flagged for r in rows]
        truth = [r["breach"] == "yes" for r in rows]
        caught = sum(f and t for f, t in zip(flags, truth, strict=True))
        false = sum(f and not t for f, t in zip(flags, truth, strict=True))
        print(
            f"breach rules on {path.name}: recall {_share(caught, sum(truth))}, "
            f"false alarms {_share(false, len(truth) - sum(truth))}"
        )


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def bench_exports(root: Path, repeats: int, rows: int, workdir: Path) -> None:
    print(
        f"desk exports: trained on {rows} rows of one source, checked on held-out rows "
        f"(median of {repeats} samples):"
    )
    for name, reader in SOURCES.items():
        source_rows = reader(root)
        runs = [run_source(name, source_rows, rows, workdir, seed=seed) for seed in range(repeats)]
        for head in runs[0]["heads"]:
            figures: dict[str, Any] = {
                key: _median([run["heads"][head][key] for run in runs if head in run["heads"]])
                for key in (
                    "oof_accuracy",
                    "accuracy",
                    "applied_precision",
                    "coverage",
                    "macro_f1",
                    "baseline_macro_f1",
                )
            }
            checked = _median([run["heads"][head]["checked"]["checked_precision"] for run in runs])
            print(
                f"  {name:<8} {head:<9} oof_acc={_fmt(figures['oof_accuracy'])} held-out: "
                f"acc={_fmt(figures['accuracy'])} applied_precision={_fmt(figures['applied_precision'])} "
                f"coverage={_fmt(figures['coverage'])} | check-fold applied precision={_fmt(checked)} | "
                f"macro_f1={_fmt(figures['macro_f1'])} baseline={_fmt(figures['baseline_macro_f1'])}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=Path("/work/shared/data/tickets"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=3000, help="training rows per desk export")
    parser.add_argument("--skip-exports", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model = bench_build(workdir)
        bench_latency(model)
        bench_it_mails(model)
        bench_breach()
        if not args.skip_exports and args.root.exists():
            bench_exports(args.root, args.repeats, args.rows, workdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
