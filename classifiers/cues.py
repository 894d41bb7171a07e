"""Cues in a mail's own words: impact, urgency (priority) and fault vs ask (kind) (pure)

Kind: a fault ("not working", "error", "rosak", "tak boleh") says incident, an ask for something new or
changed ("please install", "could you create", "mohon", "permohonan") says request; ``kind_vote`` gives
+1, -1 or 0 (neither or both), which the kind head adds to its scores in training and serving alike.

The desk's priority policy is impact × urgency (``[triage.priority_matrix]``). Public ticket data has no
desk priorities, so the default model reads both from what people write, in English and Malay:

- impact **high**: a department, a site, a floor, the whole company, customers, or a business-critical
  system (payroll, ERP, the website, production) that is down; **medium**: a team, several colleagues;
  **low**: one person (the writer, a new starter), said with "my", "I", "saya".
- urgency **high**: work stopped now ("can't work", "down", "nobody can"), a deadline today, or a security
  incident in progress; **medium**: degraded, intermittent, slow, an error that still lets people work;
  **low**: "when you have time", "no rush", a future date.

A cue is *explicit* when a pattern matched; otherwise the level is a default (impact low; urgency medium
for an incident, low for a request) and says so. Priority is applied only when both are explicit.

Pure module: no I/O, no clock, no environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from classifiers.gated import Gated
from classifiers.priority import DEFAULT_MATRIX, PriorityMatrix, priority_for

__all__ = ["Cue", "PriorityCue", "kind_vote", "read_impact", "read_priority", "read_urgency"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Cue:
    """A level (high | medium | low), whether a pattern said so (``explicit``) and the words that did."""

    level: str
    explicit: bool
    evidence: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PriorityCue:
    """Priority from the cues through the matrix; ``explicit`` when impact and urgency both were."""

    label: str
    impact: Cue
    urgency: Cue

    @property
    def explicit(self) -> bool:
        """Both dimensions were read from the text, not defaulted."""
        return self.impact.explicit and self.urgency.explicit


def _rx(pattern: str) -> Gated:
    # Text is lower-cased once before matching (``str.lower``), so patterns are lower-cased and compiled
    # without IGNORECASE, which is about twice as fast (no escape in them has an upper-case meaning).
    # Each starts with \b, so re would try it at every position: Gated tries only where it can start.
    return Gated(pattern.lower(), re.VERBOSE)


_CRITICAL_SYSTEM = r"""(?:payroll|erp|sap|crm|website|web\s*site|online\s+store|e-?commerce|portal|core\s+system
    |production|billing|finance\s+system|hr\s+system|pos|point\s+of\s+sale|call\s+cent(?:er|re)|phone\s+system
    |email\s+server|mail\s+server|exchange|all\s+systems|sistem\s+gaji|sistem\s+kewangan|laman\s+web)"""
_DOWN = r"""(?:down|offline|not\s+working|stopped|unavailable|inaccessible|crashed|outage|not\s+responding
    |tak\s+boleh\s+(?:diakses|guna)|tidak\s+dapat\s+diakses|tidak\s+berfungsi|tak\s+berfungsi|gangguan|lumpuh)"""


@dataclass(frozen=True, slots=True)
class _Alternation:
    """A pattern ``A | B | C`` cut into consecutive parts, each a regex with optional prefilter words (one
    must occur in the text, or the part cannot match). ``first`` gives what ``search`` on the whole
    pattern gives: re takes the leftmost position where a branch matches, the earliest branch there."""

    parts: tuple[tuple[Gated, tuple[str, ...]], ...]

    def first(self, text: str) -> str:
        """The whole pattern's first match in ``text``, "" when none."""
        best: tuple[int, str] | None = None
        for pattern, needs in self.parts:
            if needs and not any(word in text for word in needs):
                continue
            found = pattern.find(text)
            if found and (best is None or found[0] < best[0]):
                best = found
        return best[1] if best else ""


