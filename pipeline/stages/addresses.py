"""Addresses: which addresses tiket may mail, and the normalised form the flood caps count (pure)

An address is mailable only when it parses to exactly one mailbox in the plain dot-atom form
(no quotes, commas, angle brackets, spaces or control characters), so no sender can turn one
address into several SMTP recipients. Every pattern here is linear: the separators are not in
the repeated character classes.
"""

from __future__ import annotations

import hashlib
import re
from email.utils import getaddresses

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_MAILBOX = re.compile(
    rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9](?:[A-Za-z0-9-]{{0,62}})(?:\.[A-Za-z0-9-]{{1,63}})+"
)
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
"""Domains whose mailboxes ignore dots in the local part."""
_DIGITS = re.compile(r"\d+")


def mailbox_address(value: str) -> str | None:
    """The address, lower-cased, when it is exactly one plain mailbox; else None."""
    if len(value) > 254 or not _MAILBOX.fullmatch(value):
        return None
    parsed = getaddresses([value])
    if len(parsed) != 1 or parsed[0][0] or parsed[0][1] != value:
        return None
    return value.lower()


def unmailable(addresses: tuple[str, ...]) -> tuple[str, ...]:
    """The addresses in a recipient list that tiket refuses to send to."""
    return tuple(a for a in addresses if mailbox_address(a) is None)


def normalised_address(address: str) -> str:
    """The mailbox behind an address: case, +tags and (where the domain ignores them) dots do
    not make a new sender. 'Victim.Name+42@GoogleMail.com' -> 'victimname@gmail.com'."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return address.strip().lower()
    local = local.split("+", 1)[0] or local
    if domain == "googlemail.com":
        domain = "gmail.com"
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def body_key(text: str) -> str:
    """A fingerprint of a body that survives what auto-responders vary: quoted lines, case,
    whitespace and numbers (dates, counters, ticket numbers)."""
    lines = [line for line in text[:20000].splitlines() if not line.lstrip().startswith(">")]
    flat = " ".join(_DIGITS.sub("#", " ".join(lines).lower()).split())
    return hashlib.sha256(flat[:5000].encode("utf-8", "replace")).hexdigest()[:32]
