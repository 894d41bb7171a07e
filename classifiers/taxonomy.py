"""Category taxonomy: the desk's categories and how it renames, merges or adds them (pure)

Stable keys, display names in English and Malay, descriptions: ``[triage.categories]`` in the config
(key → table).

Keys are what the model predicts and what is stored; names are what people see. A desk renames a
category by changing its ``name``/``name_ms``, merges one into another with ``merge_into`` (the model
still predicts the old key; it is reported as the target), and adds one by listing a new key and
training on tickets labelled with it (``tiket train --data``). Pure module: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Category", "TaxonomyError", "category_merges", "read_taxonomy"]


class TaxonomyError(ValueError):
    """Raised when ``[triage.categories]`` has an entry that is not a table, or a ``merge_into`` that
    names no category or a category that is itself merged."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Category:
    """One category: its stable ``key``, display ``name`` and ``name_ms``, ``description``, and the key
    it is merged into (empty: not merged)."""

    key: str
    name: str
    name_ms: str = ""
    description: str = ""
    merge_into: str = ""


def read_taxonomy(entries: Mapping[str, Mapping[str, Any]]) -> dict[str, Category]:
    """Categories by key, in config order. Raises TaxonomyError on a bad entry."""
    out: dict[str, Category] = {}
    for key, entry in entries.items():
        if not isinstance(entry, Mapping):
            raise TaxonomyError(f"triage.categories.{key}: expected a table")
        out[key] = Category(
            key=key,
            name=str(entry.get("name") or key),
            name_ms=str(entry.get("name_ms") or ""),
            description=str(entry.get("description") or ""),
            merge_into=str(entry.get("merge_into") or "").strip(),
        )
    for category in out.values():
        target = out.get(category.merge_into) if category.merge_into else None
        if category.merge_into and (target is None or target.merge_into):
            raise TaxonomyError(
                f"triage.categories {category.key}: merge_into {category.merge_into!r} "
                "is not an unmerged category"
            )
    return out


def category_merges(taxonomy: Mapping[str, Category]) -> dict[str, str]:
    """Old key → new key for every merged category (what ``load_model(category_merge=…)`` takes)."""
    return {key: c.merge_into for key, c in taxonomy.items() if c.merge_into}
