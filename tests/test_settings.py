"""Settings: defaults, user file, environment overrides and config errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import ConfigError
from pipeline.settings import DEFAULTS_PATH, load_settings
from tests.tiket_fixtures import write_config


def test_embedded_defaults_load_with_the_sample_maildir() -> None:
    """No user file: one Maildir mailbox seeded from the samples, SQLite, file outbox."""
    settings = load_settings(None, env={})
    assert [m.name for m in settings.mailboxes] == ["sample"]
    assert settings.mailboxes[0].scheme == "maildir" and settings.mailboxes[0].seed_sample
    assert settings.database.url == "sqlite:///tiket-data/tiket.db"
    assert settings.outbox.url == "file:tiket-data/outbox"
    assert settings.first_response_hours(None) == 3.0


def test_user_file_overrides_and_mailbox_defaults_apply(tmp_path: Path) -> None:
    """A user mailbox gets [mailbox_defaults] values it does not set, and never seeds samples."""
    path = write_config(
        tmp_path / "t.toml",
        {"desk": {"ref_prefix": "HD"}},
        [{"name": "support", "url": "imaps://desk@mail.example.org/INBOX", "password_env": "PW"}],
    )
    settings = load_settings(path, env={})
    box = settings.mailboxes[0]
    assert (box.host, box.port, box.user, box.folder) == ("mail.example.org", 993, "desk", "INBOX")
    assert box.processed_folder == "Processed" and not box.seed_sample
    assert settings.desk.ref_prefix == "HD"


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        ({"desk": {"nmae": "x"}}, "desk.nmae"),
        ({"intake": {"max_attempts": "three"}}, "intake.max_attempts"),
        ({"outbox": {"url": "ftp://x"}}, "outbox.url"),
        ({"sla": {"default_priority": "P9"}}, "sla.default_priority"),
        ({"bogus": {"a": 1}}, "bogus"),
    ],
)
def test_invalid_values_name_the_file_and_the_key(tmp_path: Path, sections: dict, key: str) -> None:
    """Each invalid key or value raises ConfigError with the file path and the dotted key."""
    path = write_config(tmp_path / "bad.toml", sections)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.key == key and info.value.path == str(path)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("imap://mail.example.org/INBOX", "user@host"),
        ("imaps://desk:secret@mail.example.org/INBOX", "no password in URLs"),
        ("pop3://desk@mail.example.org", "unsupported scheme"),
    ],
)
def test_bad_mailbox_urls_are_refused(tmp_path: Path, url: str, problem: str) -> None:
    """Mailbox URLs without a user, with a password, or of another scheme are config errors."""
    path = write_config(tmp_path / "m.toml", {}, [{"name": "x", "url": url}])
    with pytest.raises(ConfigError, match=problem) as info:
        load_settings(path, env={})
    assert info.value.key == "mailboxes.x.url"


def test_environment_overrides_sections_and_mailboxes(tmp_path: Path) -> None:
    """TIKET_SECTION__KEY and TIKET_MAILBOXES__NAME__KEY win over files, typed by the default."""
    env = {
        "TIKET_INTAKE__MAX_ATTEMPTS": "5",
        "TIKET_DATABASE__URL": "sqlite:///x.db",
        "TIKET_MAILBOXES__SAMPLE__URL": "maildir:/tmp/elsewhere",
    }
    settings = load_settings(None, env=env)
    assert settings.intake.max_attempts == 5
    assert settings.database.url == "sqlite:///x.db"
    assert settings.mailboxes[0].path == Path("/tmp/elsewhere")
    with pytest.raises(ConfigError) as info:
        load_settings(None, env={"TIKET_INTAKE__MAX_ATTEMPTS": "lots"})
    assert "TIKET_INTAKE__MAX_ATTEMPTS" in info.value.path


def test_secrets_come_from_env_or_file_and_missing_ones_name_the_key(tmp_path: Path) -> None:
    """A mailbox password is read from its file; an unset env var is a config error, not a crash."""
    (tmp_path / "pw").write_text("s3cret\n")
    path = write_config(
        tmp_path / "s.toml",
        {},
        [
            {"name": "a", "url": "imaps://u@h/INBOX", "password_file": str(tmp_path / "pw")},
            {"name": "b", "url": "imaps://u@h/INBOX", "password_env": "NOPE_NOT_SET"},
        ],
    )
    settings = load_settings(path, env={})
    assert settings.mailboxes[0].secret() == "s3cret"
    with pytest.raises(ConfigError, match="NOPE_NOT_SET"):
        settings.mailboxes[1].secret()


def test_cli_exits_2_on_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`tiket --config bad.toml tickets list` exits 2 and names the file and the key."""
    path = write_config(tmp_path / "bad.toml", {"intake": {"max_attempts": -1.5}})
    assert main(["--config", str(path), "tickets", "list"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "intake.max_attempts" in err


def test_every_default_key_has_a_comment() -> None:
    """defaults.toml documents each key with a comment line above it (or above its table)."""
    lines = DEFAULTS_PATH.read_text().splitlines()
    for number, line in enumerate(lines):
        if "=" in line and not line.startswith("#") and line.strip():
            above = lines[number - 1].strip()
            assert above.startswith("#") or above.startswith("[") or "=" in above, line
