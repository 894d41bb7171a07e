"""Agent auth: whether a mail that claims to come from an agent may run commands (pure)

Three checks, each a pure function over the parsed mail:
  - possession: In-Reply-To/References hold a Message-ID that tiket issued for this ticket to this
    agent or to their tier's group; the id carries an HMAC token over (ticket, message, recipient)
    made with the desk secret, so it cannot be guessed;
  - authenticity: the topmost Authentication-Results header (RFC 8601) of the desk's own receiving
    server (its authserv-id is configured) says DMARC passed, or DKIM or SPF passed aligned with
    the From domain; headers of any other server are ignored;
  - From sanity: exactly one From header with exactly one address, and no other address hidden in
    the display name.
No clock, no files: the keys and `now` are parameters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import getaddresses

import authres

from pipeline.records import ParsedMail

KID_LENGTH = 4
MAC_LENGTH = 20  # base32 characters: 100 bits
_TOKEN = re.compile(rf"[0-9a-f]{{{KID_LENGTH}}}[a-z2-7]{{{MAC_LENGTH}}}")
_ADDRESS_IN_TEXT = re.compile(r"[^\s<>\"',;:()\[\]@]{1,64}@[A-Za-z0-9.-]{1,253}")
AUTH_MODES = ("token+dmarc", "token")


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenKey:
    """One desk secret; `retired_at` is set once a newer key replaced it."""

    key: bytes
    retired_at: datetime | None = None

    @property
    def kid(self) -> str:
        """A short public name of the key, so a token names the key that made it."""
        return hashlib.sha256(b"tiket-kid" + self.key).hexdigest()[:KID_LENGTH]


@dataclass(frozen=True, slots=True, kw_only=True)
class Keyring:
    """The desk's keys, newest first; retired keys verify for `grace` after their retirement."""

    keys: tuple[TokenKey, ...]
    grace: timedelta

    @property
    def current(self) -> TokenKey:
        """The key that signs new Message-IDs."""
        return self.keys[0]

    def usable(self, kid: str, now: datetime) -> TokenKey | None:
        """The key named `kid` if it may still verify tokens at `now`."""
        for key in self.keys:
            if key.kid != kid:
                continue
            if key.retired_at is None or now - key.retired_at <= self.grace:
                return key
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedId:
    """What a Message-ID of ours says: ticket reference, purpose and the token."""

    ref: str
    purpose: str
    kid: str
    mac: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentCheck:
    """The verdict on an agent's mail: `ok`, or the reasons it is not honoured."""

    ok: bool
    reasons: tuple[str, ...] = ()


def recipient_key(recipients: Sequence[str]) -> str:
    """The recipient part of a token: the sorted, lower-cased addresses."""
    return ",".join(sorted(a.lower() for a in recipients))


