"""Default model: building the bundle from the data shipped in ``classifiers/data/`` on first use.

``ensure_default_model`` checks ``model_dir``; when it holds no loadable bundle, a bundle built with
other library versions, or a default bundle built from other shipped data, it trains one (about a
minute on 2 cores, progress on stderr) and writes it atomically. Training is deterministic: the same
data and library versions give the same predictions.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from classifiers.datasets import read_many
from classifiers.estimators import DEFAULT_MODEL_CANDIDATES
from classifiers.features import PREPARATION_VERSION
from classifiers.model_card import make_bundle
from classifiers.persistence import ModelUnavailable, read_bundle, write_model_dir
from classifiers.priority import DEFAULT_MATRIX, PriorityMatrix, validate_matrix
from classifiers.training import TrainingOptions, train_heads

__all__ = ["DATA_DIR", "DEFAULT_DATA_FILES", "build_default_model", "ensure_default_model"]

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_DATA_FILES: tuple[str, ...] = (
    "support_tickets.csv.gz",
    "it_categories.csv.gz",
    "endava_titles.csv.gz",
    "ata_incidents.csv.gz",
)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _default_data_paths() -> list[Path]:
    return [DATA_DIR / name for name in DEFAULT_DATA_FILES]


def _is_current(model_dir: Path, options: TrainingOptions) -> bool:
    """True when ``model_dir`` holds a loadable bundle; a default bundle must match shipped data and options."""
    try:
        _, card = read_bundle(model_dir)
    except ModelUnavailable:
        return False
    if not str(card.get("model_version", "")).startswith("default-"):
        return True  # a model the desk trained itself: never overwrite it
    from classifiers.datasets import read_tickets  # local: hashing only when a default model exists

    shipped = [read_tickets(path).sources[0].sha256 for path in _default_data_paths()]
    built = [entry.get("sha256") for entry in card.get("data", [])]
    wanted = {
        "target_precision": options.target_precision,
        "min_class_examples": options.min_class_examples,
    }
    same_options = all(card.get("options", {}).get(k) == v for k, v in wanted.items())
    same_matrix = card.get("priority_matrix") == {k: dict(v) for k, v in options.matrix.items()}
    same_preparation = card.get("preparation_version") == PREPARATION_VERSION
    return built == shipped and same_options and same_matrix and same_preparation


def build_default_model(
    model_dir: Path, options: TrainingOptions, *, progress: bool = True
) -> Path:
    """Train on the shipped data and write the bundle to ``model_dir``; returns ``model_dir``."""
    emit = _stderr if progress else None
    options = replace(options, kind_cues=True, select=False, candidates=DEFAULT_MODEL_CANDIDATES)
    if emit:
        emit(f"tiket: building the default triage model in {model_dir} (first use; about a minute)")
    data = read_many(_default_data_paths())
    result = train_heads(data, options, progress=emit)
    bundle, card = make_bundle(
        result,
        data,
        options,
        created_at=datetime.now(UTC),
        prefix="default",
        priority_cues=True,
        category_rules=True,
    )
    path = write_model_dir(model_dir, bundle, card)
    if emit:
        emit(f"tiket: default triage model {bundle['version']} ready ({result.seconds:.0f} s)")
    return path


def ensure_default_model(
    model_dir: Path,
    *,
    progress: bool = True,
    target_precision: float = 0.95,
    min_class_examples: int = 30,
    matrix: PriorityMatrix | None = None,
) -> Path:
    """Return ``model_dir``, first building the default bundle there if it is missing or stale.

    Stale: unloadable, built with other library versions, or (for a default bundle) built from other
    shipped data or other options. A bundle the desk trained itself is kept as it is.
    Raises OSError if ``model_dir`` cannot be written.
    """
    options = _options(target_precision, min_class_examples, matrix)
    model_dir = Path(model_dir)
    if _is_current(model_dir, options):
        return model_dir
    return build_default_model(model_dir, options, progress=progress)


def _options(
    target_precision: float, min_class_examples: int, matrix: Mapping[str, Mapping[str, str]] | None
) -> TrainingOptions:
    return TrainingOptions(
        target_precision=target_precision,
        min_class_examples=min_class_examples,
        matrix=validate_matrix(matrix if matrix is not None else DEFAULT_MATRIX),
    )
