"""Triage commands: ``tiket train``, ``tiket evaluate`` and ``tiket classify`` (thin wrappers over the API).

``register(subparsers)`` adds the three subcommands to the main parser; each handler has the signature
``handler(args, settings) -> exit code`` (0 ok, 1 runtime error, 2 usage, data or config error).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import re
import sys
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from classifiers.breach import detect_breach
from classifiers.datasets import DataError, TicketData, read_many
from classifiers.default_model import ensure_default_model
from classifiers.evaluation import format_metrics, head_metrics
from classifiers.model_card import make_bundle
from classifiers.persistence import ModelUnavailable, write_model_dir
from classifiers.priority import DEFAULT_MATRIX, priority_for, validate_matrix
from classifiers.training import TrainingOptions, train_heads
from classifiers.triage_model import SERVED_HEADS, TriageModel, TriageResult, load_model

__all__ = ["Settings", "register"]


class Settings(Protocol):
    """What the handlers need from the application settings."""

    @property
    def data_dir(self) -> Path: ...

    def section(self, name: str) -> Mapping[str, Any]: ...


_TRAIN_DESCRIPTION = """Train the triage heads, pick auto-apply thresholds, write the bundle and model card.

CSV columns: subject, body and any of type, category, priority, impact, urgency;
optional group (grouped cross-validation) and weight (sample weight)."""
_TRAIN_EXAMPLE = """example:
  tiket train --data tickets.csv --data more.csv.gz --model-dir /var/lib/tiket/model"""
_EVALUATE_EXAMPLE = """example:
  tiket evaluate --data heldout.csv --json > metrics.json"""
_CLASSIFY_EXAMPLE = """examples:
  tiket classify < message.eml
  echo "Printer on floor 3 is jammed" | tiket classify --json
  tiket classify --data tickets.csv --json > suggestions.jsonl"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``train``, ``evaluate`` and ``classify`` subcommands to ``subparsers``."""
    raw = argparse.RawDescriptionHelpFormatter
    train = subparsers.add_parser(
        "train",
        help="train the triage model from labelled CSVs",
        description=_TRAIN_DESCRIPTION,
        epilog=_TRAIN_EXAMPLE,
        formatter_class=raw,
    )
    train.add_argument(
        "--data",
        action="append",
        type=Path,
        metavar="FILE",
        help="labelled CSV (.csv or .csv.gz); repeat for several files "
        "(default with --with-feedback: the shipped default data)",
    )
    train.add_argument(
        "--with-feedback",
        action="store_true",
        help="add L1's review decisions from the database as training rows, "
        "weighted by [triage] feedback_weight",
    )
    train.add_argument("--model-dir", type=Path, default=None, metavar="DIR")
    train.add_argument(
        "--select",
        action="store_true",
        help="cross-validate every candidate estimator per head (slower)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress on stderr")
    train.set_defaults(handler=run_train)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="measure the triage model on labelled CSVs",
        description="Per-head accuracy, macro-F1, per-class scores, and "
        "precision and coverage at the auto-apply threshold.",
        epilog=_EVALUATE_EXAMPLE,
        formatter_class=raw,
    )
    evaluate.add_argument("--data", action="append", required=True, type=Path, metavar="FILE")
    evaluate.add_argument("--model-dir", type=Path, default=None, metavar="DIR")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(handler=run_evaluate)

    classify = subparsers.add_parser(
        "classify",
        help="suggest kind, category and priority for mail",
        description="Classify one .eml or plain text read from stdin, or "
        "every row of a CSV (--data).",
        epilog=_CLASSIFY_EXAMPLE,
        formatter_class=raw,
    )
    classify.add_argument("--data", type=Path, default=None, metavar="FILE.csv")
    classify.add_argument("--model-dir", type=Path, default=None, metavar="DIR")
    classify.add_argument(
        "--json", action="store_true", help="JSON (one object per line with --data)"
    )
    classify.set_defaults(handler=run_classify)


# ---- settings -------------------------------------------------------------------------------------------


def _triage(settings: Settings) -> Mapping[str, Any]:
    return settings.section("triage")


def _model_dir(args: argparse.Namespace, settings: Settings) -> Path:
    if args.model_dir is not None:
        return Path(args.model_dir)
    configured = str(_triage(settings).get("model_dir", "") or "")
    return Path(configured) if configured else Path(settings.data_dir) / "model"


