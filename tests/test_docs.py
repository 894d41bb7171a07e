"""Docs: the README's two set-up commands, every CLI command and every config key are documented."""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

from pipeline.cli import build_parser
from pipeline.settings import DEFAULTS_PATH, load_settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line for block in blocks[:2] for line in block.strip().splitlines()]


def test_quick_start_has_exactly_two_set_up_commands() -> None:
    """The first two sh blocks of the quick start hold one command each: run, then test."""
    commands = quick_start_commands()
    assert len(commands) == 2
    assert commands[0].endswith("tiket run --once") and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    """.ci/run executes exactly the README's test command."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert quick_start_commands()[1] in [line.strip() for line in ci]


def subcommands(parser: argparse.ArgumentParser, prefix: str = "tiket") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(f"{prefix} {name}")
                found.extend(subcommands(sub, f"{prefix} {name}"))
    return found


def test_every_cli_command_is_in_the_readme_and_its_help_ends_with_an_example() -> None:
    """Each command path appears in the README; each parser's epilog is an example."""
    parser = build_parser()
    for command in subcommands(parser):
        assert command in README, command
    stack = [parser]
    while stack:
        current = stack.pop()
        assert (current.epilog or "").startswith("example"), current.prog
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())


def test_every_config_key_is_in_the_readme() -> None:
    """Every key of config/defaults.toml is named in the README's configuration section."""
    defaults = tomllib.loads(DEFAULTS_PATH.read_text(encoding="utf-8"))
    section = README.split("## Configuration", 1)[1]
    for name, table in defaults.items():
        keys = table[0].keys() if isinstance(table, list) else table.keys()
        assert name in section, name
        for key in keys:
            assert re.search(rf"\b{key}\b", section), f"{name}.{key}"


def test_example_config_loads() -> None:
    """config/example.toml is valid against the defaults."""
    settings = load_settings(ROOT / "config" / "example.toml", env={})
    assert settings.mailboxes[0].user == "support@contoso.example"
