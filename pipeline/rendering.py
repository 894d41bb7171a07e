"""Rendering: Jinja2 templates -> OutgoingMail (multipart text + HTML); never sends.

Templates live in templates/<locale>/<name>.txt.j2 and .html.j2; the text template holds two blocks,
`subject` and `body`; the HTML template is a whole document. StrictUndefined everywhere, autoescape for HTML. Every mail carries
Auto-Submitted: auto-replied (RFC 3834) and our loop marker, so our own screening recognises it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping
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
from pipeline.parsing import clean_header_text
from pipeline.records import MailIntent, OutgoingMail
from pipeline.screening import LOOP_HEADER_NAME

TEMPLATE_DIR = ROOT / "templates"
FALLBACK_LOCALE = "en"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskIdentity:
    """Who our mails are from and how their Message-IDs look."""

    name: str
    address: str
    message_id_domain: str
    timezone: str = "UTC"


@lru_cache(maxsize=4)
def template_environment(directory: Path = TEMPLATE_DIR) -> Environment:
    """The shared Jinja2 environment (cached: building it and compiling templates is costly)."""
    env = Environment(loader=FileSystemLoader(str(directory)), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html.j2",),
                                                   default_for_string=False),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
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


def render_mail(intent: MailIntent, *, ref: str | None, desk: DeskIdentity, now: datetime,
                message_id: str, env: Environment | None = None) -> OutgoingMail:
    """Render one mail intent into a complete MIME message with a fixed Message-ID."""
    env = env or template_environment()
    context: dict[str, Any] = dict(intent.context)
    context.update(ref=ref, desk=desk, now=now.astimezone(ZoneInfo(desk.timezone)))
    text_template = _template(env, intent.locale, intent.template, "txt")
    html_template = _template(env, intent.locale, intent.template, "html")
    subject = clean_header_text(_block(text_template, "subject", context))
    text = _block(text_template, "body", context) + "\n"
    html = html_template.render(context)
    raw = _build_message(intent, subject=subject, text=text, html=html, desk=desk, now=now,
                         message_id=message_id)
    return OutgoingMail(message_id=message_id, template=intent.template, to=intent.to,
                        subject=subject, raw=raw)


def _template(env: Environment, locale: str, name: str, kind: str) -> Template:
    """The locale's template, or the English one when the locale has none."""
    try:
        return env.get_template(f"{locale}/{name}.{kind}.j2")
    except TemplateNotFound:
        return env.get_template(f"{FALLBACK_LOCALE}/{name}.{kind}.j2")


def _block(template: Template, name: str, context: Mapping[str, Any]) -> str:
    block = template.blocks[name]
    return "".join(block(template.new_context(dict(context)))).strip()


def _build_message(intent: MailIntent, *, subject: str, text: str, html: str, desk: DeskIdentity,
                   now: datetime, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((clean_header_text(desk.name), desk.address))
    msg["To"] = ", ".join(intent.to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    if intent.in_reply_to:
        msg["In-Reply-To"] = intent.in_reply_to
    if intent.references:
        msg["References"] = " ".join(intent.references)
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg[LOOP_HEADER_NAME] = desk.message_id_domain
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    msg["Content-Language"] = intent.locale  # after set_content, which drops Content-* headers
    return msg.as_bytes(policy=SMTP)
