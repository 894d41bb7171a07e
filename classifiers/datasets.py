"""Training and evaluation data: reading ticket CSVs in the documented format into a frozen record.

Format: a CSV (optionally gzip-compressed, ``.gz``) with columns ``subject`` and ``body`` and any of
``type``, ``category``, ``priority``, ``impact``, ``urgency`` (labels), ``group`` (paraphrase family
for grouped cross-validation) and ``weight`` (sample weight). Label values are normalised here:

- ``type`` → kind: incident, problem → ``incident``; request, change → ``request`` (case-insensitive).
- ``priority``: P1-P4, or critical → P1, high → P2, medium → P3, low → P4.
- ``impact`` / ``urgency``: high, medium, low.

An empty cell means "no label" for that head. An unknown label value is an error.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LABEL_COLUMNS",
    "DataError",
    "DataSource",
    "TicketData",
    "normalise_kind",
    "normalise_level",
    "normalise_priority",
    "read_many",
    "read_tickets",
    "source_of",
]

# Label column in the CSV → head name in the bundle.
LABEL_COLUMNS: Mapping[str, str] = {
    "type": "kind",
    "kind": "kind",  # the same label under the head's own name
    "category": "category",
    "priority": "priority",
    "impact": "impact",
    "urgency": "urgency",
}
_KINDS = {"incident": "incident", "problem": "incident", "request": "request", "change": "request"}
_PRIORITIES = {
    "p1": "P1",
    "p2": "P2",
    "p3": "P3",
    "p4": "P4",
    "critical": "P1",
    "high": "P2",
    "medium": "P3",
    "low": "P4",
}
_LEVELS = {"high": "high", "medium": "medium", "low": "low"}


class DataError(Exception):
    """Raised when a data file is missing, unreadable, lacks a column or holds an invalid value.

    ``path`` names the file, ``column`` the column at fault (or ``None``), ``problem`` says what is wrong.
    """

    def __init__(self, path: Path, column: str | None, problem: str) -> None:
        self.path = path
        self.column = column
        self.problem = problem
        where = f"{path}" + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSource:
    """One file read: where, its sha256 and how many rows it gave."""

    path: str
    sha256: str
    rows: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketData:
    """Rows read from one or more CSVs, column-wise. ``labels[head][i]`` is None when unlabelled."""

    subjects: tuple[str, ...]
    bodies: tuple[str, ...]
    labels: Mapping[str, tuple[str | None, ...]]
    groups: tuple[str, ...]
    weights: tuple[float, ...]
    sources: tuple[DataSource, ...]

    def __len__(self) -> int:
        return len(self.subjects)

    def pairs(self) -> list[tuple[str, str]]:
        """(subject, body) per row."""
        return list(zip(self.subjects, self.bodies, strict=True))


def _normalise(value: str, table: Mapping[str, str]) -> str | None:
    key = value.strip().lower()
    if not key:
        return None
    if key not in table:
        raise ValueError(f"unknown value {value!r}; expected one of {sorted(set(table))}")
    return table[key]


def normalise_kind(value: str) -> str | None:
    """Map an ITIL type to incident/request; None for an empty cell. Raises ValueError if unknown."""
    return _normalise(value, _KINDS)


def normalise_priority(value: str) -> str | None:
    """Map P1-P4 or critical/high/medium/low to P1-P4; None for empty. Raises ValueError if unknown."""
    return _normalise(value, _PRIORITIES)


def normalise_level(value: str) -> str | None:
    """Map an impact or urgency to high/medium/low; None for empty. Raises ValueError if unknown."""
    return _normalise(value, _LEVELS)


def _normalise_category(value: str) -> str | None:
    return value.strip() or None


_NORMALISERS = {
    "type": normalise_kind,
    "kind": normalise_kind,
    "priority": normalise_priority,
    "impact": normalise_level,
    "urgency": normalise_level,
    "category": _normalise_category,
}


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.name.endswith(".gz") else raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(path, None, f"cannot read file: {exc}") from exc


def _parse_rows(
    path: Path, raw: bytes, required: Sequence[str]
) -> tuple[list[str], list[dict[str, str]]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(path, None, f"not UTF-8 text: {exc}") from exc
    csv.field_size_limit(2**31 - 1)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [name.strip() for name in (reader.fieldnames or [])]
        reader.fieldnames = header
        rows = list(reader)
    except csv.Error as exc:
        raise DataError(path, None, f"invalid CSV: {exc}") from exc
    for column in required:
        if column not in header:
            raise DataError(path, column, "missing column")
    return header, rows


def _cell(row: Mapping[str, str | None], column: str) -> str:
    return row.get(column) or ""


def _read_weight(path: Path, row_number: int, cell: str) -> float:
    if not cell.strip():
        return 1.0
    try:
        weight = float(cell)
    except ValueError:
        weight = -1.0
    if not weight >= 0.0:
        raise DataError(path, "weight", f"row {row_number}: not a non-negative number: {cell!r}")
    return weight


def _text_group(row: Mapping[str, str | None]) -> str:
    """Default group of a row without one: its whitespace-collapsed, lower-cased text, hashed, so that
    duplicate tickets (common in an export: the same alert, the same form) stay in one CV fold."""
    text = " ".join((_cell(row, "subject") + " " + _cell(row, "body")).lower().split())
    return "#" + hashlib.sha256(text.encode()).hexdigest()[:12]


def source_of(group: str) -> str:
    """The data file a row came from, read from its group (``<file name>:<group>``)."""
    return group.split(":", 1)[0]


def read_tickets(path: Path, *, require_labels: bool = False) -> TicketData:
    """Read one ticket CSV. Raises DataError naming the file and column on any problem.

    With ``require_labels`` the file must carry at least one label column.
    """
    raw = _read_bytes(path)
    header, rows = _parse_rows(path, raw, ("subject", "body"))
    label_columns = [column for column in LABEL_COLUMNS if column in header]
    if "type" in label_columns and "kind" in label_columns:
        raise DataError(path, "kind", "both 'type' and 'kind' columns: give one of them")
    if require_labels and not label_columns:
        raise DataError(path, "type", f"no label column; expected any of {list(LABEL_COLUMNS)}")
    labels: dict[str, list[str | None]] = {LABEL_COLUMNS[c]: [] for c in label_columns}
    groups: list[str] = []
    weights: list[float] = []
    for number, row in enumerate(rows, start=2):
        for column in label_columns:
            try:
                labels[LABEL_COLUMNS[column]].append(_NORMALISERS[column](_cell(row, column)))
            except ValueError as exc:
                raise DataError(path, column, f"row {number}: {exc}") from exc
        groups.append(f"{path.name}:{_cell(row, 'group').strip() or _text_group(row)}")
        weights.append(_read_weight(path, number, _cell(row, "weight")))
    return TicketData(
        subjects=tuple(_cell(row, "subject") for row in rows),
        bodies=tuple(_cell(row, "body") for row in rows),
        labels={head: tuple(values) for head, values in labels.items()},
        groups=tuple(groups),
        weights=tuple(weights),
        sources=(
            DataSource(path=str(path), sha256=hashlib.sha256(raw).hexdigest(), rows=len(rows)),
        ),
    )


def read_many(paths: Sequence[Path], *, require_labels: bool = False) -> TicketData:
    """Read and concatenate several CSVs; a head missing from a file is unlabelled for its rows."""
    if not paths:
        raise DataError(Path("-"), None, "no data file given")
    parts = [read_tickets(path, require_labels=require_labels) for path in paths]
    order = list(dict.fromkeys(LABEL_COLUMNS.values()))
    heads = sorted({head for part in parts for head in part.labels}, key=order.index)
    labels: dict[str, tuple[str | None, ...]] = {}
    for head in heads:
        column: list[str | None] = []
        for part in parts:
            column.extend(part.labels.get(head, (None,) * len(part)))
        labels[head] = tuple(column)
    return TicketData(
        subjects=tuple(s for part in parts for s in part.subjects),
        bodies=tuple(b for part in parts for b in part.bodies),
        labels=labels,
        groups=tuple(g for part in parts for g in part.groups),
        weights=tuple(w for part in parts for w in part.weights),
        sources=tuple(src for part in parts for src in part.sources),
    )
