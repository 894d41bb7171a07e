"""Weak supervision: rules that label public tickets with the default IT-desk categories (pure)

No public data set is labelled with the desk's categories (access, email, network, hardware, printing,
software, business_apps, storage, security), so ``classifiers/data/make_data.py`` labels the shipped
public texts with these rules and the category head learns from them, generalising past the keywords
to the words that go with them. Each category has a list of key phrases matched as whole words on
*prepared* text (``features.prepare_text``: lower-case, no punctuation, frequent Malay words already in
English). A text gets the category with the most distinct key phrases, subject phrases counting twice;
a tie, or no phrase at all, abstains (the row is not used for the category head). A row's own tag (the
Kaggle Topic_group of an Endava row) can veto a label that contradicts it (``TAG_VETOES``).

The rules are measured on the hand-written mails in ``classifiers/data/eval_it_mails.csv`` (never used
to build the model): see ``classifiers/data/PROVENANCE.md``.

Pure module: no I/O, no clock, no environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from classifiers.phrases import is_word_text, phrase_index, phrase_matches

__all__ = ["CATEGORIES", "KEY_PHRASES", "TAG_VETOES", "WeakLabel", "label_category"]

CATEGORIES: tuple[str, ...] = (
    "access",
    "email",
    "network",
    "hardware",
    "printing",
    "software",
    "business_apps",
    "storage",
    "security",
)

KEY_PHRASES: Mapping[str, tuple[str, ...]] = {
    "access": (
        "password",
        "passwords",
        "locked out",
        "account locked",
        "account is locked",
        "account disabled",
        "unlock",
        "unlocked",
        "lockout",
        "login",
        "log in",
        "logon",
        "log on",
        "sign in",
        "signin",
        "mfa",
        "authenticator",
        "two factor",
        "multi factor",
        "permission",
        "permissions",
        "access rights",
        "admin rights",
        "administrator rights",
        "local admin",
        "active directory",
        "user account",
        "new account",
        "create account",
        "disable account",
        "credentials",
        "otp",
        "user id",
        "username",
        "access request",
        "grant access",
        "give access",
        "need access",
        "remove access",
        "access card",
        "badge",
    ),
    "email": (
        "outlook",
        "email",
        "emails",
        "mail",
        "mailbox",
        "mailboxes",
        "inbox",
        "outbox",
        "calendar",
        "meeting invite",
        "invites",
        "distribution list",
        "shared mailbox",
        "exchange",
        "out of office",
        "automatic reply",
        "bounce",
        "bounced",
        "bouncing",
        "junk",
        "email signature",
        "peti mel",
        "delegate access",
    ),
    "network": (
        "vpn",
        "wifi",
        "wi fi",
        "wireless",
        "internet",
        "network",
        "lan",
        "dns",
        "ethernet",
        "network cable",
        "network point",
        "router",
        "firewall",
        "proxy",
        "bandwidth",
        "connectivity",
        "disconnected",
        "disconnects",
        "ip address",
        "hotspot",
        "access point",
        "offline",
    ),
    "hardware": (
        "laptop",
        "laptops",
        "desktop",
        "monitor",
        "monitors",
        "screen",
        "dock",
        "docking station",
        "keyboard",
        "mouse",
        "headset",
        "webcam",
        "battery",
        "charger",
        "mobile phone",
        "desk phone",
        "phone",
        "handphone",
        "trackpad",
        "hard disk",
        "blue screen",
        "power on",
        "boot",
        "fan",
        "tablet",
        "ipad",
        "hardware",
        "cable",
        "adapter",
        "computer",
        "pc",
    ),
    "printing": (
        "printer",
        "printers",
        "print",
        "printing",
        "prints",
        "scanner",
        "scan",
        "scanning",
        "copier",
        "photocopier",
        "fotostat",
        "toner",
        "cartridge",
        "paper jam",
        "jammed",
        "cetak",
        "mencetak",
    ),
    "software": (
        "install",
        "installed",
        "installation",
        "uninstall",
        "licence",
        "license",
        "software",
        "application",
        "excel",
        "word",
        "powerpoint",
        "teams",
        "onenote",
        "adobe",
        "acrobat",
        "chrome",
        "browser",
        "firefox",
        "java",
        "visio",
        "zoom",
        "microsoft office",
        "office",
        "windows update",
        "upgrade",
        "driver",
        "plugin",
        "add in",
        "autocad",
        "spss",
        "python",
        "antivirus",
    ),
    "business_apps": (
        "erp",
        "sap",
        "payroll",
        "payslip",
        "salary",
        "hr system",
        "hr portal",
        "crm",
        "salesforce",
        "intranet",
        "finance system",
        "timesheet",
        "expense claim",
        "claim",
        "leave application",
        "cuti",
        "purchase order",
        "purchase orders",
        "po",
        "invoice",
        "pos",
        "portal",
        "oracle",
        "workday",
        "dynamics",
        "accounting system",
        "billing",
        "checkout",
        "online store",
        "system",
        "sistem",
        "module",
        "report",
    ),
    "storage": (
        "shared drive",
        "share drive",
        "file share",
        "network drive",
        "shared folder",
        "folder",
        "folders",
        "onedrive",
        "sharepoint",
        "backup",
        "back up",
        "restore",
        "restored",
        "disk space",
        "storage",
        "quota",
        "recover",
        "deleted file",
        "file server",
        "drive",
        "folder kongsi",
        "space",
        "full",
        "sync",
        "syncing",
    ),
    "security": (
        "phishing",
        "phish",
        "malware",
        "virus",
        "ransomware",
        "ransom",
        "hacked",
        "hack",
        "compromised",
        "suspicious",
        "scam",
        "stolen",
        "theft",
        "breach",
        "encrypted",
        "fraud",
        "spam",
        "unusual sign in",
        "unknown login",
        "mencurigakan",
        "dicuri",
        "curi",
        "hilang",
        "threat",
        "infected",
        "security",
    ),
}

# A phrase list compiled once per category: whole words on prepared text.
_PATTERNS: Mapping[str, re.Pattern[str]] = {
    category: re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\b")
    for category, phrases in KEY_PHRASES.items()
}

# Phrases that make a ticket a security one whatever device or system it names: the taxonomy puts a
# stolen laptop, a phishing mail or a hacked account under security, not hardware, email or access.
_SECURITY_FIRST = re.compile(
    r"\b(?:phishing|phish|malware|ransomware|ransom|hacked|compromised|stolen|breach|scam|fraud|virus"
    r"|infected|suspicious|encrypted)\b"
)

# A row's own tag rules out some categories (Endava Topic_group → categories it cannot be).
TAG_VETOES: Mapping[str, frozenset[str]] = {
    "Purchase": frozenset({"security", "email", "network", "storage"}),
    "HR Support": frozenset({"printing", "hardware"}),
    "Storage": frozenset({"printing", "security"}),
    "Administrative rights": frozenset({"printing", "security", "email"}),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class WeakLabel:
    """The rules' answer: ``label`` (None: abstain) and the score per category that voted."""

    label: str | None
    scores: Mapping[str, int]


