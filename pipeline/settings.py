"""Settings: config/defaults.toml < user TOML < TIKET_SECTION__KEY env, validated into frozen records.

This is the only module that reads os.environ (for overrides and for *_env secrets). Every key a
user may set is in config/defaults.toml; a key that is not there, or a value whose type differs
from the default's, raises ConfigError naming the file and the key.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, time
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

from pipeline import ROOT
from pipeline.errors import ConfigError
from pipeline.vocabulary import MAIL_COMMANDS, PRIORITIES

DEFAULTS_PATH = ROOT / "config" / "defaults.toml"
SAMPLE_MAILS = ROOT / "config" / "sample-mails"
ENV_PREFIX = "TIKET_"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskSettings:
    name: str
    address: str
    message_id_domain: str
    ref_prefix: str
    data_dir: str
    timezone: str
    log_level: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseSettings:
    url: str
    password_env: str
    password_file: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxSettings:
    url: str
    tls: str
    ca_file: str
    username: str
    password_env: str
    password_file: str
    timeout: int
    batch_size: int
    retry_initial_seconds: int
    retry_max_seconds: int
    give_up_after_seconds: int


@dataclass(frozen=True, slots=True, kw_only=True)
class IntakeSettings:
    poll_interval_seconds: int
    idle: bool
    idle_renew_seconds: int
    max_mail_bytes: int
    max_attachment_bytes: int
    max_attempts: int
    fetch_batch: int
    parse_workers: int
    ack_cap_per_hour: int
    desk_ack_cap_per_hour: int
    loop_repeat_limit: int
    loop_window_hours: float
    max_mail_seconds: float
    max_batch_bytes: int
    max_parts: int
    max_text_chars: int
    min_backoff_seconds: int
    max_backoff_seconds: int
    lease_seconds: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaSettings:
    first_response_hours: Mapping[str, float]
    resolution_hours: Mapping[str, float]
    default_priority: str
    business_hours: bool
    business_start: str
    business_end: str
    business_days: tuple[str, ...]
    holidays: tuple[str, ...]
    always_on: tuple[str, ...]
    warn_before_minutes: int
    auto_close_after_hours: float
    escalate_on_missed_first_response: Mapping[str, bool]
    tell_requester_of_relaxed_target: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TierSettings:
    """One support tier: its display name, group address and member (agent) addresses."""

    key: str
    name: str
    group: str
    members: tuple[str, ...]
    mail_commands: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SecuritySettings:
    """[security]: who is alerted, the desk secret, and how agent mail is verified."""

    contact: str
    secret_file: str
    token_grace_days: float
    agent_mail_auth: str
    trusted_authserv_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionSettings:
    """[retention]: days the raw bytes of processed and of quarantined mail are kept."""

    processed_days: float
    quarantined_days: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Mailbox:
    """One watched mailbox; `scheme` is imap, imaps or maildir."""

    name: str
    url: str
    scheme: str
    host: str
    port: int
    user: str
    folder: str
    path: Path | None
    processed_folder: str
    quarantine_folder: str
    tls: str
    ca_file: str
    auth: str
    password_env: str
    password_file: str
    token_file: str
    token_command: str
    seed_sample: bool
    origin: str  # the file that defined it, for error messages

    def secret(self) -> str:
        """The password or XOAUTH2 token, read now (tokens rotate); raises ConfigError if unset."""
        key = f"mailboxes.{self.name}"
        if self.auth == "xoauth2":
            if self.token_command:
                return _run_token_command(self.token_command, self.origin, f"{key}.token_command")
            return read_secret("", self.token_file, self.origin, f"{key}.token_file")
        return read_secret(self.password_env, self.password_file, self.origin, f"{key}.password_*")


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated configuration. `sources` lists the files read, in order."""

    sources: tuple[str, ...]
    data_dir: Path
    desk: DeskSettings
    database: DatabaseSettings
    outbox: OutboxSettings
    intake: IntakeSettings
    sla: SlaSettings
    tiers: Mapping[str, TierSettings]
    security_contact: str
    mailboxes: tuple[Mailbox, ...]
    raw: Mapping[str, Any]

    @property
    def security(self) -> SecuritySettings:
        """The [security] section."""
        return _section(SecuritySettings, self.section("security"))  # type: ignore[no-any-return]

    @property
    def retention(self) -> RetentionSettings:
        """The [retention] section."""
        return _section(RetentionSettings, self.section("retention"))  # type: ignore[no-any-return]

    def tiers_of(self, address: str) -> tuple[TierSettings, ...]:
        """The tiers an agent is a member of."""
        return tuple(t for t in self.tiers.values() if address.lower() in t.members)

    @property
    def agents(self) -> frozenset[str]:
        """Every tier member's address, lower-cased."""
        return frozenset(a.lower() for t in self.tiers.values() for a in t.members)

    def section(self, name: str) -> Mapping[str, Any]:
        """A read-only view of one section, e.g. section("triage")["target_precision"]."""
        value = self.raw[name]
        assert isinstance(value, Mapping)
        return value

    def first_response_hours(self, priority: str | None) -> float:
        """Promised first-response time for a priority (the default priority's when None)."""
        return float(self.sla.first_response_hours[priority or self.sla.default_priority])


