"""Settings: files, then COUNSEL_CONFIG, then COUNSEL_* variables; production refuses unsafe values."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine

from counsel import create_app
from counsel.clock import today
from counsel.crypto import KeyRingError
from counsel.models.safety import Consent
from counsel.settings import CONFIG_DIR, PROJECT_ROOT, SettingsError, check_server, load

STRONG = "k" * 48


def test_environment_overrides_files(tmp_path):
    extra = tmp_path / "site.toml"
    extra.write_text('session_idle_minutes = 20\nreport_min_cell = 7\n')
    settings = load(environ={"COUNSEL_ENV": "test", "COUNSEL_CONFIG": str(extra), "COUNSEL_REPORT_MIN_CELL": "9",
                             "COUNSEL_REQUIRE_TOTP": "true"})
    assert settings.session_idle_minutes == 20  # from the file
    assert settings.report_min_cell == 9  # the variable wins over the file
    assert settings.require_totp is True
    assert settings.argon2_time_cost == 1  # from config/test.toml


def test_bad_values_are_explained():
    with pytest.raises(SettingsError, match="COUNSEL_SESSION_IDLE_MINUTES must be a whole number"):
        load(environ={"COUNSEL_ENV": "test", "COUNSEL_SESSION_IDLE_MINUTES": "soon"})
    with pytest.raises(SettingsError, match="true or false"):
        load(environ={"COUNSEL_ENV": "test", "COUNSEL_REQUIRE_TOTP": "maybe"})
    with pytest.raises(SettingsError, match="at least 3"):
        load(environ={"COUNSEL_ENV": "test", "COUNSEL_REPORT_MIN_CELL": "2"})


def test_production_refuses_to_start_without_a_secret():
    with pytest.raises(SettingsError, match="COUNSEL_SECRET_KEY is not set"):
        load(environ={"COUNSEL_ENV": "production"})


def test_production_refuses_a_development_secret():
    with pytest.raises(SettingsError, match="development secret"):
        load(environ={"COUNSEL_ENV": "production",
                      "COUNSEL_SECRET_KEY": "insecure-development-secret-do-not-use-in-production"})


def test_production_refuses_cookies_without_https():
    with pytest.raises(SettingsError, match="HTTPS"):
        load(environ={"COUNSEL_ENV": "production", "COUNSEL_SECRET_KEY": STRONG,
                      "COUNSEL_SESSION_COOKIE_SECURE": "false"})


def production(**environ: str) -> dict[str, str]:
    return {"COUNSEL_ENV": "production", "COUNSEL_SECRET_KEY": STRONG, "COUNSEL_TRUSTED_PROXIES": "1",
            "COUNSEL_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0", **environ}


def test_a_production_server_behind_a_proxy_it_does_not_trust_is_refused():
    settings = load(environ=production(COUNSEL_TRUSTED_PROXIES="0"))
    with pytest.raises(SettingsError, match="COUNSEL_TRUSTED_PROXIES=1"):
        check_server(settings, workers=1, serves_tls=False)
    check_server(settings, workers=1, serves_tls=True)  # gunicorn itself serves HTTPS: no proxy to trust
    check_server(load(environ=production()), workers=1, serves_tls=False)


def test_a_production_server_with_rate_limits_per_worker_is_refused():
    settings = load(environ=production(COUNSEL_RATELIMIT_STORAGE_URI="memory://"))
    with pytest.raises(SettingsError, match="COUNSEL_RATELIMIT_STORAGE_URI=redis://"):
        check_server(settings, workers=2, serves_tls=False)
    check_server(settings, workers=1, serves_tls=False)  # one process counts everything
    check_server(load(environ=production()), workers=5, serves_tls=False)


def test_server_checks_leave_development_alone():
    check_server(load(environ={"COUNSEL_ENV": "development"}), workers=4, serves_tls=False)


def test_gunicorn_with_the_shipped_config_refuses_to_start_and_says_what_to_change(tmp_path: Path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("COUNSEL_")}
    env.update(production(COUNSEL_RATELIMIT_STORAGE_URI="memory://", COUNSEL_TRUSTED_PROXIES="0",
                          COUNSEL_WORKERS="3", COUNSEL_BIND="127.0.0.1:0", COUNSEL_INSTANCE_PATH=str(tmp_path)))
    gunicorn = Path(sys.executable).parent / "gunicorn"
    done = subprocess.run([str(gunicorn), "-c", str(CONFIG_DIR / "gunicorn.conf.py"), "counsel.wsgi:app"],  # noqa: S603
                          env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "counsel cannot start" in done.stderr
    assert "COUNSEL_TRUSTED_PROXIES=1" in done.stderr and "each of the 3 workers" in done.stderr
    assert "Booting worker" not in done.stderr  # refused before any worker loaded the app


def test_production_refuses_to_start_without_a_key(tmp_path):
    settings = load(environ={"COUNSEL_ENV": "production", "COUNSEL_SECRET_KEY": STRONG,
                             "COUNSEL_INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(KeyRingError, match="counsel keys init"):
        create_app(settings)


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    from counsel.crypto import KeyRing

    key_file = tmp_path / "keys.json"
    KeyRing.create_file(key_file)
    key_file.chmod(0o644)
    settings = load(environ={"COUNSEL_ENV": "production", "COUNSEL_SECRET_KEY": STRONG,
                             "COUNSEL_INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(KeyRingError, match="chmod"):
        create_app(settings)


def test_unknown_settings_are_refused(tmp_path):
    extra = tmp_path / "typo.toml"
    extra.write_text("sesion_idle_minutes = 5\n")
    with pytest.raises(SettingsError, match="sesion_idle_minutes"):
        load(environ={"COUNSEL_ENV": "test", "COUNSEL_CONFIG": str(extra)})


def test_rounding_and_time_zone_are_checked():
    with pytest.raises(SettingsError, match="funder_rounding"):
        load(environ={"COUNSEL_ENV": "test", "COUNSEL_FUNDER_ROUNDING": "-5"})
    with pytest.raises(SettingsError, match="Europe/Dortmund"):
        load(environ={"COUNSEL_ENV": "test", "COUNSEL_TIMEZONE": "Europe/Dortmund"})


LATE_EVENING_UTC = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # half past midnight on 11 March in Dortmund


def test_the_day_turns_at_midnight_in_the_service_time_zone(app):
    """A consent that ran until 10 March allows nothing at 00:30 on the 11th, local time."""
    consent = Consent(purpose="statistics", given_on=date(2026, 3, 1), expires_on=date(2026, 3, 10))
    with time_machine.travel(LATE_EVENING_UTC, tick=False):
        assert today() == date(2026, 3, 11)
        assert not consent.valid_on(today())


@pytest.mark.settings(timezone="UTC")
def test_the_time_zone_is_a_setting(app):
    with time_machine.travel(LATE_EVENING_UTC, tick=False):
        assert today() == date(2026, 3, 10)
