"""Agent mail for end-to-end tests: the one place that builds an agent's reply to a ticket mail.

An agent's mail is verified (issue 11): it must reply to a mail tiket sent that agent or their
tier's group (In-Reply-To its Message-ID, which carries the token) and have passed DMARC at the
desk's own receiving server (its Authentication-Results, authserv-id MX; tests set
[security] trusted_authserv_id = MX). Adapt `agent_reply` here and every test follows.
"""

from __future__ import annotations

import email
import itertools
from email import policy
from email.message import EmailMessage

_numbers = itertools.count(1)

MX = "mx.desk.example"
"""The desk's receiving server in tests: its Authentication-Results are the ones tiket trusts."""


def agent_reply(sent: EmailMessage, agent: str, body: str, name: str = "Agent") -> bytes:
    """The raw reply of `agent` to `sent` (a mail tiket sent to that agent), with `body`."""
    n = next(_numbers)
    domain = agent.rpartition("@")[2]
    return (
        f"Authentication-Results: {MX}; dmarc=pass header.from={domain}; "
        f"spf=pass smtp.mailfrom={domain}\r\n"
        f"From: {name} <{agent}>\r\nTo: support@example.org\r\n"
        f"Subject: Re: {sent['Subject']}\r\n"
        f"Message-ID: <agent-reply-{n}@desk.example>\r\n"
        f"In-Reply-To: {sent['Message-ID']}\r\nReferences: {sent['Message-ID']}\r\n"
        f"Date: Thu, 03 Dec 2026 09:00:00 +0800\r\n\r\n{body}\r\n"
    ).encode()


def requester_reply(sent: EmailMessage, sender: str, body: str) -> bytes:
    """The raw reply of a requester to a mail tiket sent them."""
    n = next(_numbers)
    return (
        f"From: <{sender}>\r\nTo: support@example.org\r\nSubject: Re: {sent['Subject']}\r\n"
        f"Message-ID: <requester-reply-{n}@example.com>\r\n"
        f"In-Reply-To: {sent['Message-ID']}\r\nReferences: {sent['Message-ID']}\r\n"
        f"Date: Thu, 03 Dec 2026 09:00:00 +0800\r\n\r\n{body}\r\n"
    ).encode()


def parse(raw: bytes) -> EmailMessage:
    """A raw mail as an EmailMessage (modern policy)."""
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message