def _mac(key: bytes, ref: str, purpose: str, recipient: str) -> str:
    digest = hmac.new(key, f"{ref}\n{purpose}\n{recipient}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:MAC_LENGTH]


def issue_message_id(
    ref: str, purpose: str, recipients: Sequence[str], domain: str, keyring: Keyring
) -> str:
    """Our Message-ID for a mail about ticket `ref`: <REF.purpose.TOKEN@domain>."""
    key = keyring.current
    token = key.kid + _mac(key.key, ref, purpose, recipient_key(recipients))
    return f"<{ref}.{purpose}.{token}@{domain}>"


def read_issued_id(message_id: str, domain: str, prefix: str) -> IssuedId | None:
    """Split one of our Message-IDs into its parts, or None when it is not shaped like one."""
    inner = message_id.strip().strip("<>")
    local, _, host = inner.rpartition("@")
    if host.lower() != domain.lower() or len(local) > 300:
        return None
    head, _, token = local.rpartition(".")
    ref, _, purpose = head.partition(".")
    if not _TOKEN.fullmatch(token) or not purpose:
        return None
    if not re.fullmatch(re.escape(prefix) + r"-\d{1,12}", ref, re.IGNORECASE):
        return None
    return IssuedId(
        ref=ref.upper(), purpose=purpose, kid=token[:KID_LENGTH], mac=token[KID_LENGTH:]
    )


def token_holder(
    issued: IssuedId, candidates: Iterable[str], keyring: Keyring, now: datetime
) -> str | None:
    """Which of the candidate recipients this id was issued to (valid token), or None."""
    key = keyring.usable(issued.kid, now)
    if key is None:
        return None
    for candidate in candidates:
        expected = _mac(key.key, issued.ref, issued.purpose, recipient_key([candidate]))
        if hmac.compare_digest(expected, issued.mac):
            return candidate
    return None


def check_possession(
    mail: ParsedMail,
    ref: str,
    holders: Iterable[str],
    keyring: Keyring,
    *,
    domain: str,
    prefix: str,
    now: datetime,
) -> str | None:
    """None when a thread id holds a valid token for ticket `ref` issued to one of `holders`,
    else the reason it does not."""
    wanted = tuple(holders)
    seen_ours = False
    for message_id in (*mail.in_reply_to, *mail.references):
        issued = read_issued_id(message_id, domain, prefix)
        if issued is None:
            continue
        seen_ours = True
        if issued.ref == ref.upper() and token_holder(issued, wanted, keyring, now):
            return None
    if not seen_ours:
        return "no Message-ID of ours in In-Reply-To or References"
    return f"no valid token for {ref} issued to {', '.join(wanted)}"


def from_problem(mail: ParsedMail) -> str | None:
    """Why the From header cannot name an agent (several addresses, a hidden one), else None."""
    froms = [value for name, value in mail.headers if name == "from"]
    if len(froms) != 1:
        return f"{len(froms)} From headers"
    addresses = getaddresses([mail.from_header or froms[0]])
    if len(addresses) != 1:
        return f"From holds {len(addresses)} addresses"
    name, address = addresses[0]
    if address.lower() != mail.sender:
        return "From address is not what was parsed"
    for hidden in _ADDRESS_IN_TEXT.findall(f"{name} {mail.sender_name}"[:2000]):
        if hidden.lower() != mail.sender:
            return "the display name holds another address"
    return None


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: the same domain, or the From domain is a subdomain of it."""
    domain, from_domain = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not domain or "." not in domain:
        return False
    return from_domain == domain or from_domain.endswith("." + domain)


def _domain(value: str) -> str:
    return value.rpartition("@")[2].strip().strip("<>").lower()


def check_authenticity(mail: ParsedMail, trusted_authserv_id: str) -> str | None:
    """None when the trusted server's Authentication-Results pass the mail, else the reason.

    Only the topmost Authentication-Results header with the trusted authserv-id counts: the
    desk's receiving server adds its header on top and removes forged ones with its own id
    (RFC 8601 section 5); headers of any other server are ignored.
    """
    if not trusted_authserv_id:
        return "no trusted authserv-id configured ([security] trusted_authserv_id)"
    from_domain = _domain(mail.sender)
    for name, value in mail.headers:
        if name != "authentication-results":
            continue
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(value[:4000])
        except (authres.AuthResError, ValueError, IndexError):  # malformed: not a pass
            continue
        if str(parsed.authserv_id).lower() != trusted_authserv_id.lower():
            continue
        return _verdict(parsed.results, from_domain)
    return f"no Authentication-Results header from {trusted_authserv_id}"


def _verdict(results: Sequence[object], from_domain: str) -> str | None:
    seen = []
    for result in results:
        method = str(getattr(result, "method", "")).lower()
        outcome = str(getattr(result, "result", "")).lower()
        props = {
            f"{p.type}.{p.name}".lower(): str(p.value or "")
            for p in getattr(result, "properties", None) or ()
        }
        seen.append(f"{method}={outcome}")
        if outcome != "pass":
            continue
        if method == "dmarc" and _aligned(props.get("header.from", from_domain), from_domain):
            return None
        if method == "dkim" and _aligned(
            props.get("header.d", "") or _domain(props.get("header.i", "")), from_domain
        ):
            return None
        if method == "spf" and _aligned(
            _domain(props.get("smtp.mailfrom", "")) or props.get("smtp.helo", ""), from_domain
        ):
            return None
    return "not authenticated: " + (" ".join(seen) or "no results")


def check_agent_mail(
    mail: ParsedMail,
    ref: str,
    holders: Iterable[str],
    keyring: Keyring,
    *,
    mode: str,
    trusted_authserv_id: str,
    domain: str,
    prefix: str,
    now: datetime,
) -> AgentCheck:
    """Every check the mode requires; all reasons are collected for the audit trail."""
    reasons = [
        reason
        for reason in (
            from_problem(mail),
            check_possession(mail, ref, holders, keyring, domain=domain, prefix=prefix, now=now),
            check_authenticity(mail, trusted_authserv_id) if mode == "token+dmarc" else None,
        )
        if reason
    ]
    return AgentCheck(ok=not reasons, reasons=tuple(reasons))
