"""Rendering: Jinja2 templates -> OutgoingMail (multipart text + HTML); never sends (pure)

Templates live in templates/<locale>/<name>.txt.j2 and .html.j2; the text template holds two blocks,
`subject` and `body`; the HTML template is a whole document. StrictUndefined everywhere, autoescape for HTML. Every mail carries
Auto-Submitted: auto-replied (RFC 3834) and our loop marker, so our own screening recognises it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    select_autoescape,
)

from pipeline import ROOT
from pipeline.records import DeskIdentity, MailIntent, OutgoingMail
from pipeline.stages.parsing import clean_header_text
from pipeline.stages.screening import LOOP_HEADER_NAME

TEMPLATE_DIR = ROOT / "templates"
FALLBACK_LOCALE = "en"


@lru_cache(maxsize=4)
def template_environment(directory: Path = TEMPLATE_DIR) -> Environment:
    """The shared Jinja2 environment (cached: building it and compiling templates is costly)."""
    env = Environment(
        loader=FileSystemLoader(str(directory)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates are read once per process, not stat()ed for every mail
    )
    env.filters["hours"] = format_hours
    env.filters["hours_ms"] = format_hours_ms
    return env


def format_hours(value: float) -> str:
    """1.0 -> '1 hour', 2.5 -> '2.5 hours'."""
    number = f"{value:g}"
    return f"{number} hour" if number == "1" else f"{number} hours"


def format_hours_ms(value: float) -> str:
    """1.0 -> '1 jam' (Malay)."""
    return f"{value:g} jam"


def message_id_for(ref: str, purpose: str, domain: str) -> str:
    """Our Message-ID for a ticket mail; it encodes the ticket reference for threading."""
    return f"<{ref}.{purpose}@{domain}>"


def render_mail(
    intent: MailIntent,
    *,
    ref: str | None,
    desk: DeskIdentity,
    now: datetime,
    message_id: str,
    env: Environment | None = None,
) -> OutgoingMail:
    """Render one mail intent into a complete MIME message with a fixed Message-ID."""
    env = env or template_environment()
    context: dict[str, Any] = dict(intent.context)
    context.update(ref=ref, desk=desk, now=now.astimezone(ZoneInfo(desk.timezone)))
    text_template = _template(env, intent.locale, intent.template, "txt")
    html_template = _template(env, intent.locale, intent.template, "html")
    subject = clean_header_text(_block(text_template, "subject", context))
    text = _block(text_template, "body", context) + "\n"
    html = html_template.render(context)
    raw = _build_message(
        intent, subject=subject, text=text, html=html, desk=desk, now=now, message_id=message_id
    )
    return OutgoingMail(
        message_id=message_id, template=intent.template, to=intent.to, subject=subject, raw=raw
    )


def _template(env: Environment, locale: str, name: str, kind: str) -> Template:
    """The locale's template, or the English one when the locale has none."""
    try:
        return env.get_template(f"{locale}/{name}.{kind}.j2")
    except TemplateNotFound:
        return env.get_template(f"{FALLBACK_LOCALE}/{name}.{kind}.j2")


def _block(template: Template, name: str, context: Mapping[str, Any]) -> str:
    block = template.blocks[name]
    return "".join(block(template.new_context(dict(context)))).strip()


def _build_message(
    intent: MailIntent,
    *,
    subject: str,
    text: str,
    html: str,
    desk: DeskIdentity,
    now: datetime,
    message_id: str,
) -> bytes:
    """Assemble the MIME bytes directly (the email package's header objects cost ~2 ms a mail).

    Every header value is either ours or passed through clean_header_text/_address, so no CR or
    LF from a sender can start a header of its own.
    """
    boundary = "=_tiket_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]
    headers = [
        ("From", _from_header(desk.name, desk.address)),
        ("To", ", ".join(_address(a) for a in intent.to)),
        ("Subject", _encode_header(subject)),
        ("Date", format_datetime(now)),
        ("Message-ID", message_id),
    ]
    if intent.in_reply_to:
        headers.append(("In-Reply-To", _address(intent.in_reply_to)))
    if intent.references:
        headers.append(("References", _fold(" ".join(_address(r) for r in intent.references))))
    headers += [
        ("Auto-Submitted", "auto-replied"),
        ("X-Auto-Response-Suppress", "All"),
        (LOOP_HEADER_NAME, desk.message_id_domain),
        ("Content-Language", intent.locale),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    parts = [head.encode("ascii", "replace"), b"\r\n"]
    for subtype, body in (("plain", text), ("html", html)):
        parts += [
            f"--{boundary}\r\nContent-Type: text/{subtype}; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode(),
            _quoted_printable(body),
            b"\r\n",
        ]
    if intent.calendar:  # iMIP (RFC 6047): the invitation is the last, richest alternative
        method = "CANCEL" if b"\nMETHOD:CANCEL" in intent.calendar else "REQUEST"
        parts += [
            f"--{boundary}\r\nContent-Type: text/calendar; charset=utf-8; method={method}\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n".encode(),
            base64.encodebytes(intent.calendar).replace(b"\n", b"\r\n"),  # 76-char lines
        ]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)


def _quoted_printable(text: str) -> bytes:
    data = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"))
    return data.replace(b"\n", b"\r\n")


_NOT_IN_TOKEN = re.compile(r"[\x00-\x20\x7f]")


def _address(value: str) -> str:
    """An address or Message-ID as a header token: whitespace and control characters removed."""
    return _NOT_IN_TOKEN.sub("", value)


@lru_cache(maxsize=16)
def _from_header(name: str, address: str) -> str:
    return formataddr((clean_header_text(name), _address(address)), charset="utf-8")


def _encode_header(value: str) -> str:
    """RFC 2047 for non-ASCII text, folded ASCII otherwise."""
    if value.isascii():
        return _fold(value)
    return Header(value, "utf-8", header_name="Subject").encode(linesep="\r\n")  # no bare LF


def _fold(value: str, width: int = 76) -> str:
    """Fold a long ASCII header value at spaces (RFC 5322 2.2.3)."""
    if len(value) <= width:
        return value
    lines, current = [], ""
    for word in value.split(" "):
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return "\r\n ".join(lines)
