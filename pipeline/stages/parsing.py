"""Parsing: raw bytes -> ParsedMail with mail-parser (addresses, UTC date, text with HTML fallback, attachments) (pure)

Pure: no I/O, no clock; `received_at` stands in for a missing or unreadable Date header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import re
import unicodedata
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Any

import mailparser
import tnefparse
from striprtf.striprtf import rtf_to_text

from pipeline.errors import UnparseableMail
from pipeline.records import Attachment, ParsedMail
from pipeline.stages.addresses import body_key

MAX_FILENAME = 120
MAX_HEADERS = 500
MAX_MULTIPARTS = 200
MAX_PARTS = 1000
MAX_TEXT_CHARS = 100_000
# The MIME pre-checks run over raw.lower(): for bytes, re.IGNORECASE folds exactly the ASCII
# letters that bytes.lower() does, and a case-sensitive scan finds its literal prefix far faster.
_MULTIPART = re.compile(rb"content-type:\s*(?:multipart/|message/rfc822)")
_BOUNDARY = re.compile(rb'boundary[ \t]*=[ \t]*"?([^";\r\n]{1,200})')
_BOUNDARY_SCAN = 64 * 1024 * 1024
_UNSAFE_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MSGID = re.compile(r"<[^<>\s]{1,500}>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Compiled here, not looked up by re.sub(str, ...): every multipart mail makes the email package
# compile its boundary pattern, and those unique patterns push re's cache (512, oldest out) over.
_RESERVED_IN_NAME = re.compile(r'[<>:"|?*]')
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_TAG = re.compile(r"<[^<>]*>")
_BLANK_LINES = re.compile(r"\n{3,}")
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "br",
        "tr",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "blockquote",
        "pre",
        "hr",
        "ul",
        "ol",
    }
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title"})
Pairs = tuple[tuple[str, str], ...]


def parse_mail(
    raw: bytes,
    *,
    received_at: datetime,
    max_mail_bytes: int,
    max_attachment_bytes: int,
    max_parts: int = MAX_PARTS,
    max_text_chars: int = MAX_TEXT_CHARS,
) -> ParsedMail:
    """Understand one mail. Raises UnparseableMail when it is too large or has no readable headers.

    The body text is cut at `max_text_chars` here, before any later pattern (screening, agent
    commands, triage features) runs over it.
    """
    if len(raw) > max_mail_bytes:
        raise UnparseableMail(f"mail is {len(raw)} bytes, over the limit of {max_mail_bytes}")
    _refuse_mime_bombs(raw, max_parts)
    try:
        parsed = mailparser.parse_from_bytes(raw)
    except RecursionError:
        raise UnparseableMail("MIME structure nested too deeply")
    except Exception as exc:  # mail-parser raises many types on hostile input
        raise UnparseableMail(f"mail-parser failed: {type(exc).__name__}: {exc}") from exc
    message = parsed.message
    if message is None or len(message) == 0:
        raise UnparseableMail("no header block")
    headers, sent = _header_pairs(message)  # addresses are read before RFC 2047 decoding
    sender_name, sender = _first_address(sent, "from")
    attachments, dropped = _attachments(parsed.attachments, max_attachment_bytes)
    text, html_only = _body_text(parsed, max_text_chars)
    attachments, dropped, text = _open_tnef(attachments, dropped, text, max_attachment_bytes)
    truncated = len(text) > max_text_chars
    text = text[:max_text_chars]
    return ParsedMail(
        message_id=_message_id(_get(headers, "message-id"), raw),
        sender=sender,
        sender_name=sender_name,
        to=_addresses(sent, "to"),
        cc=_addresses(sent, "cc"),
        reply_to=_addresses(sent, "reply-to"),
        subject=clean_header_text(_subject(parsed.mail)),
        date=_utc(parsed.date) or received_at,
        text=text,
        body_key=body_key(text),
        text_truncated=truncated,
        from_header=clean_header_text(_get(sent, "from") or ""),
        html_only=html_only,
        attachments=attachments,
        dropped_attachments=dropped,
        in_reply_to=tuple(_MSGID.findall(_get(headers, "in-reply-to") or "")),
        references=tuple(_MSGID.findall(_get(headers, "references") or ""))[-50:],
        headers=headers,
        content_type=message.get_content_type(),
        content_language=(_get(headers, "content-language") or "").strip().lower()[:35],
        return_path=_return_path(headers),
        defects=_defects(parsed.defects),
        size=len(raw),
    )


def _refuse_mime_bombs(raw: bytes, max_parts: int) -> None:
    """Refuse a nesting bomb or too many parts before the email package sees the mail. The scans
    run over a lower-cased copy, dropped on return: mail-parser's own copies do not meet it."""
    folded = raw.lower()
    multiparts = len(_MULTIPART.findall(folded))
    if multiparts > MAX_MULTIPARTS:  # a nesting bomb: the email package needs ~20 s to refuse one
        raise UnparseableMail(
            f"MIME structure has {multiparts} multipart or message parts, "
            f"over the limit of {MAX_MULTIPARTS}"
        )
    parts = count_parts(raw, folded)
    if parts > max_parts:  # a flat multipart of 60,000 parts costs as much as a bomb
        raise UnparseableMail(f"MIME structure has {parts} parts, over the limit of {max_parts}")