_IMPACT_HIGH = _Alternation(
    (
        (
            _rx(
                r"""\b(?:whole|entire|all\s+of\s+(?:the\s+)?|the\s+entire)\s+(?:\w+\s+)?(?:department|dept|division|office|floor|building
        |site|branch|company|organi[sz]ation|firm|campus|hq|headquarters|staff|level)\b
      | \ball\s+(?:\w+\s+)?(?:users|staff|employees|branches|offices|departments|sites|customers|floors|stores|shops)\b"""
            ),
            (),
        ),
        # "the <word> <place> is down": re tries its optional words at every word of every mail (half the
        # cost of the impact cues), and it cannot match without one of these words.
        (
            _rx(
                r"""\b(?:the\s+)?(?:\w+\s+)?(?:branch|site|office|store|shop|warehouse|plant|factory|building|floor)\s+(?:is|are|was)\s+
        (?:completely\s+|totally\s+)?(?:offline|down|without\s+(?:network|internet|power))\b"""
            ),
            ("offline", "down", "without"),
        ),
        (
            _rx(
                rf"""\b(?:everyone|everybody|nobody|no\s+one|no-one)\s+(?:in|at|on|across)\s+(?:the\s+|our\s+)?(?:\w+\s+)?
        (?:department|dept|office|floor|building|site|branch|company|level|finance|hr|sales|accounts|operations)\b
      | \b(?:everyone|everybody|nobody|no\s+one)\s+(?:can|could|is\s+able)\b
      | \bcompany-?wide\b|\borgani[sz]ation-?wide\b|\bsite-?wide\b
      | \bcustomers?\s+(?:can\s*not|can't|cannot|are\s+unable|unable|could\s+not|couldn't)\b
      | \b(?:\d{{2,}}|hundreds\s+of|dozens\s+of)\s+(?:users|staff|people|employees|customers)\b
      | \b{_CRITICAL_SYSTEM}\s+(?:\w+\s+){{0,3}}(?:is\s+|are\s+|has\s+gone\s+|went\s+|has\s+been\s+)?{_DOWN}
      | \b(?:seluruh|satu|semua)\s+(?:jabatan|pejabat|bangunan|tingkat|syarikat|cawangan|organisasi)\b
      | \bsemua\s+(?:staf|pengguna|pekerja|kakitangan|orang|cawangan|pelanggan)\b
        (?!\s+(?:dalam|di\s+dalam|kat)\s+(?:team|pasukan|unit|bahagian|seksyen))
      | \bpelanggan\s+(?:tidak|tak)\s+(?:boleh|dapat)\b
      | \b(?:tiada|takde|tak\s+ada)\s+sesiapa\s+(?:boleh|dapat)\b"""
            ),
            (),
        ),
    )
)
_IMPACT_MEDIUM = _rx(
    r"""\b(?:my|our|the\s+whole|whole)\s+team\b|\bteam\s+members\b|\bseveral\s+(?:colleagues|people|users|of\s+us)\b
      | \b(?:a\s+few|some|few|many|three|four|five|\d)\s+(?:of\s+us|colleagues|people|users|staff|of\s+my\s+colleagues)\b
      | \b(?:me\s+and|colleagues?\s+and\s+I|both\s+of\s+us|we\s+all|all\s+of\s+us|none\s+of\s+us)\b
      | \b(?:the|our|whole)\s+(?:\w+\s+)?team\b|\bteam\s+(?:kami|saya)\b
      | \bother\s+(?:colleagues|people|users|staff)\b|\bcolleagues\s+(?:also|too|as\s+well)\b
      | \b(?:our|my)\s+(?:unit|section|group|squad|shift)\b
      | \b(?:pasukan|unit|bahagian)\s+(?:kami|saya)\b|\bbeberapa\s+(?:orang|rakan|staf|pengguna)\b
      | \bkami\s+semua\b|\brakan\s+sekerja\s+(?:lain|juga)\b"""
)
_IMPACT_LOW = _rx(
    r"""\b(?:my|i\s+(?:can't|cannot|can\s+not|am|have|need|would|keep|get|lost|forgot)|i'm|i've|me)\b
      | \b(?:saya|aku)\b|\bnew\s+(?:starter|joiner|hire|staff)\b|\bpekerja\s+baru\b"""
)

