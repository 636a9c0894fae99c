"""Typed settings: config/default.toml, then config/<env>.toml, then COUNSEL_CONFIG, then COUNSEL_* env.

Settings are read once, frozen, and checked: production refuses to start with a development
secret or without HTTPS-only cookies, and the error says what to change.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
ENV_PREFIX = "COUNSEL_"
DEVELOPMENT_SECRET_MARK = "insecure-development-secret"  # noqa: S105 - a marker to refuse, not a secret
ENVIRONMENTS = ("production", "development", "test")
UI_LOCALES = ("de", "en")  # the interface languages: each needs a text of the confidentiality pledge
# The confidentiality pledge counsel ships, one <locale>.txt per interface language, and its version:
# change the version with the texts, and every adviser accepts them again.
SHIPPED_PLEDGE_DIR = Path(__file__).resolve().parent / "pledge"
SHIPPED_PLEDGE_VERSION = "2026-12"
PLEDGE_VERSION_MAX = 64  # the column pledge_acceptances.version


class SettingsError(Exception):
    """A setting is missing or unsafe; the message tells the operator what to do."""


@dataclass(frozen=True)
class Settings:
    env: str = "production"
    secret_key: str = ""
    database_url: str = ""
    instance_path: str = ""
    key_file: str = ""
    master_keys: str = ""
    key_store_url: str = ""
    retention_months: int = 36
    controller: str = ""
    dpo_contact: str = ""
    default_locale: str = "de"
    timezone: str = "Europe/Berlin"
    pledge_dir: str = ""
    pledge_version: str = ""
    require_totp: bool = True
    password_min_length: int = 12
    password_max_length: int = 256
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    login_lockout_threshold: int = 5
    login_lockout_minutes: int = 15
    ratelimit_storage_uri: str = "memory://"
    ratelimit_login_per_address: str = "30 per minute;300 per day"
    ratelimit_login_per_account: str = "10 per minute"
    name_search_per_hour: int = 60
    session_idle_minutes: int = 15
    session_absolute_hours: int = 8
    reauth_minutes: int = 5
    session_cookie_secure: bool = True
    blind_index_bits: int = 16
    audit_checkpoint_file: str = ""
    report_min_cell: int = 5
    funder_min_cell: int = 10
    funder_rounding: int = 5
    log_level: str = "INFO"
    trusted_proxies: int = 0
    templates_path: str = field(default=str(PROJECT_ROOT / "templates"))

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def instance_dir(self) -> Path:
        return Path(self.instance_path) if self.instance_path else PROJECT_ROOT / "instance"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.instance_dir / 'counsel.sqlite3'}"

    @property
    def key_path(self) -> Path:
        return Path(self.key_file) if self.key_file else self.instance_dir / "keys.json"

    @property
    def key_store_sqlalchemy_url(self) -> str:
        """Where the case secrets live: the URL set, else an SQLite file beside the database's default."""
        if self.key_store_url:
            return self.key_store_url
        return f"sqlite:///{self.instance_dir / 'keystore.sqlite3'}"

    @property
    def pledge_path(self) -> Path:
        """The folder of the confidentiality pledge's texts: the installation's own, else counsel's."""
        return Path(self.pledge_dir) if self.pledge_dir else SHIPPED_PLEDGE_DIR

    @property
    def pledge_in_force(self) -> str:
        """The version of the pledge that advisers accept: the installation's, else the shipped texts'."""
        return self.pledge_version or SHIPPED_PLEDGE_VERSION

    @property
    def checkpoint_path(self) -> Path:
        if self.audit_checkpoint_file:
            return Path(self.audit_checkpoint_file)
        return self.instance_dir / "audit-checkpoints.log"

    def replace(self, **changes: Any) -> Settings:
        """Return a checked copy with some values changed (tests and tools)."""
        return check(dataclasses.replace(self, **changes))