HEAD_KEPT = 65536
"""Bytes of the first part kept of a mail over max_mail_bytes (with all its headers)."""


def oversized_reason(full_size: int, limit: int) -> str:
    """The quarantine reason of a mail over the size limit of which only the head was kept."""
    return (
        f"mail is {full_size} bytes, over the limit of {limit}: only its headers and the "
        f"first {HEAD_KEPT} bytes of its first part were fetched and kept"
    )


def head_of(raw: bytes) -> bytes:
    """The header block and the first HEAD_KEPT bytes after it (an oversized mail's head)."""
    end = raw.find(b"\r\n\r\n", 0, 1024 * 1024)
    end = raw.find(b"\n\n", 0, 1024 * 1024) if end < 0 else end
    cut = (end if end >= 0 else min(len(raw), 1024 * 1024)) + HEAD_KEPT
    return raw[:cut]


def count_parts(raw: bytes, folded: bytes | None = None) -> int:
    """Every MIME part (leaf or multipart): delimiter lines of every boundary the mail declares.
    `folded` is raw.lower() when the caller has it; boundaries keep their case from `raw`."""
    scanned = raw.lower() if folded is None else folded
    boundaries = {
        raw[found.start(1) : found.end(1)]
        for found in _BOUNDARY.finditer(scanned, 0, _BOUNDARY_SCAN)
    }
    if len(boundaries) > MAX_MULTIPARTS:
        return len(boundaries)
    return 1 + sum(raw.count(b"\n--" + b.strip()) for b in boundaries if b.strip())


def clean_header_text(value: str) -> str:
    """One line of header text: control characters (CR, LF, NUL) become spaces, runs collapse."""
    return " ".join(_CONTROL.sub(" ", value).split())[:998]