_URGENCY_HIGH = _rx(
    rf"""\b(?:can't|cannot|can\s+not|unable\s+to|could\s+not|couldn't)\s+(?:do\s+(?:any|my)\s+|get\s+any\s+)?work\b
      | \b(?:work|operations?|business|production|sales|everything)\s+(?:has\s+|have\s+|is\s+)?(?:stopped|halted|at\s+a\s+standstill)\b
      | \b(?:urgent(?:ly)?|asap|a\.s\.a\.p|immediately|emergency|critical|right\s+now|top\s+priority)\b
      | \bdeadline\s+(?:is\s+)?(?:today|tonight|this\s+(?:morning|afternoon|evening)|in\s+\w+\s+hours?)\b
      | \b(?:due|needed|need\s+it|required)\s+(?:by\s+)?(?:today|tonight|this\s+afternoon|within\s+the\s+hour|in\s+an\s+hour)\b
      | \b(?:before|by)\s+(?:\d{{1,2}}\s*(?:am|pm|pagi|petang)|noon|lunch|end\s+of\s+(?:the\s+)?day|eod|cob)\s+today\b
      | \b(?:completely|totally)\s+(?:down|dead|stuck|blocked|unusable|offline)\b
      | \b(?:is|are|went|gone|has\s+gone)\s+down\b|\boutage\b|\bblocked\s+from\s+working\b
      | \b(?:nobody|no\s+one|no-one|none\s+of\s+us|everyone|all\s+users|customers?)\s+(?:can|could)(?:n't|\s*not)\b
      | \b(?:losing|lost)\s+(?:orders|sales|money|customers|revenue|business)\b|\bcustomers\s+(?:are\s+)?waiting\b
      | \b(?:today|tonight|this\s+(?:morning|afternoon|evening)|within\s+the\s+hour|in\s+an\s+hour|before\s+\d{{1,2}}\s*(?:am|pm)
        |hari\s+ini|harini|petang\s+ini|pagi\s+ini|malam\s+ini|sekejap\s+lagi)\b
      | \b(?:can't|cannot|can\s+not)\s+(?:do|get)\s+any(?:thing)?\b|\bnothing\s+else\s+to\s+work\b|\b(?:i'?m|am)\s+(?:completely\s+)?stuck\b
      | \bstops?\s+my\s+work\b|\b(?:tak|tidak)\s+(?:boleh|dapat)\s+(?:buat\s+)?apa-?apa\b
      | \b{_CRITICAL_SYSTEM}\s+(?:\w+\s+){{0,3}}(?:is\s+|are\s+|has\s+gone\s+|went\s+)?{_DOWN}
      | \b(?:still\s+)?(?:happening|spreading|ongoing)\s+(?:now|right\s+now)\b|\bin\s+progress\b
      | \b(?:segera|kecemasan|serta-?merta|sekarang\s+juga|hari\s+ini\s+juga|harini\s+juga|urgent)\b
      | \b(?:tidak|tak)\s+(?:boleh|dapat)\s+(?:buat\s+|membuat\s+|meneruskan\s+)?(?:kerja|bekerja)\b
      | \b(?:kerja|operasi)\s+(?:\w+\s+)?(?:terhenti|tergendala|tergantung)\b|\bterhenti\b|\blumpuh\b
      | \btarikh\s+akhir\s+(?:\w+\s+)?hari\s+ini\b|\bperlu\s+(?:\w+\s+)?hari\s+ini\b"""
)
_URGENCY_LOW = _rx(
    r"""\b(?:when(?:ever)?\s+(?:you\s+)?(?:have|get|find)\s+(?:the\s+|some\s+)?(?:time|chance|a\s+moment)
        |no\s+(?:rush|hurry|urgency)|not\s+urgent|non-?urgent|when\s+(?:it\s+is\s+|it's\s+)?convenient
        |at\s+your\s+convenience|low\s+priority|no\s+pressure|next\s+(?:week|month)|sometime|some\s+time\s+this\s+week
        |not\s+(?:a\s+)?priority|by\s+next|in\s+the\s+coming\s+weeks?
        |bila\s+(?:ada\s+)?(?:masa|senang|free|kelapangan)|tidak\s+(?:perlu\s+)?segera|tak\s+(?:perlu\s+)?urgent
        |tak\s+segera|tidak\s+urgent|minggu\s+depan|bulan\s+depan|tak\s+(?:perlu\s+)?terburu)\b"""
)
_URGENCY_MEDIUM = _rx(
    r"""\b(?:slow(?:ly|er)?|intermittent(?:ly)?|sometimes|occasionally|now\s+and\s+then|keeps?\s+(?:dropping|disconnecting
        |freezing|crashing)|drops?\s+out|flicker\w*|lag\w*|degraded|every\s+(?:now|few|so)|from\s+time\s+to\s+time
        |workaround|still\s+able|can\s+still|but\s+i\s+can|annoying|odd|weird|strange
        |lambat|kadang-?kadang|sekali-?sekala|terputus-?putus|masih\s+boleh)\b"""
)


