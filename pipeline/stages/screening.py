"""Screening: an ordered tuple of named rules that decide whether a mail may make a ticket and an answer (pure)

Each rule is `rule(mail, policy, history) -> Verdict | None`; the first verdict wins. A rule's function
name is the name written into the audit trail. Pure: no I/O; the sender's history is looked up first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.records import ParsedMail, SenderHistory, Verdict
from pipeline.stages.addresses import mailbox_address

LOOP_HEADER_NAME = "X-Tiket-Loop"
"""Our loop marker: every mail tiket sends carries it, with the desk's Message-ID domain as value."""
LOOP_HEADER = LOOP_HEADER_NAME.lower()

_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply", "auto-reply"})
_SUPPRESS_VALUES = frozenset({"all", "oof", "autoreply", "dr"})
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic|matische)?[ -]?(reply|response|antwort)|autoreply|out of (the )?office"
    r"( reply| autoreply)?|abwesenheitsnotiz|r[ée]ponse automatique|respuesta autom[áa]tica"
    r"|risposta automatica|automatisch antwoord|balasan automatik|jawapan automatik"
    r"|odpowied[zź] automatyczna)\s*:",
    re.IGNORECASE,
)
_DAEMON_LOCALPARTS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
_DSN_SUBJECTS = (
    "undeliverable:",
    "undelivered mail returned",
    "delivery status notification (failure",
    "returned mail:",
    "mail delivery failed",
    "failure notice",
    "delivery failure",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScreeningPolicy:
    """The settings screening needs: our own addresses and the per-sender acknowledgement cap."""

    own_domain: str
    own_addresses: frozenset[str]
    ack_cap_per_hour: int
    desk_ack_cap_per_hour: int = 200
    loop_repeat_limit: int = 3


def is_own_mail(
    mail: ParsedMail, policy: ScreeningPolicy, history: SenderHistory
) -> Verdict | None:
    """Our own mail coming back (loop marker, our Message-ID domain, or from our own address)."""
    marker = mail.header(LOOP_HEADER)
    if marker is not None:
        return _drop("is_own_mail", f"carries our loop marker {LOOP_HEADER}")
    if mail.message_id.rstrip(">").lower().endswith("@" + policy.own_domain.lower()):
        return _drop("is_own_mail", "Message-ID is in our own domain")
    if mail.sender in policy.own_addresses:
        return _drop("is_own_mail", f"sent from our own address {mail.sender}")
    return None


def is_bounce(mail: ParsedMail, policy: ScreeningPolicy, history: SenderHistory) -> Verdict | None:
    """A bounce or delivery status notification (RFC 3464), or a null Return-Path."""
    if mail.content_type in ("multipart/report", "message/delivery-status"):
        return _drop("is_bounce", f"{mail.content_type} (delivery status notification)")
    if mail.return_path == "":
        return _drop("is_bounce", "null Return-Path <>")
    if mail.sender.split("@")[0] in _DAEMON_LOCALPARTS:
        return _drop("is_bounce", f"sent by {mail.sender.split('@')[0]}")
    if mail.header("x-failed-recipients") is not None:
        return _drop("is_bounce", "X-Failed-Recipients header")
    if not mail.sender and mail.subject.lower().startswith(_DSN_SUBJECTS):
        return _drop("is_bounce", "no sender and a bounce subject")
    return None


def is_auto_reply(
    mail: ParsedMail, policy: ScreeningPolicy, history: SenderHistory
) -> Verdict | None:
    """An automatic reply by RFC 3834 or by the de-facto headers that autoresponders set."""
    auto_submitted = (mail.header("auto-submitted") or "").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return _drop("is_auto_reply", f"Auto-Submitted: {auto_submitted[:40]}")
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        if mail.header(name) is not None:
            return _drop("is_auto_reply", f"{name} header")
    precedence = (mail.header("precedence") or mail.header("x-precedence") or "").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return _drop("is_auto_reply", f"Precedence: {precedence}")
    suppress = {
        v.strip().lower() for v in (mail.header("x-auto-response-suppress") or "").split(",")
    }
    if suppress & _SUPPRESS_VALUES:
        return _drop("is_auto_reply", "X-Auto-Response-Suppress")
    if (mail.header("x-apple-action") or "").strip().upper() == "VACATION":
        return _drop("is_auto_reply", "X-Apple-Action: VACATION")
    if (mail.in_reply_to or mail.references) and _AUTO_SUBJECT.match(mail.subject):
        return _drop("is_auto_reply", "an answer with an out-of-office subject")
    return None


def is_list_mail(
    mail: ParsedMail, policy: ScreeningPolicy, history: SenderHistory
) -> Verdict | None:
    """Mailing-list or newsletter mail: a ticket is made, but never answered (lists loop)."""
    if mail.header("list-id") is not None or mail.header("list-unsubscribe") is not None:
        return Verdict(accept=True, acknowledge=False, rule="is_list_mail", reason="List-Id header")
    return None


def has_no_sender(
    mail: ParsedMail, policy: ScreeningPolicy, history: SenderHistory
) -> Verdict | None:
    """No usable From address: a ticket is made, but there is nobody to answer."""
    if "@" not in mail.sender:
        return Verdict(
            accept=True, acknowledge=False, rule="has_no_sender", reason="no From address"
        )
    if mailbox_address(mail.sender) is None:  # e.g. "x,victim@corp.example,y"@attacker.test
        return Verdict(
            accept=True,
            acknowledge=False,
            rule="has_no_sender",
            reason="the From address is not exactly one plain mailbox",
        )
    return None


def repeats_same_body(
    mail: ParsedMail, policy: ScreeningPolicy, history: SenderHistory
) -> Verdict | None:
    """Loop guard: the sender keeps sending the same body (an auto-responder that sets none of
    the RFC 3834 headers): a ticket is made, no more answers, whatever the headers look like."""
    if history.same_body_recent >= policy.loop_repeat_limit:
        return Verdict(
            accept=True,
            acknowledge=False,
            rule="repeats_same_body",
            reason=f"{history.same_body_recent} earlier mails with the same body",
        )
    return None


def exceeds_ack_cap(
    mail: ParsedMail, policy: ScreeningPolicy, history: SenderHistory
) -> Verdict | None:
    """The sender got the hour's quota of acknowledgements: a ticket is made, no more answers."""
    if history.acks_last_hour >= policy.ack_cap_per_hour:
        return Verdict(
            accept=True,
            acknowledge=False,
            rule="exceeds_ack_cap",
            reason=f"{history.acks_last_hour} acknowledgements in the last hour",
        )
    return None


def exceeds_desk_ack_cap(
    mail: ParsedMail, policy: ScreeningPolicy, history: SenderHistory
) -> Verdict | None:
    """The desk sent the hour's quota of acknowledgements to anyone (many senders, or forged
    ones): a ticket is made, no more answers this hour."""
    if history.desk_acks_last_hour >= policy.desk_ack_cap_per_hour:
        return Verdict(
            accept=True,
            acknowledge=False,
            rule="exceeds_desk_ack_cap",
            reason=f"{history.desk_acks_last_hour} acknowledgements by the desk in the last hour",
        )
    return None


Rule = Callable[[ParsedMail, ScreeningPolicy, SenderHistory], "Verdict | None"]

MAIL_RULES: tuple[Rule, ...] = (
    is_own_mail,
    is_bounce,
    is_auto_reply,
    is_list_mail,
    has_no_sender,
)
"""The rules that read only the mail: they come first."""

HISTORY_RULES: tuple[Rule, ...] = (repeats_same_body, exceeds_ack_cap, exceeds_desk_ack_cap)
"""The rules that read the sender's history (looked up only for a mail the first ones let by)."""

SCREENING_RULES: tuple[Rule, ...] = MAIL_RULES + HISTORY_RULES

ACK_HELD_RULES = tuple(rule.__name__ for rule in HISTORY_RULES)
"""The rules that hold an acknowledgement back (the digest counts them)."""

ACCEPT = Verdict(accept=True, acknowledge=True)


def screen_mail(
    mail: ParsedMail,
    policy: ScreeningPolicy,
    history: SenderHistory,
    rules: tuple[Rule, ...] = SCREENING_RULES,
) -> Verdict:
    """Run the rules in order; the first verdict wins, else the mail is accepted and acknowledged."""
    for rule in rules:
        verdict = rule(mail, policy, history)
        if verdict is not None:
            return verdict
    return ACCEPT


def screen_history(
    own: Verdict, mail: ParsedMail, policy: ScreeningPolicy, history: SenderHistory
) -> Verdict:
    """screen_mail's verdict, given `own`, what MAIL_RULES said of the mail: a rule of those
    decides alone; else the history's rules run (intake screens the mail's own rules once for the
    whole batch, and looks the history up only for a mail they let by)."""
    return own if own.rule is not None else screen_mail(mail, policy, history, HISTORY_RULES)


def _drop(rule: str, reason: str) -> Verdict:
    return Verdict(accept=False, acknowledge=False, rule=rule, reason=reason)
