"""Digest CLI: `tiket digest` (preview or send the managers' digest) and `tiket report` (its figures).

cli.py calls `register(subparsers)`; each handler takes (args, settings) and returns the exit code.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.settings import Settings


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}")


def _add_parser(sub: Any, name: str, help_text: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--date",
        type=_day,
        metavar="YYYY-MM-DD",
        help="the day reported on (default: yesterday in the desk's time zone)",
    )
    return parser


def register(subparsers: Any) -> None:
    """Add `digest` and `report` to the `tiket` command tree."""
    digest = _add_parser(
        subparsers,
        "digest",
        "render the managers' daily digest, or queue and send it to [digest] managers",
        "tiket digest --preview /tmp/digest.html --date 2026-11-26",
    )
    action = digest.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--preview",
        metavar="FILE.html",
        type=Path,
        help="write the HTML part to FILE.html (and the text part next to it "
        "as FILE.txt); sends nothing",
    )
    action.add_argument(
        "--send",
        action="store_true",
        help="queue the digest in the outbox (once per day) and deliver it now",
    )
    digest.set_defaults(handler=cmd_digest)
    report = _add_parser(
        subparsers,
        "report",
        "the digest's figures for a day (for scripts)",
        "tiket report --date 2026-11-26 --json",
    )
    report.add_argument("--json", action="store_true", help="one JSON object (the stable contract)")
    report.set_defaults(handler=cmd_report)


def _now() -> datetime:
    return datetime.now(UTC)


def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    """Preview to a file, or queue once and run the outbox job."""
    from pipeline.app import Tiket
    from pipeline.jobs.digest_job import compute_figures, queue_digest, render_digest

    app = Tiket(settings)
    now = _now()
    if args.preview:
        figures = compute_figures(app.store, settings, args.date, now)
        mail = render_digest(figures, settings, now, to=("preview@invalid",))
        html, text = _parts(mail.raw)
        args.preview.parent.mkdir(parents=True, exist_ok=True)
        args.preview.write_text(html, encoding="utf-8")
        args.preview.with_suffix(".txt").write_text(text, encoding="utf-8")
        print(
            f"digest for {figures.day} written to {args.preview} "
            f"(text: {args.preview.with_suffix('.txt')}); subject: {mail.subject}"
        )
        return 0
    try:
        figures, added = queue_digest(app.store, settings, args.date, now)
    except ValueError as exc:
        raise ConfigError(settings.sources[-1], "digest.managers", str(exc))
    stats = app.deliver_outbox()
    state = "queued" if added else "already queued earlier (not queued twice)"
    print(
        f"digest for {figures.day} {state}; outbox delivered {stats.sent}, "
        f"retrying {stats.retried}, failed {stats.failed}"
    )
    return 0 if stats.failed == 0 else 1


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Print the figures (JSON with --json, a short summary otherwise)."""
    from pipeline.app import Tiket
    from pipeline.jobs.digest_job import compute_figures
    from pipeline.stages.digest import figures_to_dict

    app = Tiket(settings)
    figures = compute_figures(app.store, settings, args.date, _now())
    if args.json:
        print(json.dumps(figures_to_dict(figures), indent=2, ensure_ascii=False))
        return 0
    fr, res = figures.first_response_overall, figures.resolution.overall
    print(f"day {figures.day} ({figures.timezone})")
    print(f"  tickets in          {figures.intake.total}")
    print(
        f"  first response      within target {_pct(fr.share_within)}, median "
        f"{_hours(fr.median_hours)}, p90 {_hours(fr.p90_hours)}"
    )
    print(
        f"  resolved            {res.measured}, mean {_hours(res.mean_hours)} "
        f"(goal {_hours(res.target_hours)})"
    )
    print(f"  breaches            {figures.breach_count}; escalations {figures.escalation_count}")
    print(f"  backlog             {figures.backlog.total}")
    print(f"  data breach flags   {figures.flagged_count} new, {figures.open_flagged} open")
    print(f"  model agreement     {_pct(figures.review.agreement)}")
    print(
        f"  mails received      {figures.health.received}; quarantined "
        f"{figures.health.quarantined}; outbox failures {figures.health.outbox_failed}"
    )
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} h"


def _parts(raw: bytes) -> tuple[str, str]:
    """(html, text) of a rendered multipart mail."""
    from email import message_from_bytes, policy

    message = message_from_bytes(raw, policy=policy.default)
    html = message.get_body(preferencelist=("html",))
    text = message.get_body(preferencelist=("plain",))
    assert html is not None and text is not None
    return str(html.get_content()), str(text.get_content())