# A hard fault (nothing works) is urgent for the person who has it, unless a degraded cue says otherwise.
_HARD_FAULT = _rx(
    r"""\b(?:won'?t\s+(?:boot|start|open|turn\s+on|power\s+on|load)|doesn'?t\s+(?:open|start|work)|not\s+working
        |can'?t|cannot|can\s+not|unable\s+to|dead|black\s+screen|blue\s+screen|crash\w*|stuck|locked|no\s+dial\s+tone
        |not\s+accessible|inaccessible|access\s+denied|corrupt\w*|disappeared|offline|down
        |rosak|tak\s+boleh|tidak\s+boleh|tidak\s+dapat|tak\s+dapat|tidak\s+berfungsi|tak\s+berfungsi|hilang)\b"""
)


def read_impact(text: str) -> Cue:
    """How many people the mail says are affected; high beats medium beats low."""
    return _impact(text.lower())


def _impact(text: str) -> Cue:
    """``read_impact`` of lower-cased ``text``."""
    for level, pattern in (
        ("high", _IMPACT_HIGH),
        ("medium", _IMPACT_MEDIUM),
        ("low", _IMPACT_LOW),
    ):
        evidence = pattern.first(text)
        if evidence:
            return Cue(level=level, explicit=True, evidence=evidence)
    return Cue(level="low", explicit=False)


def read_urgency(text: str, *, kind: str | None = None) -> Cue:
    """How much work has stopped: "when you have time" beats every other cue, then "can't work", "today",
    "urgent" (high), then degraded cues (medium), then a hard fault ("won't boot", "tak boleh": high).

    Without a cue: medium for an incident, low for a request (``kind``), medium when unknown.
    """
    return _urgency(text.lower(), kind)


def _urgency(text: str, kind: str | None) -> Cue:
    """``read_urgency`` of lower-cased ``text``."""
    for level, pattern in (
        ("low", _URGENCY_LOW),
        ("high", _URGENCY_HIGH),
        ("medium", _URGENCY_MEDIUM),
        ("high", _HARD_FAULT),
    ):
        evidence = pattern.first(text)
        if evidence:
            return Cue(level=level, explicit=True, evidence=evidence)
    return Cue(level="low" if kind == "request" else "medium", explicit=False)


