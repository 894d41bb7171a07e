"""Default model: building the bundle from the data shipped in ``classifiers/data/`` on first use.

``ensure_default_model`` checks ``model_dir``; when it holds no loadable bundle, a bundle built with
other library versions, or a default bundle built from other shipped data, it trains one (about a
minute on 2 cores, progress on stderr) and writes it atomically. Training is deterministic: the same
data and library versions give the same predictions.

The check reads only the model card: it never unpickles the bundle (the caller loads it once,
right after) and never parses the shipped data. The card of a default bundle records the sha256
of each shipped file's bytes (``shipped_files``), which costs ~10 ms to compare; a card without
them (older bundles) is compared the old way, through the data's parsed CSV text.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifiers.features import PREPARATION_VERSION
from classifiers.persistence import (
    BUNDLE_FORMAT,
    ModelUnavailable,
    bundle_path,
    check_compatible,
    read_card,
    write_model_dir,
)
from classifiers.priority import DEFAULT_MATRIX, PriorityMatrix, validate_matrix

if TYPE_CHECKING:  # training imports are paid only when a model is built
    from classifiers.training import TrainingOptions

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


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shipped_files() -> dict[str, str]:
    """sha256 of each shipped data file's bytes (recorded in a default model's card)."""
    return {path.name: _file_sha256(path) for path in _default_data_paths()}


def _same_data(card: Mapping[str, Any]) -> bool:
    recorded = card.get("shipped_files")
    if isinstance(recorded, dict):
        return recorded == _shipped_files()
    from classifiers.datasets import read_tickets  # a card from before shipped_files: slow path

    shipped = [read_tickets(path).sources[0].sha256 for path in _default_data_paths()]
    return [entry.get("sha256") for entry in card.get("data", [])] == shipped


def _is_current(
    model_dir: Path, wanted: Mapping[str, Any], matrix: Mapping[str, Mapping[str, str]]
) -> bool:
    """True when ``model_dir`` holds a servable bundle; a default bundle must match shipped data and options.

    Reads the card only (the bundle's presence and size are a stat); the bundle's sha256 is checked
    when it is loaded.
    """
    try:
        card = read_card(model_dir)
        check_compatible(card, model_dir)
        bundle = bundle_path(card, model_dir).stat()
    except (ModelUnavailable, OSError):
        return False
    if card.get("bundle_size", bundle.st_size) != bundle.st_size:
        return False
    if not str(card.get("model_version", "")).startswith("default-"):
        return True  # a model the desk trained itself: never overwrite it
    same_options = all(card.get("options", {}).get(k) == v for k, v in wanted.items())
    same_matrix = card.get("priority_matrix") == {k: dict(v) for k, v in matrix.items()}
    same_preparation = card.get("preparation_version") == PREPARATION_VERSION
    same_format = card.get("bundle_format") == BUNDLE_FORMAT  # an older default bundle is rebuilt
    return same_format and same_options and same_matrix and same_preparation and _same_data(card)


def build_default_model(
    model_dir: Path, options: TrainingOptions, *, progress: bool = True
) -> Path:
    """Train on the shipped data and write the bundle to ``model_dir``; returns ``model_dir``."""
    from classifiers.datasets import read_many
    from classifiers.estimators import DEFAULT_MODEL_CANDIDATES
    from classifiers.model_card import make_bundle
    from classifiers.training import train_heads

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
    card["shipped_files"] = _shipped_files()  # what the start-up freshness check compares
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

    Stale: unloadable, built with other library versions, or (for a default bundle) of an older bundle
    format, built from other shipped data or other options. A bundle the desk trained itself is kept as
    it is (an older format is converted when it is loaded).
    Raises OSError if ``model_dir`` cannot be written.
    """
    checked = validate_matrix(matrix if matrix is not None else DEFAULT_MATRIX)
    wanted = {"target_precision": target_precision, "min_class_examples": min_class_examples}
    model_dir = Path(model_dir)
    if _is_current(model_dir, wanted, checked):
        return model_dir
    from classifiers.training import TrainingOptions

    options = TrainingOptions(
        target_precision=target_precision, min_class_examples=min_class_examples, matrix=checked
    )
    return build_default_model(model_dir, options, progress=progress)