def read_secret(env_name: str, file_path: str, origin: str, key: str) -> str:
    """Read a secret from an environment variable or a file; raises ConfigError naming the key."""
    if env_name:
        value = os.environ.get(env_name)
        if value is None:
            raise ConfigError(origin, key, f"environment variable {env_name} is not set")
        return value
    if file_path:
        try:
            return Path(file_path).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(origin, key, f"cannot read secret file {file_path}: {exc.strerror}")
    raise ConfigError(origin, key, "no secret configured (set *_env or *_file)")


def _run_token_command(command: str, origin: str, key: str) -> str:
    try:
        done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise ConfigError(origin, key, "token command timed out after 30 s")
    if done.returncode != 0 or not done.stdout.strip():
        raise ConfigError(origin, key, f"token command failed with exit code {done.returncode}")
    return done.stdout.strip()


def find_config(
    path: str | Path | None, env: Mapping[str, str], cwd: Path, home: Path
) -> Path | None:
    """The desk's config file, found the usual way: --config, $TIKET_CONFIG, ./tiket.toml,
    $XDG_CONFIG_HOME/tiket/tiket.toml (~/.config/...), /etc/tiket/tiket.toml; None: defaults only.
    An explicit path (or $TIKET_CONFIG) is returned even when missing, so its error names it."""
    explicit = path or env.get("TIKET_CONFIG")
    if explicit:
        return Path(explicit)
    config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    for candidate in (cwd / "tiket.toml", config_home / "tiket" / "tiket.toml", SYSTEM_CONFIG):
        if candidate.is_file():
            return candidate
    return None


SYSTEM_CONFIG = Path("/etc/tiket/tiket.toml")


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load defaults, then the desk's file (see find_config), then TIKET_SECTION__KEY overrides."""
    env = os.environ if env is None else env
    defaults = _read_toml(DEFAULTS_PATH)
    merged = _deep_copy(defaults)
    sources = [str(DEFAULTS_PATH)]
    user_path = find_config(path, env, Path.cwd(), Path.home())
    mailbox_origin = str(DEFAULTS_PATH)
    if user_path:
        user = _read_toml(Path(user_path))
        _merge_checked(merged, user, defaults, str(user_path), "")
        sources.append(str(user_path))
        if "mailboxes" in user:
            mailbox_origin = str(user_path)
    _apply_env(merged, defaults, env)
    return _build(merged, tuple(sources), mailbox_origin)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(path, "(file)", "file not found")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "(syntax)", str(exc))


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _merge_checked(
    target: dict[str, Any],
    user: Mapping[str, Any],
    schema: Mapping[str, Any],
    origin: str,
    prefix: str,
) -> None:
    """Merge user values into target, refusing keys and types that the schema does not have."""
    for key, value in user.items():
        dotted = f"{prefix}{key}"
        if key == "mailboxes" and not prefix:
            target[key] = _check_mailboxes(value, schema, origin)
            continue
        if prefix == "triage.categories.":
            # The desk's own taxonomy: any key (a new category), each with these optional fields.
            schema = {
                **schema,
                key: {"name": "", "name_ms": "", "description": "", "merge_into": ""},
            }
            target.setdefault(key, {})
        if key not in schema:
            raise ConfigError(
                origin, dotted, "unknown key (see config/defaults.toml for every key)"
            )
        expected = schema[key]
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                raise ConfigError(origin, dotted, "expected a table")
            _merge_checked(target[key], value, expected, origin, dotted + ".")
        else:
            target[key] = _check_type(value, expected, origin, dotted)