def _score(text: str) -> dict[str, int]:
    """Distinct key phrases per category that has any: ``len(set(_PATTERNS[c].findall(text)))``."""
    if not is_word_text(text):
        return {
            category: len(set(pattern.findall(text)))
            for category, pattern in _PATTERNS.items()
            if pattern.search(text)
        }
    hits = phrase_matches(text.split(), _PHRASE_INDEX)
    return {
        category: len({phrase for _, _, phrase in hits[category]})
        for category in _PATTERNS
        if category in hits
    }


# Prepared text is words of a-z and single spaces, where ``phrase_matches`` gives what findall gives with
# a dictionary lookup per word instead of nine alternations tried at every position.
_PHRASE_INDEX = phrase_index(KEY_PHRASES.items())


def label_category(subject: str, body: str, *, tag: str | None = None) -> WeakLabel:
    """Weak category label of a ticket from its *prepared* subject and body (see module docstring)."""
    scores = _score(body)
    for category, hits in _score(subject).items():
        scores[category] = scores.get(category, 0) + 2 * hits
    for vetoed in TAG_VETOES.get(tag or "", frozenset()):
        scores.pop(vetoed, None)
    if "security" in scores and _SECURITY_FIRST.search(subject + " " + body):
        return WeakLabel(label="security", scores=scores)
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return WeakLabel(label=None, scores=scores)
    return WeakLabel(label=ranked[0][0], scores=scores)
