"""Display: text from mail made safe for a terminal or a log line (pure)

Control characters (C0 but tab and newline, DEL, C1), bidirectional overrides and isolates, and
line/paragraph separators are shown as visible \\uXXXX escapes, so a mail can neither run a
terminal escape sequence (OSC 52 clipboard writes, clear-screen) nor reorder or forge what an
operator reads. The escapes are valid inside JSON strings too.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_UNSAFE_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _escape(found: re.Match[str]) -> str:
    return f"\\u{ord(found.group(0)):04x}"


def neutralise(text: str) -> str:
    """Text for a terminal: every unsafe character as a visible escape; newlines and tabs kept.
    A CR that ends a line (CRLF, as most mail bodies have) is a line end; a lone CR, which would
    move the cursor back over what the line showed, is escaped."""
    return _UNSAFE.sub(_escape, text.replace("\r\n", "\n"))


def neutralise_line(text: str) -> str:
    """Text for one log line: newlines and tabs are escaped too, so no line can be forged."""
    return _UNSAFE_LINE.sub(_escape, text)
