"""Data-breach fast path: ordered rules (English and Malay) that flag a mail as a suspected breach (pure)

A flagged mail goes to the security route at P1 whatever the heads say. Rules run per sentence of the
author's own text (quoted history, signatures and disclaimers removed), and a sentence that speaks
hypothetically ("how do we prevent a data breach", "phishing awareness training") is skipped, so that
questions about security are not treated as incidents of it. Some rules need a second condition anywhere
in the mail (a lost laptop only counts when customer or personal data is mentioned).

Pure module: no I/O, no clock, no environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from classifiers.features import prepare_mail
from classifiers.gated import Gated
from classifiers.substrings import SubstringIndex

__all__ = ["BREACH_RULES", "BreachRule", "BreachVerdict", "detect_breach", "detect_breach_in"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BreachVerdict:
    """Outcome of the rules: ``flagged`` and the names of the rules that matched, in rule order."""

    flagged: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BreachRule:
    """A named rule: ``pattern`` must match one sentence that ``unless`` (if set) does not match; ``also``
    (if set) must match the whole mail."""

    name: str
    pattern: re.Pattern[str]
    also: re.Pattern[str] | None = None
    unless: re.Pattern[str] | None = (
        None  # if set, a sentence matching it does not count for this rule
    )
    # Prefilter: from every group, one word must occur in the mail (lower-cased, white space runs made
    # single spaces, as ``also`` and the sentences see it), or the rule cannot match. Every branch of
    # ``pattern`` (or of ``also``) must contain one of a group's words, a space in a word standing for
    # ``\s+`` (never ``\s*``): a missing word would silently drop a breach, so keep them in step.
    needs: tuple[tuple[str, ...], ...] = ()

    def possible(self, whole: str) -> bool:
        """``needs`` holds for ``whole``: a few substring tests instead of a regex scan (a pattern that
        opens with ``\\b(?:alternation)`` is tried at every position of the mail)."""
        return all(any(word in whole for word in group) for group in self.needs)

    def admits(self, present: frozenset[str]) -> bool:
        """``possible(whole)``, given the needed words that occur in ``whole`` (``NEEDED.present``)."""
        return all(not present.isdisjoint(group) for group in self.needs)


def _rx(pattern: str) -> re.Pattern[str]:
    # Text is lower-cased once before matching (``str.lower``), so patterns are lower-cased and compiled
    # without IGNORECASE, which is about twice as fast (no escape in them has an upper-case meaning).
    return re.compile(pattern.lower(), re.VERBOSE)


_W = r"(?:[\w'-]+\s+)"  # one filler word
# Words of _SENSITIVE, one per branch (a stem where the branch has several forms): the prefilter's group.
_SENSITIVE_WORDS = (
    "customer", "client", "patient", "personal", "employee", "staf", "student", "confidential", "sensitive",
    "payroll", "salar", "medical", "diagnos", "credit", "bank", "nric", "number", "passport", "unencrypted",
    "record", "contacts", "statement", "address", "pelanggan", "peribadi", "sulit", "pekerja", "gaji",
    "pesakit", "kakitangan",
)  # fmt: skip
_SENSITIVE = _rx(
    r"""\b(?:customers?|clients?|patients?|personal|employees?|staff|students?|confidential|sensitive|payroll
        |salary|salaries|medical|diagnos\w*|credit\s+card|bank|nric|ic\s+numbers?|passport|unencrypted
        |hr\s+records?|contacts|statements?|home\s+address(?:es)?
        |pelanggan|peribadi|sulit|pekerja|gaji|pesakit|kakitangan|staf)\b"""
)
_HYPOTHETICAL = _rx(
    r"""\b(?:prevent(?:ing|ion)?|avoid(?:ing)?|protect(?:ing|ion)?\s+against|in\s+case\s+of|polic(?:y|ies)
        |training|awareness|best\s+practices?|how\s+(?:do|can|to|should|would)|what\s+(?:if|happens)
        |guidance|guidelines?|simulat\w*|drill|awareness\s+month|security\s+month|webinar|newsletter
        |should\s+i|is\s+(?:this|it)\s+(?:genuine|legit\w*|real|safe)
        |mencegah|elak(?:kan)?|latihan|kesedaran|bagaimana)\b"""
)

# Credentials typed into a page reached from a link or a look-alike site.
_CREDENTIALS = r"""(?:passwords?|pass\s*words?|credentials|login\s+(?:details|info\w*)|log-?in\s+details
    |sign-?in\s+details|user\s*name\s+and\s+password|one-?time\s+(?:code|password)|otp|mfa\s+code)"""
_TYPED = r"""(?:entered|typed|keyed|put|filled|submitted|gave|provided|inserted)"""
_FAKE = r"""(?:phish\w*|fake|spoofed|bogus|dodgy|suspicious|scam\w*|fraudulent|look-?alike|impersonat\w*
    |(?:was|is)(?:n't|\s+not)\s+(?:ours|our\s+(?:real\s+|own\s+)?(?:site|page|domain|address))
    |not\s+(?:ours|legit\w*|genuine|the\s+real))"""
# Prefilter words of the three above (see ``BreachRule.needs``). _CREDENTIALS: "in details" for
# login / log-in / sign-in details, "pass" for every password branch.
_CREDENTIALS_WORDS = (
    "pass",
    "credentials",
    "otp",
    "time code",
    "mfa code",
    "in details",
    "login info",
)
_TYPED_WORDS = (
    "entered",
    "typed",
    "keyed",
    "put",
    "filled",
    "submitted",
    "gave",
    "provided",
    "inserted",
)
# _FAKE: "alike" for look-alike; "ours" or site|page|domain|address for "wasn't ours / our (real) site";
# ours|legit|genuine|real for "not ours / legit / genuine / the real".
_FAKE_WORDS = (
    "phish", "fake", "spoofed", "bogus", "dodgy", "suspicious", "scam", "fraudulent", "alike", "impersonat",
    "ours", "site", "page", "domain", "address", "legit", "genuine", "real",
)  # fmt: skip
# A password-reset or account-activation link the desk sent is the normal way to set a *new* password.
_OWN_RESET = _rx(r"""\b(?:reset|activation|activate|verification\s+code|new\s+password|change\s+my\s+password\s+link)\b
    |\b(?:link|url)\s+(?:that\s+)?(?:you|u|it|the\s+(?:service|help)\s*desk)\s+(?:sent|provided|gave|shared)\b""")

BREACH_RULES: tuple[BreachRule, ...] = (
    BreachRule(
        name="data_breach",
        needs=(("breach",),),
        pattern=_rx(
            r"\b(?:data|security|privacy)\s+breach(?:es|ed)?\b|\bbreach\s+of\s+(?:\w+\s+)?data\b"
        ),
    ),
    BreachRule(
        name="leaked_credentials",
        needs=(
            (
                *("leak", "stolen", "compromised", "exposed", "posted", "dumped", "published"),
                *(
                    "hacked",
                    "taken",
                ),  # account ... hacked | compromised | taken over; ... been hacked
                "someone",  # someone changed my password
                *("never", "did"),  # e-mails i never / didn't / did not send
            ),
        ),
        pattern=_rx(
            rf"""\b(?:leak(?:ed)?|stolen|compromised|exposed|posted\s+online|dumped)\s+{_W}{{0,3}}
                 (?:passwords?|credentials|logins?|api\s+keys?|access\s+tokens?|secrets?)\b
               | \b(?:passwords?|credentials|api\s+keys?|access\s+tokens?)\s+{_W}{{0,3}}
                 (?:leaked|stolen|compromised|exposed|posted\s+online|published)\b
               | \b(?:account|mailbox|e-?mail)\s+{_W}{{0,4}}(?:was|were|has\s+been|have\s+been|is|got
                   |may\s+(?:have\s+)?be(?:en)?|might\s+(?:have\s+)?be(?:en)?|seems\s+to\s+(?:have\s+)?be(?:en)?)\s+
                 (?:hacked|compromised|taken\s+over)\b
               | \b(?:i\s+think|looks\s+like|seems)\s+(?:\w+\s+){{0,3}}(?:been\s+|got\s+|was\s+)?hacked\b
               | \bsomeone\s+(?:has\s+|had\s+)?(?:changed|reset)\s+my\s+password\b
               | \b(?:e-?mails?|messages?)\s+(?:that\s+)?i\s+(?:never|didn'?t|did\s+not)\s+(?:send|sent|write|wrote)\b
               | \bi\s+(?:never|didn'?t|did\s+not)\s+send\s+(?:them|these|those|it)\b"""
        ),
    ),
    BreachRule(
        name="ransomware",
        needs=(("ransom", "pay", "btc", "crypt", "bitcoin"),),  # crypt: encrypt, decrypt, crypto
        pattern=_rx(
            r"""\bransomware\b|\bransom\s+(?:note|demand|message|payment)\b
              | \bencrypt\w*\b.{0,120}\bransom\b|\bransom\b.{0,120}\bencrypt\w*\b
              | \bfiles?\b.{0,80}\b(?:encrypted|locked|renamed|end\s+in)\b.{0,160}
                \b(?:pay|paying|payment|bitcoins?|btc|crypto\w*|decrypt\w*)\b
              | \b(?:bitcoins?|btc)\b.{0,160}\b(?:files?|encrypted|decrypt\w*)\b"""
        ),
    ),
    BreachRule(
        name="phished_credentials",
        needs=(
            ("phish", "fake", "spoofed", "suspicious", "scam"),
            ("password", "credentials", "login", "username", "bank", "card"),
        ),
        pattern=_rx(
            r"""\bphish\w*\b.{0,150}\b(?:entered|typed|gave|provided|submitted|put\s+in)\b.{0,40}
                \b(?:password|credentials|login|username|bank|card)\b
              | \b(?:entered|typed|gave|provided|submitted)\s+(?:\w+\s+){0,3}(?:password|credentials)\b
                .{0,150}\b(?:phish\w*|fake|spoofed|suspicious|scam)\b"""
        ),
    ),
    BreachRule(
        name="credentials_entered_after_link",
        needs=(_CREDENTIALS_WORDS, _TYPED_WORDS, ("click", *_FAKE_WORDS)),
        pattern=_rx(
            rf"""\bclick(?:ed|ing)?\b.{{0,80}}\b(?:link|button|url|attachment)\b.{{0,150}}\b{_TYPED}\b
                 .{{0,60}}\b{_CREDENTIALS}\b
               | \b{_TYPED}\s+(?:in\s+|into\s+)?(?:[\w'-]+\s+){{0,5}}{_CREDENTIALS}\b.{{0,150}}\b{_FAKE}
               | \b{_FAKE}\s+(?:[\w'-]+\s+){{0,4}}(?:page|site|website|login|form|link)\b.{{0,100}}
                 \b{_TYPED}\b.{{0,60}}\b{_CREDENTIALS}\b"""
        ),
        also=_rx(rf"\b{_CREDENTIALS}\b"),
        unless=_OWN_RESET,
    ),
    BreachRule(
        name="kata_laluan_dimasukkan_di_pautan",
        needs=(
            ("laluan", "password", "otp"),
            ("klik", "tekan", "palsu", "tiruan", "pancingan", "phishing", "mencurigakan", "bukan"),
        ),
        pattern=_rx(
            r"""\b(?:klik|terklik|tekan|tertekan)\w*\b.{0,80}\b(?:pautan|link|butang)\b.{0,150}
                \b(?:masukkan|memasukkan|masuk|taip|menaip|isi|mengisi|beri|berikan)\b.{0,60}
                \b(?:kata\s+laluan|password|id\s+pengguna|kod\s+otp|otp)\b
              | \b(?:masukkan|memasukkan|taip|menaip|isi|mengisi|berikan)\b.{0,60}\b(?:kata\s+laluan|password)\b
                .{0,150}\b(?:palsu|tiruan|pancingan\s+data|phishing|mencurigakan|bukan\s+(?:laman\s+)?(?:kita|kami|rasmi))\b"""
        ),
        also=_rx(r"\b(?:kata\s+laluan|password|otp)\b"),
        unless=_rx(
            r"\b(?:set\s+semula|reset|kata\s+laluan\s+baharu|kata\s+laluan\s+baru|pengaktifan)\b"
        ),
    ),
    BreachRule(
        name="data_exposed",
        needs=(("exposed", "leaked", "stolen", "public", "disclosed", "accessed", "unauthori"),),
        pattern=_rx(
            rf"""\b(?:customer|client|patient|personal|employee|staff|student|user)s?'?\s+{_W}{{0,2}}
                 (?:data|information|records|details|files)\s+{_W}{{0,3}}
                 (?:exposed|leaked|stolen|publicly\s+(?:accessible|available|visible)|made\s+public
                   |disclosed|accessed\s+without)\b
               | \b(?:is|are|was|were|got|been|posted|published|uploaded)\s+(?:\w+\s+){{0,2}}(?:on|to)\s+
                 (?:a\s+|the\s+)?public\s+(?:website|web\s*site|site|page|forum|internet|group)\b
               | \bunauthori[sz]ed\s+(?:access|party|person|user)\s+{_W}{{0,4}}
                 (?:customer|client|patient|personal|employee|sensitive)\s+(?:data|information|records)\b"""
        ),
    ),
    BreachRule(
        name="suspicious_sign_in",
        needs=(
            ("sign", "log", "account"),  # also
            (
                *(
                    "russia",
                    "china",
                    "nigeria",
                    "ukraine",
                    "brazil",
                    "india",
                    "vietnam",
                    "korea",
                    "iran",
                ),
                *(
                    "romania",
                    "abroad",
                    "overseas",
                    "another",
                    "foreign",
                    "unknown",
                    "unfamiliar",
                    "strange",
                ),
                *("unusual", "suspicious", "unrecogni"),
                *("not me", "wasn't me", "wasnt me", "t do that"),
            ),
        ),
        pattern=_rx(
            r"""\b(?:sign(?:ed)?[\s-]?in(?:to)?|log(?:ged)?[\s-]?in(?:to)?|login|logon)\b.{0,80}\bfrom\s+
                (?:russia|china|nigeria|ukraine|brazil|india|vietnam|korea|iran|romania|abroad|overseas
                 |another\s+country|a\s+foreign|an?\s+(?:unknown|unfamiliar|strange)|unknown|unfamiliar)\b
              | \b(?:unusual|suspicious|unrecogni[sz]ed|unknown|strange|unfamiliar)\s+(?:sign[\s-]?ins?|log[\s-]?ins?
                 |logon|activity|access)\b.{0,80}\b(?:not\s+me|wasn'?t\s+me|didn'?t|did\s+not|haven'?t|have\s+not|my\s+account)\b
              | \b(?:not\s+me|wasn'?t\s+me|i\s+didn'?t\s+do\s+that)\b"""
        ),
        also=_rx(r"\b(?:sign(?:ed)?[\s-]?in|log(?:ged)?[\s-]?in|login|logon|account)\b"),
    ),
    BreachRule(
        name="credentials_given_away",
        needs=(
            _CREDENTIALS_WORDS,
            (
                *(
                    "gave",
                    "give",
                    "told",
                    "shared",
                    "provided",
                    "read",
                    "typed",
                    "entered",
                    "keyed",
                ),
                *("put", "filled", "submitted", "inserted"),  # put: also input
            ),
            (  # also
                *_FAKE_WORDS,
                *("click", "link", "call", "phoned", "rang", "pretend", "claim", "said", "from"),
                *("weird", "blank"),
            ),
        ),
        pattern=_rx(
            rf"""\b(?:gave|give|told|shared|provided|read\s+out|typed|entered|keyed|put|filled|submitted|inserted
                 |input)\s+(?:in\s+|into\s+)?
                 (?:them\s+|him\s+|her\s+)?(?:[\w'-]+\s+){{0,4}}{_CREDENTIALS}\b"""
        ),
        also=_rx(
            rf"""\b{_FAKE}|\b(?:clicked|click|link|called|caller|phoned|rang|pretend\w*|claim\w*|said\s+they\s+were
                 |from\s+it\b|weird\s+address|blank)\b"""
        ),
        unless=_OWN_RESET,
    ),
    BreachRule(
        name="publicly_exposed_data",
        needs=(("public", "anyone", "everyone", "diakses"), _SENSITIVE_WORDS),
        pattern=_rx(
            r"""\bpublicly\s+(?:accessible|available|visible|exposed|viewable|shared)\b
              | \b(?:open|accessible|available|visible)\s+(?:to|by)\s+(?:the\s+)?(?:public|anyone|everyone\s+online)\b
              | \b(?:is|are|was|were|got|been|posted|published|uploaded|shared)\s+(?:\w+\s+){0,2}(?:on|to|in)\s+
                (?:a\s+|the\s+)?public\s+(?:\w+\s+)?(?:website|web\s*site|site|page|forum|internet|group|channel|repo\w*)\b
              | \b(?:boleh|dapat)\s+diakses\s+(?:oleh\s+)?(?:orang\s+)?(?:awam|sesiapa|umum)\b"""
        ),
        also=_SENSITIVE,
    ),
    BreachRule(
        name="log_masuk_mencurigakan",
        needs=(
            (
                *(
                    "masuk",
                    "saya",
                    "ditukar",
                ),  # log masuk (twice); bukan saya; ditukar oleh orang lain
                *("not me", "wasn't me", "wasnt me", "i didn", "i did not", "i'm in", "im in"),
                *("i am in", "travel"),  # login ... from X ... not me | i'm in | haven't travelled
            ),
            ("dari", "from", "masuk", "mencurigakan", "luar", "ditukar", "laluan"),
        ),
        pattern=_rx(
            r"""\blog\s+masuk\b.{0,80}\b(?:dari|daripada)\s+(?:luar\s+negara|negara\s+lain|china|rusia|russia
                |nigeria|lokasi\s+(?:yang\s+)?tidak\s+dikenali)\b
              | \blog\s+masuk\s+(?:yang\s+)?(?:mencurigakan|luar\s+biasa)\b
              | \b(?:bukan|tak|tidak)\s+saya\b.{0,80}\b(?:log\s+masuk|ditukar|kata\s+laluan)\b
              | \bkata\s+laluan\b.{0,40}\bditukar\s+oleh\s+orang\s+lain\b
              | \b(?:login|log\s+masuk|sign\s*in|log\s*in)\b.{0,60}\b(?:dari|from)\s+[\w-]+\b.{0,60}
                \b(?:bukan\s+saya|not\s+me|wasn'?t\s+me|i\s+didn'?t|i\s+did\s+not|i'?m\s+in|i\s+am\s+in
                  |haven'?t\s+travel\w*|saya\s+(?:tidak|tak)\s+(?:login|log\s+masuk))"""
        ),
    ),
    BreachRule(
        name="akaun_digodam",
        needs=(("hack", "godam"), ("akaun", "emel", "email", "account")),
        pattern=_rx(
            r"""\b(?:akaun|emel|email|account)\s+(?:\w+\s+){0,3}(?:kena|telah|sudah|dah)?\s*(?:hack|hacked|digodam|godam)\b"""
        ),
    ),
    BreachRule(
        name="misdirected_personal_data",
        needs=(
            ("wrong", "by mistake", "in error", "external", "outside", "other", "accidentally"),
            ("sent", "mailed", "forwarded", "shared", "attached", "accidentally"),
            _SENSITIVE_WORDS,
        ),
        pattern=_rx(
            r"""\b(?:sent|emailed|e-mailed|forwarded|mailed|shared)\b.{0,100}
                \bwrong\s+(?:[\w-]+\s+)?(?:recipient|person|address|customer|client|email|e-mail|people|party
                  |clinic|branch|company|department|vendor|supplier)\b
              | \b(?:sent|emailed|e-mailed|forwarded|mailed|shared)\b.{0,120}
                \b(?:by\s+mistake|in\s+error|to\s+(?:an?\s+)?(?:external|outside|another|other)\s+
                  (?:person|party|customer|client|company|address|recipient|vendor))\b
              | \b(?:sent|emailed|e-mailed|forwarded|mailed)\b.{0,100}\bto\s+the\s+wrong\s+\w+
              | \b(?:attached|sent|emailed|forwarded)\s+the\s+wrong\s+(?:file|attachment|document|spreadsheet|report)\b
              | \baccidentally\s+(?:sent|emailed|e-mailed|forwarded|shared|cc'?d|replied)\b.{0,120}
                \b(?:external|outside|another|wrong|other|everyone|all\s+staff)\b"""
        ),
        also=_SENSITIVE,
    ),
    BreachRule(
        name="lost_device_with_data",
        needs=(
            ("laptop", "notebook", "phone", "mobile", "usb", "drive", "disk", "tablet"),
            (
                *("lost", "stole", "missing", "misplaced", "left", "took", "grabbed", "snatched"),
                *("taken", "broke", "dropped", "forgot"),
            ),
            _SENSITIVE_WORDS,
        ),
        pattern=_rx(
            rf"""\b(?:lost|stolen|missing|misplaced|left)\s+{_W}{{0,3}}
                 (?:laptop|notebook|phone|mobile|usb|thumb\s*drive|pen\s*drive|hard\s*(?:disk|drive)|tablet)\b
               | \b(?:laptop|notebook|phone|usb|thumb\s*drive|hard\s*(?:disk|drive)|tablet)\s+{_W}{{0,3}}
                 (?:was|were|has\s+been|got|is)\s+(?:lost|stolen|missing)\b
               | \b(?:took|stole|grabbed|snatched|taken)\s+(?:my\s+|our\s+|the\s+|a\s+)?(?:work\s+|company\s+|office\s+)?
                 (?:laptop|notebook|phone|usb|tablet|bag\s+with\s+(?:my\s+)?laptop)
               | \bbroke\s+into\s+(?:my|our|the)\s+(?:car|house|home|office|room)\b.{{0,120}}\b(?:laptop|phone|tablet|usb)\b
               | \b(?:lost|left|dropped|forgot)\s+(?:my\s+|our\s+|the\s+|a\s+)?(?:work\s+|company\s+|office\s+)?
                 (?:laptop|notebook|phone|usb\s+(?:stick|drive)|tablet)\s+(?:in|on|at)\s+(?:a|the)\s+
                 (?:taxi|cab|grab|train|bus|plane|airport|car|restaurant|cafe|hotel)\b"""
        ),
        also=_SENSITIVE,
    ),
    BreachRule(
        name="kebocoran_data",
        needs=(("bocor", "terdedah", "didedahkan", "dicuri", "pelanggaran"),),
        pattern=_rx(
            r"""\bkebocoran\s+(?:data|maklumat)\b
              | \b(?:data|maklumat)\s+(?:\w+\s+){0,3}(?:telah\s+|sudah\s+)?(?:bocor|terdedah|didedahkan|dicuri)\b
              | \bpelanggaran\s+data\b"""
        ),
    ),
    BreachRule(
        name="kata_laluan_bocor",
        needs=(("bocor", "dicuri", "didedahkan", "terdedah", "digodam", "diceroboh"),),
        pattern=_rx(
            r"""\bkata\s+laluan\s+(?:\w+\s+){0,3}(?:telah\s+|sudah\s+)?(?:bocor|dicuri|didedahkan|terdedah)\b
              | \b(?:bocor|dicuri|didedahkan)\w*\s+(?:\w+\s+){0,2}kata\s+laluan\b
              | \bakaun\s+(?:\w+\s+){0,3}(?:telah\s+|sudah\s+)?(?:digodam|dicerobohi|diceroboh)\b"""
        ),
    ),
    BreachRule(
        name="perisian_tebusan",
        needs=(("tebusan", "bayaran", "bitcoin"),),
        pattern=_rx(
            r"""\bperisian\s+tebusan\b
              | \b(?:disulitkan|dienkripsi|dikunci)\b.{0,120}\b(?:tebusan|bayaran|bitcoin)\b
              | \btebusan\b.{0,120}\b(?:disulitkan|dienkripsi)\b"""
        ),
    ),
    BreachRule(
        name="komputer_hilang_dengan_data",
        needs=(("hilang", "curi", "tercicir"), _SENSITIVE_WORDS),
        pattern=_rx(
            r"""\b(?:komputer\s+riba|laptop|telefon|handphone|hp|phone|pemacu\s+usb|cakera\s+keras|tablet|ipad)
                \s+(?:\w+\s+){0,3}(?:telah\s+|sudah\s+|dah\s+)?(?:hilang|dicuri|kena\s+curi|tercicir)\b"""
        ),
        also=_SENSITIVE,
    ),
    BreachRule(
        name="salah_penerima_data_peribadi",
        needs=(
            (
                "penerima",
                *("salah hantar", "salah emel", "salah kirim"),  # also tersalah ...
                *("terhantar hantar", "terhantar emel", "terhantar kirim"),
            ),
            _SENSITIVE_WORDS,
        ),
        pattern=_rx(
            r"""\b(?:dihantar|dihantarkan|diemel)\b.{0,80}\bpenerima\s+(?:yang\s+)?salah\b
              | \b(?:tersalah|salah|terhantar)\s+(?:hantar|emel|kirim)\b"""
        ),
        also=_SENSITIVE,
    ),
)

