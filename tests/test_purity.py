"""The pure middle stays pure: no I/O libraries, no clock, no environment (STYLE.md, convention 4)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = [
    "pipeline/stages/parsing.py",
    "pipeline/stages/screening.py",
    "pipeline/stages/reply_matching.py",
    "pipeline/stages/triage.py",
    "pipeline/stages/sla.py",
    "pipeline/stages/lifecycle.py",
    "pipeline/stages/rendering.py",
    "pipeline/stages/language.py",
    "pipeline/records.py",
    "pipeline/stages/digest.py",
    "classifiers/features.py",
    "classifiers/priority.py",
    "classifiers/breach.py",
]
FORBIDDEN_MODULES = {
    "imapclient",
    "smtplib",
    "peewee",
    "playhouse",
    "schedule",
    "socket",
    "subprocess",
    "pipeline.edges.store",
    "pipeline.edges.models",
    "pipeline.settings",
}
FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("time", "time"),
    ("os", "getenv"),
}


def imported(tree: ast.Module) -> set[str]:
    """Modules imported at run time (imports under `if TYPE_CHECKING:` are types only)."""
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If)
        and isinstance(block.test, ast.Name)
        and block.test.id == "TYPE_CHECKING"
        for n in ast.walk(block)
    }
    names = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", PURE)
def test_pure_module_has_no_side_effect_imports_or_clock(path: str) -> None:
    """Each pure module imports no edge library and never reads the clock or the environment."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    bad = {
        name
        for name in imported(tree)
        if name in FORBIDDEN_MODULES or name.split(".")[0] in FORBIDDEN_MODULES
    }
    assert not bad, f"{path} imports {bad}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in FORBIDDEN_CALLS, (
                f"{path} calls {node.value.id}.{node.attr}"
            )
            assert not (node.value.id == "os" and node.attr == "environ"), (
                f"{path} reads os.environ"
            )