def _check_type(value: Any, expected: Any, origin: str, key: str) -> Any:
    if isinstance(expected, bool):
        ok = isinstance(value, bool)
    elif isinstance(expected, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(expected, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, type(expected))
    if not ok:
        raise ConfigError(origin, key, f"expected {type(expected).__name__}, got {value!r}")
    return value


def _check_mailboxes(value: Any, schema: Mapping[str, Any], origin: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ConfigError(origin, "mailboxes", "expected one or more [[mailboxes]] tables")
    allowed = dict(schema["mailbox_defaults"], name="", url="")
    entries = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ConfigError(origin, f"mailboxes[{i}]", "expected a table")
        for key in ("name", "url"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise ConfigError(origin, f"mailboxes[{i}].{key}", "required")
        checked: dict[str, Any] = {}
        _merge_checked(checked, entry, allowed, origin, f"mailboxes[{i}].")
        entries.append(checked)
    return entries


def _apply_env(merged: dict[str, Any], defaults: Mapping[str, Any], env: Mapping[str, str]) -> None:
    for name, text in env.items():
        if not name.startswith(ENV_PREFIX) or name == "TIKET_CONFIG" or "__" not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        origin = f"environment variable {name}"
        if parts[0] == "mailboxes" and len(parts) == 3:
            _apply_mailbox_env(merged, defaults, parts[1], parts[2], text, origin)
            continue
        section: Any = merged
        schema: Any = defaults
        for part in parts[:-1]:
            if (
                not isinstance(schema, dict)
                or part not in schema
                or not isinstance(schema[part], dict)
            ):
                raise ConfigError(origin, ".".join(parts), "unknown section")
            section, schema = section[part], schema[part]
        key = parts[-1]
        if key not in schema or isinstance(schema[key], dict) and not parts[:-1]:
            raise ConfigError(origin, ".".join(parts), "unknown key")
        section[key] = _parse_env_value(text, schema[key], origin, ".".join(parts))


def _apply_mailbox_env(
    merged: dict[str, Any],
    defaults: Mapping[str, Any],
    mailbox: str,
    key: str,
    text: str,
    origin: str,
) -> None:
    allowed = dict(defaults["mailbox_defaults"], url="")
    if key not in allowed:
        raise ConfigError(origin, f"mailboxes.{mailbox}.{key}", "unknown key")
    for entry in merged["mailboxes"]:
        if entry["name"].lower() == mailbox:
            entry[key] = _parse_env_value(text, allowed[key], origin, f"mailboxes.{mailbox}.{key}")
            return
    raise ConfigError(origin, f"mailboxes.{mailbox}", "no mailbox with that name")


def _parse_env_value(text: str, expected: Any, origin: str, key: str) -> Any:
    if isinstance(expected, str):
        return text
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        raise ConfigError(origin, key, f"cannot read {text!r} as {type(expected).__name__}")
    return _check_type(value, expected, origin, key)


def _expand(value: Any, data_dir: str) -> Any:
    if isinstance(value, str):
        return value.replace("{data_dir}", data_dir)
    if isinstance(value, dict):
        return {k: _expand(v, data_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, data_dir) for v in value]
    return value


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _build(merged: dict[str, Any], sources: tuple[str, ...], mailbox_origin: str) -> Settings:
    data_dir = merged["desk"]["data_dir"]
    merged = _expand(merged, data_dir)
    last = sources[-1]
    sla = merged["sla"]
    for table in ("first_response_hours", "resolution_hours"):
        missing = [p for p in PRIORITIES if p not in sla[table]]
        if missing:
            raise ConfigError(last, f"sla.{table}", f"missing priorities {missing}")
    if sla["default_priority"] not in PRIORITIES:
        raise ConfigError(last, "sla.default_priority", f"must be one of {PRIORITIES}")
    for key, choices in (("tls", ("starttls", "none")),):
        if merged["outbox"][key] not in choices:
            raise ConfigError(last, f"outbox.{key}", f"must be one of {choices}")
    mailboxes = tuple(
        _build_mailbox(dict(merged["mailbox_defaults"], **entry), mailbox_origin)
        for entry in merged["mailboxes"]
    )
    names = [m.name for m in mailboxes]
    if len(set(names)) != len(names):
        raise ConfigError(mailbox_origin, "mailboxes.name", f"names must be unique: {names}")
    parse_outbox_url(merged["outbox"]["url"], last)
    _check_security(merged, last)
    return Settings(
        sources=sources,
        data_dir=Path(data_dir),
        desk=_section(DeskSettings, merged["desk"]),
        database=_section(DatabaseSettings, merged["database"]),
        outbox=_section(OutboxSettings, merged["outbox"]),
        intake=_section(IntakeSettings, merged["intake"]),
        sla=_build_sla(sla, last),
        tiers=MappingProxyType(
            {
                key: TierSettings(
                    key=key,
                    name=t["name"],
                    group=t["group"].lower(),
                    members=tuple(a.lower() for a in t["members"]),
                    mail_commands=tuple(c.lower() for c in t["mail_commands"]),
                )
                for key, t in merged["tiers"].items()
            }
        ),
        security_contact=merged["security"]["contact"],
        mailboxes=mailboxes,
        raw=_freeze(merged),
    )


AGENT_MAIL_AUTH = ("token+dmarc", "token")


def _check_security(merged: Mapping[str, Any], origin: str) -> None:
    """Agent mail modes and commands, and no password inside a URL (it would be printed)."""
    mode = merged["security"]["agent_mail_auth"]
    if mode not in AGENT_MAIL_AUTH:
        raise ConfigError(origin, "security.agent_mail_auth", f"must be one of {AGENT_MAIL_AUTH}")
    for key, tier in merged["tiers"].items():
        unknown = [c for c in tier["mail_commands"] if str(c).lower() not in MAIL_COMMANDS]
        if unknown:
            raise ConfigError(
                origin, f"tiers.{key}.mail_commands", f"{unknown} not in {MAIL_COMMANDS}"
            )
    if urlsplit(merged["database"]["url"]).password is not None:
        raise ConfigError(
            origin, "database.url", "no password in URLs: use password_env or password_file"
        )


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _build_sla(sla: Mapping[str, Any], origin: str) -> SlaSettings:
    for key in ("business_start", "business_end"):
        try:
            time.fromisoformat(sla[key])
        except ValueError:
            raise ConfigError(origin, f"sla.{key}", f"expected HH:MM, got {sla[key]!r}")
    for day in sla["business_days"]:
        if day not in DAYS:
            raise ConfigError(origin, "sla.business_days", f"{day!r} is not one of {DAYS}")
    for holiday in sla["holidays"]:
        try:
            date.fromisoformat(holiday)
        except (TypeError, ValueError):
            raise ConfigError(origin, "sla.holidays", f"expected YYYY-MM-DD, got {holiday!r}")
    values = {k: v for k, v in sla.items()}
    values["first_response_hours"] = MappingProxyType(dict(sla["first_response_hours"]))
    values["resolution_hours"] = MappingProxyType(dict(sla["resolution_hours"]))
    values["escalate_on_missed_first_response"] = MappingProxyType(
        {p: bool(v) for p, v in sla["escalate_on_missed_first_response"].items()}
    )
    for key in ("business_days", "holidays", "always_on"):
        values[key] = tuple(sla[key])
    return SlaSettings(**values)


def _section(cls: Any, values: Mapping[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def _build_mailbox(entry: dict[str, Any], origin: str) -> Mailbox:
    key = f"mailboxes.{entry['name']}"
    parts = urlsplit(entry["url"])
    scheme = parts.scheme
    for field, choices in (("tls", ("starttls", "none")), ("auth", ("password", "xoauth2"))):
        if entry[field] not in choices:
            raise ConfigError(origin, f"{key}.{field}", f"must be one of {choices}")
    common = {
        k: entry[k]
        for k in (
            "name",
            "url",
            "processed_folder",
            "quarantine_folder",
            "tls",
            "ca_file",
            "auth",
            "password_env",
            "password_file",
            "token_file",
            "token_command",
            "seed_sample",
        )
    }
    if scheme == "maildir":
        raw_path = unquote(parts.netloc + parts.path) if parts.netloc else unquote(parts.path)
        if not raw_path:
            raise ConfigError(origin, f"{key}.url", "maildir URL needs a path")
        return Mailbox(
            scheme=scheme,
            host="",
            port=0,
            user="",
            folder="",
            path=Path(raw_path),
            origin=origin,
            **common,
        )
    if scheme not in ("imap", "imaps"):
        raise ConfigError(
            origin, f"{key}.url", f"unsupported scheme {scheme!r} (imap, imaps, maildir)"
        )
    if not parts.hostname or not parts.username:
        raise ConfigError(
            origin, f"{key}.url", "needs user@host, e.g. imaps://desk@mail.example.org/INBOX"
        )
    if parts.password:
        raise ConfigError(
            origin, f"{key}.url", "no password in URLs: use password_env or password_file"
        )
    try:
        port = parts.port or (993 if scheme == "imaps" else 143)
    except ValueError:
        raise ConfigError(origin, f"{key}.url", "invalid port")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return Mailbox(
        scheme=scheme,
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        folder=folder,
        path=None,
        origin=origin,
        **common,
    )


def parse_outbox_url(url: str, origin: str) -> tuple[str, str, int, Path | None]:
    """(scheme, host, port, path) of an outbox URL; raises ConfigError for anything else."""
    parts = urlsplit(url)
    if parts.password is not None:
        raise ConfigError(
            origin, "outbox.url", "no password in URLs: use password_env or password_file"
        )
    if parts.scheme == "file":
        path = unquote(parts.netloc + parts.path) if parts.netloc else unquote(parts.path)
        return "file", "", 0, Path(path)
    if parts.scheme in ("smtp", "smtps") and parts.hostname:
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 587)
        except ValueError:
            raise ConfigError(origin, "outbox.url", "invalid port")
        return parts.scheme, parts.hostname, port, None
    raise ConfigError(
        origin, "outbox.url", f"expected smtp://, smtps:// or file:// URL, got {url!r}"
    )