def _options(settings: Settings, *, select: bool | None = None) -> TrainingOptions:
    """TrainingOptions from ``[triage]``. Raises ValueError on a bad key (reported as a config error)."""
    triage = _triage(settings)
    target = float(triage.get("target_precision", 0.95))
    if not 0.0 < target <= 1.0:
        raise ValueError(f"triage.target_precision must be in (0, 1], got {target}")
    return TrainingOptions(
        target_precision=target,
        min_class_examples=int(triage.get("min_class_examples", 30)),
        matrix=validate_matrix(triage.get("priority_matrix") or DEFAULT_MATRIX),
        select=select,
    )


def _load(args: argparse.Namespace, settings: Settings) -> TriageModel:
    """The model to serve; builds the default one on first use when allowed. Raises ModelUnavailable."""
    model_dir = _model_dir(args, settings)
    if bool(_triage(settings).get("build_default", True)):
        options = _options(settings)
        ensure_default_model(
            model_dir,
            progress=True,
            target_precision=options.target_precision,
            min_class_examples=options.min_class_examples,
            matrix=options.matrix,
        )
    return load_model(model_dir)


def _fail(message: str, code: int) -> int:
    print(f"tiket: {message}", file=sys.stderr)
    return code


# ---- train ----------------------------------------------------------------------------------------------


def run_train(args: argparse.Namespace, settings: Settings) -> int:
    """Train on ``--data`` files and write the bundle and model card to the model dir."""
    paths = list(args.data or [])
    if not paths and not args.with_feedback:
        return _fail(
            "give --data FILE (or --with-feedback to retrain the default data with "
            "the desk's review decisions)",
            2,
        )
    feedback_rows = 0
    with tempfile.TemporaryDirectory() as scratch:
        if args.with_feedback:
            from pipeline.edges.feedback import write_feedback_csv

            feedback = Path(scratch) / "feedback.csv"
            feedback_rows = write_feedback_csv(
                settings, feedback, float(_triage(settings).get("feedback_weight", 5.0))
            )
            paths = (paths or _default_paths()) + ([feedback] if feedback_rows else [])
            print(f"tiket: {feedback_rows} reviewed ticket(s) added as feedback", file=sys.stderr)
        return _train(args, settings, paths, feedback_rows)


def _train(
    args: argparse.Namespace, settings: Settings, paths: list[Path], feedback_rows: int
) -> int:
    try:
        options = _options(settings, select=bool(args.select))
        data = read_many(paths, require_labels=True)
    except DataError as exc:
        return _fail(str(exc), 2)
    except ValueError as exc:
        return _fail(f"config: {exc}", 2)
    progress = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    try:
        result = train_heads(data, options, progress=progress)
    except ValueError as exc:
        return _fail(f"{', '.join(map(str, args.data))}: {exc}", 2)
    bundle, card = make_bundle(result, data, options, created_at=datetime.now(UTC), prefix="custom")
    card["feedback_rows"] = feedback_rows
    model_dir = write_model_dir(_model_dir(args, settings), bundle, card)
    print(_train_report(card, model_dir))
    return 0


def _default_paths() -> list[Path]:
    from classifiers.default_model import _default_data_paths

    return _default_data_paths()


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _train_report(card: Mapping[str, Any], model_dir: Path) -> str:
    lines = [
        f"model {card['model_version']} written to {model_dir} "
        f"({card['rows']} rows, {card['training_seconds']} s, "
        f"{card.get('feedback_rows', 0)} from L1 feedback)"
    ]
    for head, report in card["heads"].items():
        cv, threshold = report["cv"], report["threshold"]
        lines.append(
            f"  {head:<9} {report['estimator']:<24} rows={report['rows']:<6} "
            f"cv_accuracy={cv['accuracy']:.3f} cv_macro_f1={cv['macro_f1']:.3f} "
            f"applied precision={threshold['precision']:.3f} coverage={threshold['coverage']:.3f} "
            f"(checked on held-out fold: {_fmt(threshold['checked_precision'])} / "
            f"{threshold['checked_coverage']:.3f})"
            + ("" if threshold["reached_target"] else "  (never auto-applies)")
        )
    for head, why in card["skipped_heads"].items():
        lines.append(f"  {head:<9} skipped: {why}")
    return "\n".join(lines)


# ---- evaluate -------------------------------------------------------------------------------------------


