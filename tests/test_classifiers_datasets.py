"""Tests for classifiers.datasets: reading ticket CSVs and normalising labels."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from classifiers.datasets import (
    DataError,
    normalise_kind,
    normalise_priority,
    read_many,
    read_tickets,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Incident", "incident"),
        ("PROBLEM", "incident"),
        ("request", "request"),
        ("Change", "request"),
        (" change ", "request"),
        ("", None),
    ],
)
def test_type_maps_itil_to_kind(raw: str, expected: str | None) -> None:
    """ITIL problem is an incident, change a request, whatever the case."""
    assert normalise_kind(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("P1", "P1"),
        ("p4", "P4"),
        ("critical", "P1"),
        ("High", "P2"),
        ("medium", "P3"),
        ("low", "P4"),
        ("", None),
    ],
)
def test_priority_words_map_to_p_levels(raw: str, expected: str | None) -> None:
    """high/medium/low map to P2/P3/P4; P1 only from P1 or critical."""
    assert normalise_priority(raw) == expected


def test_unknown_type_is_an_error_naming_file_and_column(tmp_path: Path) -> None:
    """A bad label value names the file, the column and the row."""
    path = tmp_path / "bad.csv"
    path.write_text("subject,body,type\nx,y,outage\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_tickets(path)
    assert (
        caught.value.column == "type"
        and "bad.csv" in str(caught.value)
        and "row 2" in str(caught.value)
    )


def test_missing_body_column_is_reported(tmp_path: Path) -> None:
    """A CSV without the body column is refused with the column named."""
    path = tmp_path / "nobody.csv"
    path.write_text("subject,type\nx,incident\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_tickets(path)
    assert caught.value.column == "body"


def test_missing_file_is_reported(tmp_path: Path) -> None:
    """A file that does not exist is a DataError naming it."""
    with pytest.raises(DataError, match="missing.csv"):
        read_tickets(tmp_path / "missing.csv")


def test_gzip_groups_weights_and_absent_heads(tmp_path: Path) -> None:
    """Gzip is read; group and weight are kept; a head absent from one file is unlabelled for its rows."""
    first = tmp_path / "a.csv.gz"
    first.write_bytes(
        gzip.compress(b"subject,body,type,group,weight\ns,b,incident,g1,2.5\ns,b,,g1,\n")
    )
    second = tmp_path / "b.csv"
    second.write_text("subject,body,category\ns,b,Hardware\n", encoding="utf-8")
    data = read_many([first, second])
    assert data.labels["kind"] == ("incident", None, None)
    assert data.labels["category"] == (None, None, "Hardware")
    assert data.weights == (2.5, 1.0, 1.0)
    assert data.groups[0] == data.groups[1] != data.groups[2]
    assert [s.rows for s in data.sources] == [2, 1]


def test_negative_weight_is_refused(tmp_path: Path) -> None:
    """Sample weights must be non-negative numbers."""
    path = tmp_path / "w.csv"
    path.write_text("subject,body,type,weight\ns,b,incident,-1\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_tickets(path)
    assert caught.value.column == "weight"
