"""KnowledgeBase: the desk's Markdown articles read from the [kb] folder (EDGE: reads files).

Every `*.md` file of the folder (not its subfolders) is one article; a file that cannot be read
as UTF-8 is skipped with a warning, so one bad file never stops an acknowledgement.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline import ROOT
from pipeline.settings import Settings
from pipeline.stages.known_fixes import KnownFix, parse_article

log = logging.getLogger(__name__)

SAMPLE_KB = ROOT / "config" / "kb"


def kb_folder(settings: Settings) -> Path:
    """The configured folder ([kb] path), or the shipped sample articles when it is empty."""
    path = str(settings.section("kb")["path"])
    return Path(path) if path else SAMPLE_KB


def load_articles(folder: Path) -> tuple[KnownFix, ...]:
    """The folder's articles, by file name; a missing folder is an empty knowledge base."""
    if not folder.is_dir():
        log.warning("kb=%s action=skipped reason=no such folder", folder)
        return ()
    articles = []
    for path in sorted(folder.glob("*.md")):
        try:
            articles.append(parse_article(path.name, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("kb=%s action=skipped reason=%s", path, exc)
    return tuple(articles)
