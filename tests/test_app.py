"""The application object and its skins: config discovery, fast commands, no stray databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.settings import find_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("explicit", "env", "present", "expected"),
    [
        ("given.toml", {"TIKET_CONFIG": "env.toml"}, ["cwd"], "given.toml"),
        (None, {"TIKET_CONFIG": "env.toml"}, ["cwd", "xdg"], "env.toml"),
        (None, {}, ["cwd", "xdg"], "cwd/tiket.toml"),
        (None, {}, ["xdg"], "xdg/tiket/tiket.toml"),
        (None, {}, ["home"], "home/.config/tiket/tiket.toml"),
        (None, {}, [], None),
    ],
)
def test_config_is_found_the_usual_way(
    tmp_path: Path,
    explicit: str | None,
    env: dict[str, str],
    present: list[str],
    expected: str | None,
) -> None:
    """--config, then $TIKET_CONFIG, ./tiket.toml, $XDG_CONFIG_HOME or ~/.config, /etc."""
    files = {
        "cwd": tmp_path / "cwd" / "tiket.toml",
        "xdg": tmp_path / "xdg" / "tiket" / "tiket.toml",
        "home": tmp_path / "home" / ".config" / "tiket" / "tiket.toml",
    }
    for name in present:
        files[name].parent.mkdir(parents=True, exist_ok=True)
        files[name].write_text("")
    if "xdg" in present:
        env = dict(env, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    (tmp_path / "cwd").mkdir(exist_ok=True)
    found = find_config(explicit, env, tmp_path / "cwd", tmp_path / "home")
    if expected is None:
        assert found is None or found == Path("/etc/tiket/tiket.toml")
    elif expected in ("given.toml", "env.toml"):
        assert found == Path(expected)
    else:
        assert found == tmp_path / expected


def _run(
    code: str, cwd: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIKET")}
    env.update(extra_env or {})
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


FAST_COMMANDS = [
    ["--help"],
    ["tickets", "list"],
    ["tickets", "show", "TKT-000001", "--no-similar"],
    ["tickets", "show", "TKT-000001"],  # with the similar resolved tickets: NumPy only
    ["review", "list"],
    ["inbound", "list"],
    ["outbox", "list"],
    ["quarantine", "list"],
]


def test_everyday_commands_never_import_scikit_learn(tmp_path: Path) -> None:
    """Listing and showing start at once: scikit-learn (and the model), and the mail parser and
    the template engine that only intake and sending need, stay unloaded. The desk
    has tickets (the sample mails, triage off), one resolved, so `show` finds similar ones."""
    assert _run("from pipeline.cli import main; main(['init'])", tmp_path).returncode == 0
    no_model = {"TIKET_TRIAGE__BUILD_DEFAULT": "false"}
    run_once = (
        "import sys\nfrom pipeline.cli import main\nmain(['run', '--once'])\n"
        "print('ICALENDAR' if 'icalendar' in sys.modules else 'NO ICALENDAR')"
    )
    ran = _run(run_once, tmp_path, no_model)
    assert "tickets created" in ran.stdout, ran.stderr[-2000:]
    assert ran.stdout.strip().endswith("NO ICALENDAR"), (
        "intake imported icalendar (only #call needs it)"
    )
    resolve = (
        "from pipeline.cli import main; main(['tickets', 'resolve', 'TKT-000002', '--note', 'ok'])"
    )
    assert _run(resolve, tmp_path).returncode == 0
    code = (
        "import sys\n"
        "from pipeline.cli import main\n"
        "try:\n"
        "    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted({{'sklearn', 'jinja2', 'mailparser'}} & set(sys.modules))\n"
        "print('LOADED ' + ' '.join(heavy) if heavy else 'CLEAN', file=sys.stderr)\n"
    )
    for args in FAST_COMMANDS:
        result = _run(code.format(args=args), tmp_path)
        assert result.stderr.strip().endswith("CLEAN"), (args, result.stderr[-500:])


def test_model_commands_still_offer_their_options(tmp_path: Path) -> None:
    """`tiket train --help` shows train's own options (registered when that command runs)."""
    result = _run(
        "from pipeline.cli import main\ntry:\n    main(['train', '--help'])\nexcept SystemExit:\n"
        "    pass",
        tmp_path,
    )
    assert "--data" in result.stdout


def test_a_command_in_the_wrong_folder_makes_no_database(tmp_path: Path) -> None:
    """Only init and run create a database; others name the missing file and exit 1."""
    result = _run(
        "import sys\nfrom pipeline.cli import main\nsys.exit(main(['tickets', 'list', '--json']))",
        tmp_path,
    )
    assert result.returncode == 1
    assert "no database at" in result.stderr and "tiket init" in result.stderr
    assert not (tmp_path / "tiket-data").exists()


def test_init_says_where_the_database_is(tmp_path: Path) -> None:
    """`tiket init` creates the database and prints its URL; listing it then works."""
    result = _run("from pipeline.cli import main; main(['init'])", tmp_path)
    assert "database ready at sqlite:///tiket-data/tiket.db" in result.stdout
    assert (tmp_path / "tiket-data" / "tiket.db").exists()
    listed = _run("from pipeline.cli import main; main(['tickets', 'list', '--json'])", tmp_path)
    assert json.loads(listed.stdout) == []
