"""Tests for classifiers.taxonomy: the desk's category list (rename, merge, add) read from the config."""

from __future__ import annotations

import tomllib

import pytest

from classifiers.labelling import CATEGORIES
from classifiers.taxonomy import TaxonomyError, category_merges, read_taxonomy
from pipeline.settings import DEFAULTS_PATH


def test_default_taxonomy_matches_the_default_model() -> None:
    """The shipped config lists exactly the keys the weak-supervision rules label, with Malay names."""
    defaults = tomllib.loads(DEFAULTS_PATH.read_text(encoding="utf-8"))
    taxonomy = read_taxonomy(defaults["triage"]["categories"])
    assert tuple(taxonomy) == CATEGORIES
    assert all(c.name and c.name_ms and c.description for c in taxonomy.values())
    assert category_merges(taxonomy) == {}


@pytest.mark.parametrize(
    ("entries", "merges"),
    [
        (
            [{"key": "printing", "merge_into": "hardware"}, {"key": "hardware"}],
            {"printing": "hardware"},
        ),
        ([{"key": "access", "name": "Accounts"}, {"key": "facilities"}], {}),
    ],
)
def test_merges_and_additions(entries: list[dict[str, str]], merges: dict[str, str]) -> None:
    """merge_into maps the old key to the new one; a renamed or added key is just listed."""
    assert category_merges(read_taxonomy(entries)) == merges


@pytest.mark.parametrize(
    "entries",
    [
        [{"name": "no key"}],
        [{"key": "a"}, {"key": "a"}],
        [{"key": "a", "merge_into": "missing"}],
        [{"key": "a", "merge_into": "b"}, {"key": "b", "merge_into": "c"}, {"key": "c"}],
    ],
    ids=["no key", "repeated key", "unknown target", "chained merge"],
)
def test_bad_taxonomy_is_refused(entries: list[dict[str, str]]) -> None:
    """A taxonomy the desk could not mean is refused with the entry named."""
    with pytest.raises(TaxonomyError):
        read_taxonomy(entries)
