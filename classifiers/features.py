"""Text preparation: the single path from (subject, body) to model text, for training and serving (pure)

Raw support mail carries quoted replies, signatures, disclaimers, placeholders and HTML remnants
that the training text (synthetic tickets, anonymised Endava tickets) does not. ``prepare_text``
removes them and normalises what is left the way the Endava data was normalised: lower-case, no
punctuation, no digits, single spaces. A small glossary maps frequent Malay help-desk words to
their English equivalents so that Malay mail reaches the (English-trained) heads with familiar words.

Pure module: no I/O, no clock, no environment.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from classifiers.phrases import phrase_index, phrase_matches

PREPARATION_VERSION = 3
"""Bump whenever prepare_text changes what it produces: default bundles built with another
version are rebuilt (a model must be served with the text preparation it was trained with)."""

__all__ = [
    "MAX_CHARS",
    "PreparedMail",
    "normalise_text",
    "prepare_mail",
    "prepare_mails",
    "prepare_text",
    "prepare_texts",
    "strip_mail_noise",
]

# Lines that start a quoted earlier message: everything from there on is history, not the request.
_QUOTE_HEADER = re.compile(
    r"""^[ \t]*(?:
        -{2,}\s*(?:original|forwarded)\s+message\s*-{2,}
      | _{5,}
      | on\s.{1,200}\swrote:?\s*$
      | pada\s.{1,200}\smenulis:?\s*$
      | from:[ \t].{1,300}(?:\n.{0,300}){0,3}\n[ \t]*(?:sent|date):\s
      | daripada:[ \t].{1,300}(?:\n.{0,300}){0,3}\n[ \t]*(?:dihantar|tarikh):\s
      | begin\sforwarded\smessage:
    )""",
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)
# One of these occurs in every match of _QUOTE_HEADER, one per branch ("forwarded" also for "begin
# forwarded message:").
_QUOTE_WORDS = ("original", "forwarded", "_____", "wrote", "menulis", "from:", "daripada:")
# A signature starts at "-- " alone on a line (RFC 3676) or at a closing formula on its own line.
_SIGNATURE_START = re.compile(
    r"""^[ \t]*(?:
        --\s*$
      | (?:best\s+|kind\s+|warm\s+|with\s+)?regards,?\s*$
      | (?:many\s+)?thanks?(?:\s+you)?(?:\s+in\s+advance)?\s*[,!.]?\s*$
      | cheers,?\s*$
      | sincerely,?\s*$
      | yours\s+(?:sincerely|faithfully|truly),?\s*$
      | terima\s+kasih\.?,?\s*$
      | (?:salam|sekian)(?:\s+hormat)?,?\s*$
      | yang\s+benar,?\s*$
      | sent\s+from\s+my\s+\w+.*$
    )""",
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)
# Legal disclaimers and confidentiality notices usually run to the end of the mail.
_DISCLAIMER_START = re.compile(
    r"""^[ \t]*(?:disclaimer|confidentiality\s+notice|notice\s+of\s+confidentiality|penafian)\b
      | ^.{0,80}\b(?:this\s+(?:e-?mail|message)(?:\s+and\s+any\s+attachments?)?\s+
           (?:is|are|may\s+be)\s+(?:confidential|intended\s+(?:only|solely)))
      | ^.{0,80}\be-?mel\s+ini\s+(?:adalah\s+)?(?:sulit|rahsia)
    """,
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)
# One of these occurs in every disclaimer _DISCLAIMER_START finds (disclaimer, confidential[ity] notice,
# penafian; "this e-mail is confidential | intended only"; "e-mel ini sulit | rahsia").
_DISCLAIMER_WORDS = ("disclaimer", "confidential", "penafian", "intended", "sulit", "rahsia")
_QUOTED_LINE = re.compile(r"^[ \t]*>.*$", re.MULTILINE)
# ServiceNow-style e-mail-to-ticket header line ("received from: someone@example.com"): says how the mail
# came in, not what it is about (it marked the ATA rows as one source).
_RECEIVED_FROM = re.compile(r"^[ \t]*received[ \t]+from:.*$", re.IGNORECASE | re.MULTILINE)
# Only the first MAX_CHARS characters of a subject or body are read: what a person writes about their
# problem comes first, and every pattern below then costs a bounded amount of time (issue 11: a mail of
# blank lines or one 100 KB token made the old patterns quadratic).
MAX_CHARS = 20_000
_HTML_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]{0,200}>")
# Placeholders of the synthetic data (<name>, <tel_num>) stand for personal data a real mail would
# carry as text we drop anyway (names, numbers), so they go as a whole.
_PLACEHOLDER = re.compile(r"<[a-z_]{2,20}>")
_NEGATED_CONTRACTION = re.compile(r"n[’']t\b")
_NON_LETTER = re.compile(r"[^a-z\s]+")
_SPACES = re.compile(r"\s+")
# Every byte but a-z to a space (``_letters``' fast path for ASCII text).
_ASCII_LETTERS = bytes(c if 97 <= c <= 122 else 32 for c in range(256))

# Malay → English for the words a help-desk mail most often turns on. Longest phrases first.
_MALAY_GLOSSARY: tuple[tuple[str, str], ...] = (
    ("kata laluan", "password"),
    ("peti mel", "mailbox"),
    ("folder kongsi", "shared folder"),
    ("pemacu bersama", "shared drive"),
    ("tamat tempoh", "expired"),
    ("kemas kini", "update"),
    ("telefon bimbit", "mobile phone"),
    ("mesin fotostat", "photocopier"),
    ("ruang storan", "storage space"),
    ("sistem gaji", "payroll system"),
    ("muat turun", "download"),
    ("set semula", "reset"),
    ("komputer riba", "laptop"),
    ("tidak boleh", "cannot"),
    ("tak boleh", "cannot"),
    ("tidak dapat", "unable to"),
    ("tak dapat", "unable to"),
    ("tidak berfungsi", "not working"),
    ("tak berfungsi", "not working"),
    ("log masuk", "login"),
    ("akaun", "account"),
    ("pencetak", "printer"),
    ("komputer", "computer"),
    ("rangkaian", "network"),
    ("emel", "email"),
    ("e mel", "email"),
    ("rosak", "broken"),
    ("ralat", "error"),
    ("masalah", "problem issue"),
    ("gagal", "failed"),
    ("lambat", "slow"),
    ("mohon", "request please"),
    ("permohonan", "request"),
    ("memohon", "request"),
    ("minta", "request"),
    ("pasang", "install"),
    ("pemasangan", "installation"),
    ("perisian", "software"),
    ("perkakasan", "hardware"),
    ("capaian", "access"),
    ("akses", "access"),
    ("kebenaran", "permission"),
    ("baharu", "new"),
    ("baru", "new"),
    ("pekerja", "employee"),
    ("pelayan", "server"),
    ("segera", "urgent"),
    ("kecemasan", "emergency"),
    ("fail", "file"),
    ("tolong", "please help"),
    ("bantuan", "help"),
    ("sila", "please"),
    ("tukar", "change"),
    ("skrin", "screen"),
    ("papan kekunci", "keyboard"),
    ("tetikus", "mouse"),
    ("mesyuarat", "meeting"),
    ("pembelian", "purchase"),
    ("beli", "purchase"),
    ("cuti", "leave"),
    ("gaji", "salary payroll"),
    ("simpanan", "storage"),
    ("ruang", "space"),
    ("penuh", "full"),
    ("cetak", "print"),
    ("mencetak", "print"),
    ("pengimbas", "scanner"),
    ("kalendar", "calendar"),
    ("pautan", "link"),
    ("sandaran", "backup"),
    ("pulihkan", "restore"),
    ("dikunci", "locked"),
    ("lesen", "licence"),
    ("telefon", "phone"),
    ("dicuri", "stolen"),
    ("hilang", "lost missing"),
    ("jabatan", "department"),
    ("disulitkan", "encrypted"),
    ("tebusan", "ransom"),
    ("penipuan", "scam"),
    ("mencurigakan", "suspicious"),
    ("dakwat", "ink"),
    ("storan", "storage"),
    ("sambung", "connect"),
    ("terputus", "disconnected"),
    ("perlahan", "slow"),
    ("kakitangan", "staff"),
    ("staf", "staff"),
    ("pelanggan", "customer"),
    ("mel", "mail"),
)
_GLOSSARY_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(src) for src, _ in _MALAY_GLOSSARY) + r")\b"
)
_GLOSSARY = dict(_MALAY_GLOSSARY)
_GLOSSARY_INDEX = phrase_index([("", tuple(src for src, _ in _MALAY_GLOSSARY))])
_GLOSSARY_WORDS = frozenset(src.split(" ")[0] for src, _ in _MALAY_GLOSSARY)


def _cut_at_first(pattern: re.Pattern[str], text: str) -> str:
    """Cut ``text`` at the first match of ``pattern`` that has some text before it.

    Requiring text before the match keeps a mail that *opens* with "Thanks," from losing everything.
    """
    for match in pattern.finditer(text):
        if text[: match.start()].strip():
            return text[: match.start()]
    return text


def strip_mail_noise(body: str) -> str:
    """Remove quoted history, signature and disclaimer from a mail body; keep the author's own text.

    Reads the first ``MAX_CHARS`` characters only; every pattern is linear in its input.
    """
    text = body[:MAX_CHARS].replace("\\n", "\n").replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"<br\s*/?>", "\n", text, flags=re.IGNORECASE)
    text = html.unescape(_HTML_TAG.sub(" ", text))
    # each pattern below runs only where its words occur (a scan of the text, not a regex per line)
    if _may_contain(text, ("received",)):
        text = _RECEIVED_FROM.sub("", text)
    if _may_contain(text, _QUOTE_WORDS):
        text = _cut_at_first(_QUOTE_HEADER, text)
    if ">" in text:
        text = _QUOTED_LINE.sub("", text)
    # the disclaimer pattern's ^.{0,80} branches cost 70 us a mail, matching or not
    if _may_contain(text, _DISCLAIMER_WORDS):
        text = _cut_at_first(_DISCLAIMER_START, text)
    return _cut_at_first(_SIGNATURE_START, text)


def _may_contain(text: str, words: tuple[str, ...]) -> bool:
    """Whether ``text`` may contain one of ``words`` (ASCII, lower-case) for a case-insensitive regex.

    Over all of Unicode, re's IGNORECASE matches an ASCII letter to a character whose ``str.lower`` is
    not that letter only for "i" ("ı", and "İ", lowered to two characters) and "s" ("ſ"): when any of
    them occurs, say yes."""
    if "ı" in text or "İ" in text or "ſ" in text:
        return True
    lowered = text.lower()
    return any(word in lowered for word in words)


def normalise_text(text: str) -> str:
    """Lower-case, drop placeholders, addresses, identifier tokens, punctuation and digits; translate Malay key words."""
    lowered = text[:MAX_CHARS].lower()
    if "<" in lowered:  # every placeholder starts with "<"
        lowered = _PLACEHOLDER.sub(" ", lowered)
    lowered = " ".join(_without_artefacts(lowered.split(), lowered))
    if "n't" in lowered or "n’t" in lowered:  # every negated contraction holds one of them
        lowered = _NEGATED_CONTRACTION.sub(" not", lowered)  # "won't boot" -> "wo not boot"
    return _translate_malay(_letters(lowered))


def _letters(text: str) -> str:
    """The runs of a-z in ``text``, joined by single spaces: what ``_NON_LETTER`` (to a space), then
    ``_SPACES`` (to one space) and ``strip`` give. ASCII text (nearly all mail) goes through one byte
    table and ``split`` instead, a sixth of the time of the two substitutions."""
    if text.isascii():
        return " ".join(text.encode("ascii").translate(_ASCII_LETTERS).decode("ascii").split())
    return _SPACES.sub(" ", _NON_LETTER.sub(" ", text)).strip()


def _translate_malay(letters: str) -> str:
    """``_GLOSSARY_PATTERN.sub`` (each glossary phrase by its English) on ``letters``, which is always
    words of a-z and single spaces: a dictionary lookup per word instead of an alternation of ~90 phrases
    tried at every position, and nothing at all to do for most English mail."""
    words = letters.split(" ")
    if _GLOSSARY_WORDS.isdisjoint(words):
        return letters
    matches = phrase_matches(words, _GLOSSARY_INDEX).get("", [])
    out: list[str] = []
    done = 0
    for start, end, phrase in matches:
        out.extend(words[done:start])
        out.append(_GLOSSARY[phrase])
        done = end
    out.extend(words[done:])
    return " ".join(out)


def _without_artefacts(tokens: list[str], text: str) -> list[str]:
    """``tokens`` (of ``text``) without the artefacts; most mails have none, which four substring tests on
    the whole text show at once (a token test per word took a fifth of normalise_text)."""
    if "_" in text or "@" in text or "://" in text or "www." in text:
        return [token for token in tokens if not _is_artefact(token)]
    return tokens


def _is_artefact(token: str) -> bool:
    """URLs, mail addresses and identifier-like tokens with an underscore (SID_34, HostName_1132,
    job_scheduler): export artefacts and anonymisation placeholders, never words a user types.
    A token test instead of a regex over the text: linear however long the token is."""
    return "_" in token or "@" in token or "://" in token or token.startswith("www.")


def _strip_subject_prefixes(subject: str) -> str:
    return re.sub(
        r"^(?:\s*(?:re|fw|fwd|aw|tr|balas|sv)\s*(?:\[\d+\])?\s*:\s*)+",
        "",
        subject,
        flags=re.IGNORECASE,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedMail:
    """One mail prepared once for every consumer: ``own_text`` (subject, a blank line, the author's own
    body text, case and punctuation kept: for the breach rules and the priority cues) and ``model_text``
    (normalised: for the TF-IDF heads)."""

    own_text: str
    model_text: str
    subject_text: str  # the normalised subject alone (the category rules weigh it double)


def prepare_mail(subject: str, body: str) -> PreparedMail:
    """Prepare one mail: noise removed once, then the normalised model text derived from it."""
    cleaned_subject = _strip_subject_prefixes((subject or "")[:1000])
    own = cleaned_subject + "\n\n" + strip_mail_noise(body or "")
    return PreparedMail(
        own_text=own, model_text=normalise_text(own), subject_text=normalise_text(cleaned_subject)
    )


def prepare_mails(items: Iterable[tuple[str, str]]) -> list[PreparedMail]:
    """``prepare_mail`` for many (subject, body) pairs, in order."""
    return [prepare_mail(subject, body) for subject, body in items]


def prepare_text(subject: str, body: str) -> str:
    """Return the model text for one mail: cleaned subject, then cleaned body, normalised."""
    return prepare_mail(subject, body).model_text


def prepare_texts(items: Iterable[tuple[str, str]]) -> list[str]:
    """Prepare many (subject, body) pairs; same result as calling ``prepare_text`` on each."""
    return [prepare_text(subject, body) for subject, body in items]


def as_pairs(subjects: Sequence[str], bodies: Sequence[str]) -> list[tuple[str, str]]:
    """Zip subjects and bodies into pairs (a convenience for column-wise data)."""
    return list(zip(subjects, bodies, strict=True))