def load(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from files and environment, later sources winning."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    values.update(_read_toml(CONFIG_DIR / "default.toml"))
    env = (overrides or {}).get("env") or environ.get(ENV_PREFIX + "ENV") or values.get("env")
    if env not in ENVIRONMENTS:
        raise SettingsError(f"COUNSEL_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}.")
    env_file = CONFIG_DIR / f"{env}.toml"
    if env_file.exists():
        values.update(_read_toml(env_file))
    if extra := environ.get(ENV_PREFIX + "CONFIG"):
        values.update(_read_toml(Path(extra)))
    values.update(_from_environ(environ))
    values.update(overrides or {})
    values["env"] = env
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(f"Unknown setting(s): {', '.join(unknown)}.")
    return check(Settings(**values))


def check(settings: Settings) -> Settings:
    """Refuse settings that would run production insecurely, saying why."""
    problems: list[str] = []
    if settings.is_production:
        if not settings.secret_key:
            problems.append(
                "COUNSEL_SECRET_KEY is not set. Generate one with "
                "`python -c 'import secrets; print(secrets.token_hex(32))'` and keep it secret."
            )
        elif DEVELOPMENT_SECRET_MARK in settings.secret_key or len(settings.secret_key) < 32:
            problems.append(
                "COUNSEL_SECRET_KEY is a development secret or shorter than 32 characters; "
                "set a random secret for production."
            )
        if not settings.session_cookie_secure:
            problems.append(
                "session_cookie_secure is false: production cookies must be HTTPS-only. "
                "Serve counsel behind TLS and remove the override."
            )
    elif not settings.secret_key:
        problems.append("secret_key is empty; set COUNSEL_SECRET_KEY.")
    if settings.password_min_length < 12:
        problems.append("password_min_length must be at least 12.")
    if settings.password_max_length < 128:
        problems.append("password_max_length must be at least 128.")
    if settings.report_min_cell < 3:
        problems.append("report_min_cell must be at least 3.")
    if settings.funder_min_cell < settings.report_min_cell:
        problems.append("funder_min_cell must be at least report_min_cell.")
    if settings.funder_rounding < 0:
        problems.append("funder_rounding must be 0 or 1 (no rounding) or a rounding base such as 5.")
    if settings.timezone not in zoneinfo.available_timezones():
        problems.append(f"timezone {settings.timezone!r} is not a time zone name such as Europe/Berlin.")
    if settings.retention_months < 0:
        problems.append("retention_months must be 0 (erase once closed) or more.")
    if not 8 <= settings.blind_index_bits <= 32:
        problems.append("blind_index_bits must be between 8 and 32.")
    if settings.name_search_per_hour < 1:
        problems.append("name_search_per_hour must be at least 1.")
    problems.extend(_pledge_problems(settings))
    _refuse(problems)
    return settings


def _pledge_problems(settings: Settings) -> list[str]:
    """A pledge text for every interface language, and a version of its own for the installation's texts."""
    problems: list[str] = []
    if settings.pledge_dir and not settings.pledge_version:
        problems.append(f"pledge_dir names texts of your own ({settings.pledge_dir}): set pledge_version too "
                        "(COUNSEL_PLEDGE_VERSION, e.g. 2027-01), and change it whenever the texts change.")
    version = settings.pledge_in_force
    if len(version) > PLEDGE_VERSION_MAX or not version.isprintable() or version != version.strip():
        problems.append(f"pledge_version must be at most {PLEDGE_VERSION_MAX} printable characters, "
                        "without spaces at either end.")
    for locale in UI_LOCALES:
        path = settings.pledge_path / f"{locale}.txt"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"The confidentiality pledge in {locale} cannot be read from {path} ({exc}): every "
                            f"interface language ({', '.join(UI_LOCALES)}) needs <language>.txt in pledge_dir, UTF-8.")
            continue
        if not text.strip():
            problems.append(f"The confidentiality pledge in {path} is empty.")
    return problems


def check_server(settings: Settings, workers: int, serves_tls: bool) -> None:
    """Refuse a production server whose shape would undo the settings (called by gunicorn on start).

    Behind a TLS proxy that counsel does not trust, every request looks like plain HTTP from the
    proxy's address: one throttle for everybody and the HTTPS checks of forms never run. Rate
    limits kept in memory are counted per worker process, so five workers allow five times the
    attempts, and lock-out by throttle no longer holds.
    """
    if not settings.is_production:
        return
    problems: list[str] = []
    if settings.trusted_proxies < 1 and not serves_tls:
        problems.append(
            "COUNSEL_TRUSTED_PROXIES is 0 but gunicorn serves plain HTTP, so HTTPS comes from a reverse "
            "proxy that counsel does not trust. Set COUNSEL_TRUSTED_PROXIES=1 (nginx on this host)."
        )
    if settings.ratelimit_storage_uri.startswith("memory://") and workers > 1:
        problems.append(
            f"Rate limits are kept in memory, so each of the {workers} workers would count on its own. "
            "Set COUNSEL_RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 (or COUNSEL_WORKERS=1)."
        )
    _refuse(problems)


def _refuse(problems: list[str]) -> None:
    """Stop the start, naming every problem and what to change."""
    if problems:
        raise SettingsError("counsel cannot start:\n- " + "\n- ".join(problems))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise SettingsError(f"Settings file {path} does not exist.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"Settings file {path} is not valid TOML: {exc}") from exc


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    types = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or key in (ENV_PREFIX + "ENV", ENV_PREFIX + "CONFIG"):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in types:
            continue
        values[name] = _convert(name, raw, types[name])
    return values


def _convert(name: str, raw: str, kind: Any) -> Any:
    if kind in (bool, "bool"):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"COUNSEL_{name.upper()} must be true or false, not {raw!r}.")
    if kind in (int, "int"):
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingsError(f"COUNSEL_{name.upper()} must be a whole number, not {raw!r}.") from exc
    return raw
