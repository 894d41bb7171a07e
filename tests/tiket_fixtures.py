"""Helpers for tests: write a tiket config file for a temporary data folder and load it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.settings import Settings, load_settings


def toml_value(value: Any) -> str:
    """A Python value as TOML (strings, numbers, booleans, flat tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def write_config(path: Path, sections: dict[str, dict[str, Any]],
                 mailboxes: list[dict[str, Any]] | None = None) -> Path:
    """Write a TOML file with the given sections and [[mailboxes]]."""
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in values.items())
        lines.append("")
    for box in mailboxes or []:
        lines.append("[[mailboxes]]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in box.items())
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_settings(tmp_path: Path, *, mailboxes: list[dict[str, Any]] | None = None,
                  outbox_url: str | None = None, extra: dict[str, dict[str, Any]] | None = None,
                  env: dict[str, str] | None = None) -> Settings:
    """Settings for a test: data in tmp_path, no model build, the given mailboxes and outbox."""
    sections: dict[str, dict[str, Any]] = {
        "desk": {"data_dir": str(tmp_path / "data"), "log_level": "WARNING"},
        "triage": {"build_default": False, "model_dir": str(tmp_path / "no-model")},
        "outbox": {"url": outbox_url or f"file:{tmp_path / 'outbox'}", "tls": "none",
                   "retry_initial_seconds": 1, "retry_max_seconds": 2},
    }
    for name, values in (extra or {}).items():
        sections.setdefault(name, {}).update(values)
    boxes = mailboxes if mailboxes is not None else [
        {"name": "test", "url": f"maildir:{tmp_path / 'Maildir'}"}]
    path = write_config(tmp_path / "tiket.toml", sections, boxes)
    return load_settings(path, env=env or {})


test_settings.__test__ = False  # type: ignore[attr-defined]