# Every word of the rules' prefilters, for one look at a mail's words instead of a scan per word.
NEEDED = SubstringIndex(word for rule in BREACH_RULES for group in rule.needs for word in group)
# The whole-mail tests of each rule, searched only from where a match can start (classifiers.gated)
_WHOLE = tuple(
    (rule, Gated(rule.pattern), Gated(rule.also) if rule.also is not None else None)
    for rule in BREACH_RULES
)

# Sentences end at . ! ? or a blank line; a single line break is a hard wrap inside a sentence
# (plain-text mail wraps at ~72 columns), so it must not cut "typed in my password on the | page".
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


def _sentences(text: str) -> list[str]:
    """Sentences of ``text``: runs of its white-space separated tokens, so each one, its white space made
    single spaces, is a piece of ``" ".join(text.split())`` and a rule's match in it is a match there too
    (no pattern looks past its match but ``\\b``, which sees a space as it sees the sentence's end)."""
    return [part for part in (s.strip() for s in _SENTENCE_END.split(text)) if part]


def detect_breach(subject: str, body: str) -> BreachVerdict:
    """Apply ``BREACH_RULES`` to a mail; flagged when any rule matches a non-hypothetical sentence."""
    return detect_breach_in(prepare_mail(subject, body).own_text)


def detect_breach_in(own_text: str) -> BreachVerdict:
    """``detect_breach`` on a mail's own text (``PreparedMail.own_text``: prepared once, shared).

    Most mails mention no breach: the rules' ``needs`` rule nearly all of them out before any regex runs,
    and sentences are split only for a mail whose whole text a rule matches."""
    text = own_text.lower()
    tokens = text.split()
    whole = " ".join(tokens)
    present = NEEDED.present(whole, tokens)
    candidates = [
        rule
        for rule, pattern, also in _WHOLE
        if rule.admits(present)
        and (also is None or also.find(whole) is not None)
        and pattern.find(whole) is not None  # a sentence's match is one here too (see _sentences)
    ]
    if not candidates:
        return _CLEAR
    sentences = [" ".join(s.split()) for s in _sentences(text) if not _HYPOTHETICAL.search(s)]
    kept = " \n ".join(
        sentences
    )  # a sentence's match is a match here too: one search rules most out
    reasons = tuple(
        rule.name
        for rule in candidates
        if rule.pattern.search(kept)
        and any(
            rule.pattern.search(s) and not (rule.unless and rule.unless.search(s))
            for s in sentences
        )
    )
    return BreachVerdict(flagged=bool(reasons), reasons=reasons)


_CLEAR = BreachVerdict(flagged=False, reasons=())
