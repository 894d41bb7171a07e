"""The pure middle stays pure, transitively: no clock, environment, files, randomness or network.

A module declares itself pure with "(pure)" at the end of its docstring's first line. Every module
in pipeline/stages/ must declare it (the folder's contract), and the declared set is the set
checked: nothing is listed here by hand, so a new pure module cannot be forgotten. Imports are
resolved (`from pipeline.stages import sla` is the module pipeline.stages.sla) and followed
through the project's own modules, so a pure module cannot reach a side effect through a helper.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipeline", "classifiers")
FORBIDDEN_MODULES = {
    "os", "time", "random", "secrets", "socket", "ssl", "subprocess", "shutil", "tempfile",
    "threading", "multiprocessing", "concurrent", "asyncio", "signal", "sqlite3", "smtplib",
    "imaplib", "poplib", "http", "urllib", "requests", "imapclient", "peewee", "playhouse",
    "psycopg2", "schedule", "joblib", "pickle", "logging",
}  # fmt: skip
FORBIDDEN_CALLS = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("time", "time"), ("time", "monotonic"), ("os", "getenv"), ("os", "environ"),
    ("Path", "cwd"), ("Path", "home"),
}  # fmt: skip
FORBIDDEN_NAMES = {"open", "input", "print", "eval", "exec", "__import__"}
FILE_METHODS = {"read_text", "read_bytes", "write_text", "write_bytes", "unlink", "mkdir"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(p): p
    for package in PACKAGES
    for p in sorted((ROOT / package).rglob("*.py"))
    if "data" not in p.relative_to(ROOT).parts
}


def declares_pure(path: Path) -> bool:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.split("\n", 1)[0].rstrip().endswith("(pure)")


PURE = sorted(name for name, path in MODULES.items() if declares_pure(path))


def runtime_imports(name: str) -> set[str]:
    """Fully resolved modules that `name` imports at run time (not under TYPE_CHECKING)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.dump(block.test)
        for n in ast.walk(block)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in MODULES
            )
    return found


def reachable(name: str) -> set[str]:
    """Project modules reached from `name` through run-time imports (with parent packages)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for imported in runtime_imports(current):
            parts = imported.split(".")
            todo.extend(
                ".".join(parts[:i])
                for i in range(1, len(parts) + 1)
                if ".".join(parts[:i]) in MODULES
            )
    return seen


def test_every_stage_declares_itself_pure() -> None:
    """pipeline/stages/ is the pure room: each of its modules says so."""
    stages = {n for n in MODULES if n.startswith("pipeline.stages.")}
    assert stages and stages <= set(PURE), sorted(stages - set(PURE))


@pytest.mark.parametrize("name", PURE)
def test_pure_module_reaches_only_pure_modules(name: str) -> None:
    """A pure module's project imports, followed all the way, are pure (packages' __init__ too)."""
    impure = {m for m in reachable(name) - {name} if m not in PURE and m not in PACKAGES}
    assert not impure, f"{name} reaches {sorted(impure)}"


@pytest.mark.parametrize("name", PURE)
def test_pure_module_has_no_side_effect_imports_or_calls(name: str) -> None:
    """No I/O, clock, environment or randomness module; no clock, env, file or console call."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    bad = {m for m in runtime_imports(name) if m.split(".")[0] in FORBIDDEN_MODULES}
    assert not bad, f"{name} imports {sorted(bad)}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            call = (node.value.id, node.attr)
            assert call not in FORBIDDEN_CALLS, f"{name} uses {node.value.id}.{node.attr}"
        if isinstance(node, ast.Attribute):
            assert node.attr not in FILE_METHODS, f"{name} touches files (.{node.attr})"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_NAMES, f"{name} calls {node.func.id}()"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import os", {"os"}),
        ("from pipeline.stages import sla", {"pipeline.stages", "pipeline.stages.sla"}),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import peewee", {"typing"}),
    ],
)
def test_imports_are_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: set[str]
) -> None:
    """The checker itself: `from package import module` resolves; type-only imports are skipped."""
    path = tmp_path / "probe.py"
    path.write_text(source)
    monkeypatch.setitem(MODULES, "probe", path)
    assert runtime_imports("probe") == expected
