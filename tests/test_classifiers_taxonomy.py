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
        ({"printing": {"merge_into": "hardware"}, "hardware": {}}, {"printing": "hardware"}),
        ({"access": {"name": "Accounts"}, "facilities": {"name": "Facilities"}}, {}),
    ],
)
def test_merges_and_additions(entries: dict[str, dict[str, str]], merges: dict[str, str]) -> None:
    """merge_into maps the old key to the new one; a renamed or added key is just listed."""
    assert category_merges(read_taxonomy(entries)) == merges


@pytest.mark.parametrize(
    "entries",
    [
        {"a": "not a table"},
        {"a": {"merge_into": "missing"}},
        {"a": {"merge_into": "b"}, "b": {"merge_into": "c"}, "c": {}},
    ],
    ids=["not a table", "unknown target", "chained merge"],
)
def test_bad_taxonomy_is_refused(entries: dict[str, object]) -> None:
    """A taxonomy the desk could not mean is refused with the entry named."""
    with pytest.raises(TaxonomyError):
        read_taxonomy(entries)  # type: ignore[arg-type]


def test_a_desk_adds_renames_and_merges_categories_in_its_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A user file can rename a shipped category, merge one and add a new one; the settings accept it."""
    from pipeline.settings import load_settings

    config = tmp_path / "tiket.toml"
    config.write_text(
        "[triage.categories]\n"
        'access = { name = "Accounts" }\n'
        'printing = { merge_into = "hardware" }\n'
        'facilities = { name = "Facilities", name_ms = "Fasiliti", description = "aircon, lights" }\n',
        encoding="utf-8",
    )
    categories = load_settings(config, env={}).section("triage")["categories"]
    taxonomy = read_taxonomy(categories)
    assert taxonomy["access"].name == "Accounts" and taxonomy["access"].name_ms == "Akses & akaun"
    assert taxonomy["facilities"].name_ms == "Fasiliti"
    assert category_merges(taxonomy) == {"printing": "hardware"}
