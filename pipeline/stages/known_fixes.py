"""Known fixes: knowledge-base articles and published resolutions that match a new ticket (pure)

An article is Markdown: an optional front matter block (`---`, `categories: printing, hardware`,
`keywords: toner, jam`, `---`), then `# Title` and the text. A published fix is a resolution note
an agent explicitly published (`#resolve --publish`); it shows only the agent's note, never the
requester's words. Both are scored by the IDF-weighted cosine of their words against the ticket's;
an article for other categories is never offered when the ticket's category is known.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.stages.text_similarity import cosine, document_frequency, idf_weights, tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownFix:
    """One offerable fix: what the acknowledgement shows and what it is matched on."""

    key: str  # the article's file name, or the published ticket's reference
    title: str
    summary: str
    source: str  # kb | published
    categories: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class FixMatch:
    """A fix offered to a ticket, with its score."""

    fix: KnownFix
    score: float


FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


def parse_article(key: str, text: str) -> KnownFix:
    """A Markdown article as a KnownFix (title from the first heading, else the key)."""
    meta: dict[str, str] = {}
    found = FRONT_MATTER.match(text)
    if found:
        for line in found.group(1).splitlines():
            name, _, value = line.partition(":")
            meta[name.strip().lower()] = value.strip()
        text = text[found.end() :]
    title = key
    body_lines = []
    for line in text.splitlines():
        if title == key and line.startswith("# "):
            title = line[2:].strip()
        else:
            body_lines.append(line)
    body = "\n".join(body_lines).strip()
    categories = frozenset(
        c.strip().lower() for c in meta.get("categories", "").split(",") if c.strip()
    )
    return KnownFix(
        key=key,
        title=title,
        summary=_summary(body),
        source="kb",
        categories=categories,
        words=tokens(f"{title} {meta.get('keywords', '')} {title}\n{body}", limit=1500),
    )


def published_fix(ref: str, title: str, note: str, words: str) -> KnownFix:
    """A published resolution note as a KnownFix (`words` are what it is matched on)."""
    return KnownFix(
        key=ref,
        title=title,
        summary=note[:600],
        source="published",
        words=frozenset(words.split()),
    )


def _summary(body: str, limit: int = 600) -> str:
    """The article's text without Markdown markup, cut at a line end near `limit`."""
    plain = re.sub(r"[*_`>#]+", "", body).strip()
    if len(plain) <= limit:
        return plain
    cut = plain.rfind("\n", 0, limit)
    return plain[: cut if cut > limit // 2 else limit].rstrip() + " ..."


def match_fixes(
    words: frozenset[str],
    category: str | None,
    fixes: Sequence[KnownFix],
    *,
    min_score: float,
    limit: int,
) -> tuple[FixMatch, ...]:
    """The best `limit` fixes scoring at least `min_score`, best first."""
    if not words or not fixes or limit <= 0:
        return ()
    frequency = document_frequency(f.words for f in fixes)
    weight = idf_weights(
        frequency, len(fixes), words | frozenset().union(*(f.words for f in fixes))
    )
    scored = []
    for fix in fixes:
        if category and fix.categories and category.lower() not in fix.categories:
            continue
        score = cosine(words, fix.words, weight)
        if score >= min_score:
            scored.append(FixMatch(fix=fix, score=score))
    scored.sort(key=lambda m: (-m.score, m.fix.key))
    return tuple(scored[:limit])
