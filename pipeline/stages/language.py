"""Language: which locale to answer a requester in (Content-Language, then a word-count detector) (pure)"""

from __future__ import annotations

import re

SUPPORTED = ("en", "ms")
_WORD = re.compile(r"[a-zA-Z]+")
_MALAY = frozenset(
    """saya kami anda tidak boleh dengan untuk yang dan ini itu sila terima kasih
tolong mohon permohonan bantuan masalah komputer pencetak kata laluan akaun baharu sudah belum
ada dalam pada kerana jika atau juga akan telah sedang hari ini encik puan tuan salam aras
perlahan rosak""".split()
)
_ENGLISH = frozenset(
    """the and is are was were you your i my we our please thanks thank have has
can cannot not with for this that from will would could should it its on in of to be been""".split()
)


def detect_language(text: str, content_language: str = "", fallback: str = "en") -> str:
    """'ms' or 'en': the Content-Language header when it names one we support, else a word count."""
    declared = content_language.split(",")[0].strip().lower()[:2]
    if declared in SUPPORTED:
        return declared
    words = [w.lower() for w in _WORD.findall(text[:4000])]
    malay = sum(w in _MALAY for w in words)
    english = sum(w in _ENGLISH for w in words)
    if malay >= 3 and malay > english:
        return "ms"
    return fallback if fallback in SUPPORTED else "en"