def safe_filename(name: str | None, index: int, content_type: str) -> str:
    """A filename that is safe on every filesystem: no path, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = _UNSAFE_IN_NAME.sub("", name).strip().lstrip(".")
    name = _RESERVED_IN_NAME.sub("_", name)
    if not name:
        subtype = content_type.split("/")[-1] if "/" in content_type else "bin"
        name = f"attachment-{index}.{_NOT_ALNUM.sub('', subtype.lower())[:10] or 'bin'}"
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot and len(ext) <= 16 else ""
        name = name[: MAX_FILENAME - len(ext) - 1] + ("." + ext if ext else "")
    return name


def html_to_text(markup: str) -> str:
    """Readable text from HTML: scripts and styles dropped, block elements become line breaks."""
    converter = _TextExtractor()
    try:
        converter.feed(markup)
        converter.close()
    except Exception:  # html.parser is lenient, but never let a body stop intake
        return html.unescape(_TAG.sub(" ", markup))
    lines = (" ".join(line.split()) for line in "".join(converter.parts).splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _header_pairs(message: Any) -> tuple[Pairs, Pairs]:
    """(lower-case name, value) pairs, twice from one pass: RFC 2047 words decoded, and as sent.
    Addresses are read from the pairs as sent, so that a "<", "," or CR/LF hidden in an encoded
    display name can never become (part of) an address."""
    decoded: list[tuple[str, str]] = []
    sent: list[tuple[str, str]] = []
    for name, value in list(message.items())[:MAX_HEADERS]:
        key = str(name).strip().lower()
        text = str(value)
        raw = _text(text)
        decoded.append((key, _header_str(text) if "=?" in text else raw))
        sent.append((key, raw))
    return tuple(decoded), tuple(sent)


def _text(value: Any) -> str:
    return str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _header_str(value: Any) -> str:
    """Decode RFC 2047 words; raw 8-bit header bytes were already read as surrogates or Header."""
    text = str(value)
    return _text(_decode_words(text) if "=?" in text else text)


def _decode_words(text: str) -> str:
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # a broken encoded-word keeps its raw form
        return text


def _get(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _subject(mail: dict[str, Any]) -> str:
    """The Subject as mail-parser decoded it (its `subject` attribute reads the same value)."""
    value = mail.get("subject")
    return value if isinstance(value, str) else str(value or "")


def _first_address(sent: tuple[tuple[str, str], ...], header: str) -> tuple[str, str]:
    """Display name (decoded after the address was found) and address of an undecoded header."""
    name, addr = parseaddr(clean_header_text(_get(sent, header) or ""))
    return clean_header_text(_header_str(name)), addr.strip().lower()[:254]


def _addresses(headers: tuple[tuple[str, str], ...], name: str) -> tuple[str, ...]:
    values = [clean_header_text(v) for k, v in headers if k == name]
    found = []
    for _display, addr in getaddresses(values):
        addr = addr.strip().lower()
        if "@" in addr and addr not in found:
            found.append(addr[:254])
    return tuple(found[:100])


def _return_path(headers: tuple[tuple[str, str], ...]) -> str | None:
    value = _get(headers, "return-path")
    if value is None:
        return None
    return value.strip().strip("<>").strip().lower()


def _message_id(value: str | None, raw: bytes) -> str:
    found = _MSGID.findall(value or "")
    if found:
        return str(found[0])
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@missing-message-id.tiket.invalid>"


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _body_text(parsed: Any, limit: int) -> tuple[str, bool]:
    """The plain text (HTML converted when there is none), at most a little over `limit`."""
    plain = "\n".join(p for p in parsed.text_plain if isinstance(p, str)).strip()
    if plain:
        return plain[: limit + 1], False
    markup = "\n".join(p for p in parsed.text_html if isinstance(p, str))[: limit * 4]
    return (html_to_text(markup)[: limit + 1], True) if markup.strip() else ("", False)


def _attachments(
    items: list[dict[str, Any]], limit: int
) -> tuple[tuple[Attachment, ...], tuple[str, ...]]:
    kept: list[Attachment] = []
    dropped: list[str] = []
    for index, item in enumerate(items, start=1):
        content_type = str(item.get("mail_content_type") or "application/octet-stream")[:100]
        name = safe_filename(item.get("filename"), index, content_type)
        payload = _payload_bytes(item)
        if len(payload) > limit:
            dropped.append(f"{name} ({len(payload)} bytes, over the limit of {limit})")
            continue
        inline = "inline" in str(item.get("content-disposition") or "").lower()
        kept.append(
            Attachment(filename=name, content_type=content_type, payload=payload, inline=inline)
        )
    return tuple(kept), tuple(dropped)


_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_MAX_RTF = 1_000_000  # characters of RTF turned into text (the body of a winmail.dat)
_TYPES_BY_EXTENSION = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
    "pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv", "zip": "application/zip",
    "doc": "application/msword", "xls": "application/vnd.ms-excel",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}  # fmt: skip


def _is_tnef(attachment: Attachment) -> bool:
    return attachment.content_type.lower() in _TNEF_TYPES or attachment.filename.lower() in (
        "winmail.dat",
        "win.dat",
    )


def _open_tnef(
    attachments: tuple[Attachment, ...], dropped: tuple[str, ...], text: str, limit: int
) -> tuple[tuple[Attachment, ...], tuple[str, ...], str]:
    """Outlook's winmail.dat (TNEF): its files become the mail's attachments and, when the mail
    has no text of its own, its body (plain, else HTML, else RTF) the mail's text. A container
    that does not decode is kept as it came."""
    if not any(_is_tnef(a) for a in attachments):
        return attachments, dropped, text
    kept: list[Attachment] = []
    lost = list(dropped)
    for attachment in attachments:
        if not _is_tnef(attachment):
            kept.append(attachment)
            continue
        try:
            tnef = tnefparse.TNEF(attachment.payload)
        except Exception:  # a broken container: keep the bytes, the agent can still download them
            kept.append(attachment)
            continue
        for index, item in enumerate(tnef.attachments, start=len(kept) + 1):
            name = safe_filename(item.long_filename() or item.name, index, "")
            data = bytes(item.data or b"")
            if len(data) > limit:
                lost.append(f"{name} ({len(data)} bytes, over the limit of {limit})")
                continue
            kind = _TYPES_BY_EXTENSION.get(
                name.rsplit(".", 1)[-1].lower(), "application/octet-stream"
            )
            kept.append(Attachment(filename=name, content_type=kind, payload=data, inline=False))
        if not text.strip():
            text = _tnef_text(tnef)
    return tuple(kept), tuple(lost), text


def _tnef_text(tnef: Any) -> str:
    body = tnef.body
    if body:
        return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    if tnef.htmlbody:
        markup = tnef.htmlbody
        return html_to_text(
            markup.decode("utf-8", "replace") if isinstance(markup, bytes) else markup
        )
    rtf = tnef.rtfbody  # decompressed by tnefparse when compressed_rtf is installed
    if isinstance(rtf, bytes) and rtf.startswith(b"{\\rtf"):
        return str(rtf_to_text(rtf[:_MAX_RTF].decode("latin-1"), errors="ignore")).strip()
    return ""


def _payload_bytes(item: dict[str, Any]) -> bytes:
    payload = item.get("payload") or ""
    if item.get("binary"):
        try:
            return base64.b64decode(payload)
        except (binascii.Error, ValueError):
            return str(payload).encode("utf-8", "replace")
    charset = item.get("charset") or "utf-8"
    try:
        return str(payload).encode(charset, "replace")
    except LookupError:
        return str(payload).encode("utf-8", "replace")


def _defects(defects: list[Any]) -> tuple[str, ...]:
    found: list[str] = []
    for entry in defects[:50]:
        if isinstance(entry, dict):
            for values in entry.values():
                found.extend(
                    str(v)[:200] for v in (values if isinstance(values, list) else [values])
                )
        else:
            found.append(str(entry)[:200])
    return tuple(found[:50])