def read_priority(
    text: str, *, kind: str | None = None, matrix: PriorityMatrix = DEFAULT_MATRIX
) -> PriorityCue:
    """Impact and urgency read from ``text`` (a mail's own text), mapped through ``matrix``. The text is
    lower-cased once: ``str.lower`` gives its own output back unchanged (tests: every code point)."""
    lowered = text.lower()
    impact, urgency = _impact(lowered), _urgency(lowered, kind)
    return PriorityCue(
        label=priority_for(impact.level, urgency.level, matrix), impact=impact, urgency=urgency
    )


_FAULT = _rx(
    r"""\b(?:not\s+working|doesn'?t\s+work|does\s+not\s+work|isn'?t\s+working|stopped\s+(?:working|responding)
        |won'?t\s+(?:start|open|boot|load|connect|print|turn\s+on|work|sync|let)|can'?t|cannot|can\s+not|unable\s+to
        |errors?|fail(?:s|ed|ing|ure)?|crash\w*|freez\w*|froze|hang(?:s|ing)?|broken|down|jam(?:med|s)?|stuck
        |keeps?\s+\w+ing|disconnect\w*|drops?|dropping|no\s+(?:dial\s+tone|signal|internet|network|sound|power)
        |blank|black\s+screen|blue\s+screen|flicker\w*|disappeared|bounc\w*|locked\s+out|corrupt\w*|greyed\s+out
        |rejects?|denied|expired|slow|timeout|timed\s+out|offline|dead|cracked|faint|weird|strange
        |rosak|tak\s+boleh|tidak\s+boleh|tidak\s+dapat|tak\s+dapat|ralat|gagal|lambat|tergendala|terputus|hang
        |tak\s+jalan|tidak\s+berfungsi|tak\s+berfungsi|masalah|dikunci|hilang|tersangkut|perlahan|retak|penuh|full
        |(?:doesn'?t|don'?t|didn'?t|isn'?t|aren'?t|won'?t|wasn'?t)\s+(?!have\b|need\b|mind\b|know\b|want\b)\w+
        |(?:tak|tidak|x)\s+(?!perlu\b|segera\b|urgent\b|apa\b|tahu\b|pasti\b|ada\b)\w+)\b"""
)
_ASK = _rx(
    r"""\b(?:please|pls|plz|kindly|could\s+you|can\s+you|would\s+you|can\s+i|could\s+i|may\s+i)\s+(?:please\s+)?
        (?:install|create|add|set\s*up|give|grant|provide|order|arrange|update|upgrade|remove|disable|enable|reset
          |renew|prepare|activate|open|assign|change|move|register|share|increase|extend|back\s*up|restore|delete
          |have|get|request|run|organi[sz]e|book|set|make)\b
      | \b(?:i\s+would\s+like|i'?d\s+like|we\s+would\s+like|we'?d\s+like|i\s+want\s+to\s+request|request(?:ing)?\s+(?:for|a|an|to)
        |need\s+(?:access|a\s+new|an?\s+\w+\s+licen[cs]e|permission)|new\s+(?:starter|joiner|hire|user|employee|staff|account)
        |how\s+(?:do|can|should)\s+i|is\s+there\s+a\s+way|do\s+we\s+have|approved|approval
        |permohonan|mohon|memohon|minta|boleh\s+(?:tolong\s+)?(?:bagi|pasang|install|tambah|buat|wujudkan|tukar|renew)
        |nak\s+(?:minta|pasang|install|request|pulangkan)|sila\s+(?:pasang|wujudkan|tambah|tukar|beri)|pekerja\s+baru
        |staf\s+baru|pelatih)\b"""
)


def kind_vote(text: str) -> int:
    """+1 when ``text`` (a mail's own words) reports a fault and asks for nothing, -1 when it asks for
    something and reports no fault, 0 otherwise."""
    text = text.lower()
    fault, ask = _FAULT.find(text) is not None, _ASK.find(text) is not None
    return int(fault and not ask) - int(ask and not fault)