def _truth(data: TicketData, head: str, model: TriageModel) -> list[str | None] | None:
    if head in data.labels:
        return list(data.labels[head])
    if head == "priority" and "impact" in data.labels and "urgency" in data.labels:
        matrix = model.card.get("priority_matrix") or DEFAULT_MATRIX
        return [
            priority_for(i, u, matrix) if i and u else None
            for i, u in zip(data.labels["impact"], data.labels["urgency"], strict=True)
        ]
    return None


def evaluate_model(model: TriageModel, data: TicketData) -> dict[str, Any]:
    """Metrics per served head that both the model and the data have, on the heads' decisions. With the
    default model's rules a suspected breach is a P1 security incident, as served; for a desk's own model
    the breach fast path's P1 is policy on top of the priority head and is counted apart
    (``breach_flagged``)."""
    pairs = data.pairs()
    predicted = model.predict_decisions(pairs)
    thresholds = model.thresholds
    flagged = sum(detect_breach(subject, body).flagged for subject, body in pairs)
    report: dict[str, Any] = {
        "model_version": model.version,
        "rows": len(data),
        "breach_flagged": flagged,
        "heads": {},
    }
    for head in SERVED_HEADS:
        truth = _truth(data, head, model)
        if truth is None or head not in predicted:
            continue
        keep = [i for i, label in enumerate(truth) if label is not None]
        if not keep:
            continue
        labels, confidences, applied = predicted[head]
        report["heads"][head] = head_metrics(
            [str(truth[i]) for i in keep],
            [labels[i] for i in keep],
            [confidences[i] for i in keep],
            thresholds.get(head, {}),
            applied=[applied[i] for i in keep],
        )
    return report


def run_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate the model on ``--data`` and print the metrics."""
    try:
        data = read_many(list(args.data), require_labels=True)
        model = _load(args, settings)
    except DataError as exc:
        return _fail(str(exc), 2)
    except ValueError as exc:
        return _fail(f"config: {exc}", 2)
    except ModelUnavailable as exc:
        return _fail(str(exc), 1)
    report = evaluate_model(model, data)
    if not report["heads"]:
        return _fail(
            f"{', '.join(map(str, args.data))}: no label column the model can be checked on", 2
        )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"model {report['model_version']} on {report['rows']} rows")
        for head, metrics in report["heads"].items():
            print(format_metrics(head, metrics))
    return 0


# ---- classify -------------------------------------------------------------------------------------------

_HEADER_LINE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*:[ \t]")


def read_message(raw: bytes) -> tuple[str, str]:
    """(subject, text body) of an RFC 822 message; plain text when ``raw`` does not look like one."""
    lines = raw.lstrip(b"\r\n").split(b"\n", 1)
    first = lines[0].decode("utf-8", "replace") if lines else ""
    if _HEADER_LINE.match(first) or first.startswith("From "):
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if isinstance(message, EmailMessage) and (
            message["subject"] is not None or message["from"] is not None
        ):
            return str(message["subject"] or ""), _text_body(message)
    return "", raw.decode("utf-8", "replace")


def _text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = content if isinstance(content, str) else ""
    return re.sub(r"<[^>]+>", " ", text) if part.get_content_subtype() == "html" else text


def result_json(result: TriageResult) -> dict[str, Any]:
    """The JSON shape of one result: one key per head, then the breach flag, reasons and version."""
    out: dict[str, Any] = {
        h.head: {"label": h.label, "confidence": h.confidence, "applied": h.applied}
        for h in result.heads
    }
    out["breach_suspected"] = result.breach_suspected
    out["breach_reasons"] = list(result.breach_reasons)
    out["model_version"] = result.model_version
    return out


def _result_text(result: TriageResult) -> str:
    parts = [
        f"{h.head}={h.label} ({h.confidence:.2f}{', applied' if h.applied else ''})"
        for h in result.heads
    ]
    if result.breach_suspected:
        parts.append(f"BREACH SUSPECTED: {', '.join(result.breach_reasons)}")
    return "  ".join(parts)


def run_classify(args: argparse.Namespace, settings: Settings) -> int:
    """Classify stdin (one mail) or every row of ``--data``; print text or JSON (lines)."""
    try:
        data = read_many([args.data]) if args.data is not None else None
        model = _load(args, settings)
    except DataError as exc:
        return _fail(str(exc), 2)
    except ValueError as exc:
        return _fail(f"config: {exc}", 2)
    except ModelUnavailable as exc:
        return _fail(str(exc), 1)
    items = data.pairs() if data is not None else [read_message(sys.stdin.buffer.read())]
    for result in model.suggest_many(items):
        print(json.dumps(result_json(result)) if args.json else _result_text(result))
    return 0
